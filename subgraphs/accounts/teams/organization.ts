import { refusal } from '../../common/errors';
import { keysetConnection } from '../../common/pagination';
import { builder } from '../builder';
import { atLeast, viewerOrganizationIds, viewerRole } from './access';
import {
  InvitationType,
  MemberRoleType,
  MembershipConnection,
  MembershipType,
  OrganizationType,
} from './refs';

OrganizationType.implement({
  description: 'A team: the owner of projects, domains and billing, with members in roles.',
  // Only members see an organization, whatever the path that reached it (a root field, a
  // nested field, `_entities`, a mutation's payload). Each path checks before returning one;
  // this is the net under them.
  authScopes: (organization, ctx) => viewerRole(ctx, organization.id) !== null,
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
      resolve: (organization, _, ctx) => viewerRole(ctx, organization.id),
    }),
    members: t.connection(
      {
        type: MembershipType,
        // Nullable: a BILLING member sees the organization, but its members are refused.
        nullable: true,
        description:
          'Who belongs to the organization and in which role, oldest account first (VIEWER or higher).',
        resolve: (organization, args, ctx) => {
          if (!atLeast(viewerRole(ctx, organization.id), 'VIEWER')) {
            throw refusal(
              ctx.caller,
              'Seeing the members takes the VIEWER role or higher in this organization.',
            );
          }
          return keysetConnection(args, (page) => ctx.teams.membersPage(organization.id, page));
        },
      },
      MembershipConnection,
    ),
    invitations: t.connection(
      {
        type: InvitationType,
        nullable: true,
        description:
          'Invitations waiting for an answer (not accepted, revoked or expired), oldest first (ADMIN or higher).',
        resolve: (organization, args, ctx) => {
          if (!atLeast(viewerRole(ctx, organization.id), 'ADMIN')) {
            throw refusal(
              ctx.caller,
              'Seeing the invitations takes the ADMIN role or higher in this organization.',
            );
          }
          return keysetConnection(args, (page) => ctx.teams.pendingInvitationsPage(organization.id, page));
        },
      },
      { name: 'InvitationConnection', description: 'A page of invitations.' },
      { name: 'InvitationEdge', description: 'An invitation in a page of invitations.' },
    ),
  }),
});

builder.asEntity(OrganizationType, {
  key: builder.selection<{ id: string }>('id'),
  // Other subgraphs name organizations by ID (`Project.organization`): a non-member gets null,
  // the same answer as for an organization that does not exist.
  resolveReference: (ref, ctx) =>
    viewerRole(ctx, ref.id) === null ? null : ctx.loaders.organization.load(ref.id),
});

builder.queryFields((t) => ({
  organization: t.field({
    type: OrganizationType,
    nullable: true,
    description: 'The organization with this slug, or null if there is none or you are not a member of it.',
    args: { slug: t.arg.string({ required: true, description: 'The organization’s slug.' }) },
    resolve: async (_, { slug }, ctx) => {
      if (ctx.caller.kind === 'anonymous') return null;
      const organization = await ctx.teams.organizationBySlug(slug.trim().toLowerCase());
      return organization && viewerRole(ctx, organization.id) !== null ? organization : null;
    },
  }),
  viewerOrganizations: t.connection(
    {
      type: OrganizationType,
      nullable: true,
      authScopes: { authenticated: true },
      description: 'The organizations you belong to, oldest first.',
      resolve: (_, args, ctx) =>
        keysetConnection(args, (page) => ctx.teams.organizationsAmong(viewerOrganizationIds(ctx), page)),
    },
    { name: 'OrganizationConnection', description: 'A page of organizations.' },
    { name: 'OrganizationEdge', description: 'An organization in a page of organizations.' },
  ),
}));
