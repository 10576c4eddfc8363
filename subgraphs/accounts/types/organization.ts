import { builder } from '../builder';
import { MemberRoleType } from './member-role';
import { InvitationType, MembershipConnection, MembershipType, OrganizationType } from './refs';

OrganizationType.implement({
  description: 'A team: the owner of projects, domains and billing, with members in roles.',
  // Only members see an organization, whatever the path that reached it (a root field, a
  // nested field, `_entities`, a mutation's payload). Each path checks before returning one;
  // this is the net under them.
  authScopes: (organization, ctx) => ctx.services.organizations.canSee(ctx, organization.id),
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Opaque, stable identifier (`org_…`).' }),
    slug: t.exposeString('slug', {
      description: 'Unique, URL-safe handle (`acme`), used in URLs and the CLI.',
    }),
    name: t.exposeString('name', { description: 'Display name.' }),
    personal: t.exposeBoolean('personal', {
      description:
        'Whether this is the personal organization every user gets at sign-up: it has one member, its owner, and cannot be left or deleted.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the organization was created.' }),
    viewerRole: t.field({
      type: MemberRoleType,
      nullable: true,
      description: 'Your role in the organization; null if you are not a member.',
      resolve: (organization, _, ctx) => ctx.services.organizations.viewerRole(ctx, organization.id),
    }),
    members: t.connection(
      {
        type: MembershipType,
        // Nullable: a BILLING member sees the organization, but its members are refused.
        nullable: true,
        description:
          'Who belongs to the organization and in which role, oldest account first (VIEWER or higher).',
        resolve: (organization, args, ctx) => ctx.services.members.ofOrganization(ctx, organization.id, args),
      },
      MembershipConnection,
    ),
    invitations: t.connection(
      {
        type: InvitationType,
        nullable: true,
        description:
          'Invitations waiting for an answer (not accepted, revoked or expired), oldest first (ADMIN or higher).',
        resolve: (organization, args, ctx) => ctx.services.invitations.pendingOf(ctx, organization.id, args),
      },
      { name: 'InvitationConnection', description: 'A page of invitations.' },
      { name: 'InvitationEdge', description: 'An invitation in a page of invitations.' },
    ),
  }),
});

builder.asEntity(OrganizationType, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (ref, ctx) => ctx.services.organizations.visible(ctx, ref.id),
});

builder.queryFields((t) => ({
  organization: t.field({
    type: OrganizationType,
    nullable: true,
    description: 'The organization with this slug, or null if there is none or you are not a member of it.',
    args: { slug: t.arg.string({ required: true, description: 'The organization’s slug.' }) },
    resolve: (_, { slug }, ctx) => ctx.services.organizations.bySlug(ctx, slug),
  }),
  viewerOrganizations: t.connection(
    {
      type: OrganizationType,
      nullable: true,
      authScopes: { authenticated: true },
      description: 'The organizations you belong to, oldest first.',
      resolve: (_, args, ctx) => ctx.services.organizations.ofViewer(ctx, args),
    },
    { name: 'OrganizationConnection', description: 'A page of organizations.' },
    { name: 'OrganizationEdge', description: 'An organization in a page of organizations.' },
  ),
}));
