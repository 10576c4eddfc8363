import { builder } from '../builder';
import { MemberRoleType } from './member-role';
import { MembershipConnection, MembershipType, OrganizationType } from './refs';
import { UserType } from './user';

MembershipType.implement({
  description: 'A user’s place in an organization: the role they hold there.',
  authScopes: (membership, ctx) => ctx.services.members.canSee(ctx, membership),
  fields: (t) => ({
    organization: t.field({
      type: OrganizationType,
      description: 'The organization.',
      resolve: (membership, _, ctx) => ctx.services.organizations.existing(ctx, membership.organizationId),
    }),
    user: t.field({
      type: UserType,
      description: 'The member.',
      resolve: (membership, _, ctx) => ctx.services.users.existing(ctx, membership.userId),
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
      resolve: (user, args, ctx) => ctx.services.members.ofUser(ctx, user.id, args),
    },
    MembershipConnection,
  ),
}));
