import { invitationStatus } from '../services/invitations';
import { InvitationStatusType } from './invitation-status';
import { MemberRoleType } from './member-role';
import { InvitationType, OrganizationType } from './refs';
import { UserType } from './user';

InvitationType.implement({
  description: 'An emailed offer to join an organization in a role: its link works once, for 7 days.',
  authScopes: (invitation, ctx) => ctx.services.invitations.canSee(ctx, invitation),
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Opaque, stable identifier (`inv_…`).' }),
    email: t.exposeString('email', { description: 'The address invited (lowercase).' }),
    role: t.field({
      type: MemberRoleType,
      description: 'The role the invitee gets on accepting.',
      resolve: (invitation) => invitation.role,
    }),
    status: t.field({
      type: InvitationStatusType,
      description: 'Where the invitation stands.',
      resolve: invitationStatus,
    }),
    organization: t.field({
      type: OrganizationType,
      description: 'The organization the invitation is to.',
      resolve: (invitation, _, ctx) => ctx.services.organizations.existing(ctx, invitation.organizationId),
    }),
    invitedBy: t.field({
      type: UserType,
      nullable: true,
      description: 'Who sent the invitation; null if their account is gone.',
      resolve: (invitation, _, ctx) => ctx.services.invitations.inviter(ctx, invitation),
    }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', description: 'When the link stops working.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the invitation was sent.' }),
  }),
});
