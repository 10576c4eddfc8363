import { builder } from '../builder';

interface CallerAccess {
  active: boolean;
  memberships: { organizationId: string; role: string }[];
}

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
    resolve: async (_, __, ctx) => {
      if (ctx.caller.kind === 'apiKey') {
        const { userId } = ctx.caller;
        const [user] = await ctx.storage.usersByIds([userId]);
        if (!user) return { active: false, memberships: [] };
        return { active: true, memberships: await ctx.storage.membershipsOfUser(userId) };
      }
      if (ctx.caller.kind !== 'user') return null;
      const { userId, sessionId } = ctx.caller;
      const [active, memberships] = await Promise.all([
        ctx.storage.sessionIsActive(userId, sessionId),
        ctx.storage.membershipsOfUser(userId),
      ]);
      return { active, memberships: active ? memberships : [] };
    },
  }),
}));
