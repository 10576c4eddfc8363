import { keysetConnection } from '../../common/pagination';
import { builder } from '../builder';
import { UserType } from '../types/user';
import { atLeast, viewerOrganizationIds, viewerRole } from './access';
import { MemberRoleType, MembershipConnection, MembershipType, OrganizationType } from './refs';

MembershipType.implement({
  description: 'A user’s place in an organization: the role they hold there.',
  // Seen by the member themself, and by those who may list the organization's members.
  authScopes: (membership, ctx) =>
    (ctx.caller.kind === 'user' && ctx.caller.userId === membership.userId) ||
    atLeast(viewerRole(ctx, membership.organizationId), 'VIEWER'),
  fields: (t) => ({
    organization: t.field({
      type: OrganizationType,
      description: 'The organization.',
      resolve: async (membership, _, ctx) => {
        const organization = await ctx.loaders.organization.load(membership.organizationId);
        if (!organization)
          throw new Error(`membership of a missing organization ${membership.organizationId}`);
        return organization;
      },
    }),
    user: t.field({
      type: UserType,
      description: 'The member.',
      resolve: async (membership, _, ctx) => {
        const user = await ctx.loaders.user.load(membership.userId);
        if (!user) throw new Error(`membership of a missing user ${membership.userId}`);
        return user;
      },
    }),
    role: t.field({
      type: MemberRoleType,
      description: 'What the member may do in the organization.',
      resolve: (membership) => membership.role,
    }),
    joinedAt: t.expose('createdAt', { type: 'DateTime', description: 'When the member joined.' }),
  }),
});

builder.objectFields(UserType, (t) => ({
  memberships: t.connection(
    {
      type: MembershipType,
      nullable: true,
      description:
        'The organizations the user belongs to and their role in each, oldest organization first. Only the user themself sees them: null for anyone else.',
      resolve: (user, args, ctx) => {
        if (ctx.caller.kind !== 'user' || ctx.caller.userId !== user.id) return null;
        // The organizations the gateway vouches for, as every read here: the database adds
        // when each was joined and drops one that is gone.
        return keysetConnection(args, (page) =>
          ctx.teams.membershipsOfUserPage(user.id, viewerOrganizationIds(ctx), page),
        );
      },
    },
    MembershipConnection,
  ),
}));
