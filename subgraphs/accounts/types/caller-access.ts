import { builder } from '../builder';
import type { CallerAccess } from '../services/access';

const RoleGrant = builder.objectRef<CallerAccess['memberships'][number]>('CallerRoleGrant').implement({
  description: 'One organization the caller belongs to, and the role held there.',
  inaccessible: true,
  fields: (t) => ({
    organizationId: t.exposeID('organizationId', { description: 'The organization.' }),
    role: t.exposeString('role', { description: 'OWNER, ADMIN, MEMBER, VIEWER or BILLING.' }),
  }),
});

const CallerAccessType = builder.objectRef<CallerAccess>('CallerAccess').implement({
  description: 'What the gateway needs to vouch for a signed-in caller.',
  inaccessible: true,
  fields: (t) => ({
    active: t.exposeBoolean('active', { description: 'Whether the session still stands.' }),
    memberships: t.expose('memberships', {
      type: [RoleGrant],
      description: 'The caller’s organizations and roles.',
    }),
  }),
});

builder.queryFields((t) => ({
  // Inaccessible: not part of the public API. The gateway asks it directly, with a credential
  // naming the user and session of an access token it has just verified.
  _callerAccess: t.field({
    type: CallerAccessType,
    inaccessible: true,
    nullable: true,
    description:
      'The session state and memberships of the caller (gateway only). For an API key: whether its creator still exists, and their memberships (the gateway caps the key by them).',
    resolve: (_, __, ctx) => ctx.services.access.callerAccess(ctx),
  }),
}));
