import type { InvitationRow } from '../../../db/accounts/schema';
import { builder } from '../builder';
import { UserType } from '../types/user';
import { atLeast, viewerRole } from './access';
import { InvitationType, MemberRoleType, OrganizationType } from './refs';

type InvitationStatus = 'PENDING' | 'ACCEPTED' | 'REVOKED' | 'EXPIRED';

const InvitationStatusType = builder.enumType('InvitationStatus', {
  description: 'Where an invitation stands.',
  values: {
    PENDING: { description: 'Sent, and can still be accepted.' },
    ACCEPTED: { description: 'Accepted: its token works no more.' },
    REVOKED: { description: 'Withdrawn by an admin, or replaced by a newer invitation to the same address.' },
    EXPIRED: { description: 'Not accepted within 7 days.' },
  } satisfies Record<InvitationStatus, { description: string }>,
});

function statusOf(invitation: InvitationRow): InvitationStatus {
  if (invitation.acceptedAt) return 'ACCEPTED';
  if (invitation.revokedAt) return 'REVOKED';
  return invitation.expiresAt.getTime() <= Date.now() ? 'EXPIRED' : 'PENDING';
}

InvitationType.implement({
  description: 'An emailed offer to join an organization in a role: its link works once, for 7 days.',
  // Only those who may manage invitations see them.
  authScopes: (invitation, ctx) => atLeast(viewerRole(ctx, invitation.organizationId), 'ADMIN'),
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
      resolve: statusOf,
    }),
    organization: t.field({
      type: OrganizationType,
      description: 'The organization the invitation is to.',
      resolve: async (invitation, _, ctx) => {
        const organization = await ctx.loaders.organization.load(invitation.organizationId);
        if (!organization)
          throw new Error(`invitation to a missing organization ${invitation.organizationId}`);
        return organization;
      },
    }),
    invitedBy: t.field({
      type: UserType,
      nullable: true,
      description: 'Who sent the invitation; null if their account is gone.',
      resolve: (invitation, _, ctx) =>
        invitation.invitedBy ? ctx.loaders.user.load(invitation.invitedBy) : null,
    }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', description: 'When the link stops working.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the invitation was sent.' }),
  }),
});
