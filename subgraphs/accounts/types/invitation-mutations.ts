import { builder } from '../builder';
import type { AcceptInvitationPayload, InvitationPayload } from '../services/invitations';
import { MemberRoleType } from './member-role';
import { payloadType } from './payloads';
import { InvitationType, MembershipType } from './refs';

// As every teams mutation (see ./organization-mutations.ts), these need a signed-in caller.

const invitationPayload = (name: string, mutation: string, what: string) =>
  payloadType<InvitationPayload>(name, `The result of \`${mutation}\`.`, {
    field: 'invitation',
    type: InvitationType,
    description: `The ${what} invitation, or null if the input was refused.`,
  });

const InviteMemberPayloadType = invitationPayload('InviteMemberPayload', 'inviteMember', 'new');
const RevokeInvitationPayloadType = invitationPayload(
  'RevokeInvitationPayload',
  'revokeInvitation',
  'revoked',
);

const AcceptInvitationPayloadType = payloadType<AcceptInvitationPayload>(
  'AcceptInvitationPayload',
  'The result of `acceptInvitation`.',
  {
    field: 'membership',
    type: MembershipType,
    description: 'The new membership, or null if the input was refused.',
  },
);

const InviteMemberInput = builder.inputType('InviteMemberInput', {
  description: 'Whom to invite, where, and in which role.',
  fields: (t) => ({
    organizationId: t.id({ required: true, description: 'The organization to invite to.' }),
    email: t.string({ required: true, description: 'The address to send the invitation to.' }),
    role: t.field({
      type: MemberRoleType,
      required: true,
      description: 'The role the invitee gets on accepting; at most your own.',
    }),
  }),
});

const RevokeInvitationInput = builder.inputType('RevokeInvitationInput', {
  description: 'The invitation to withdraw.',
  fields: (t) => ({
    invitationId: t.id({ required: true, description: 'The invitation, still pending.' }),
  }),
});

const AcceptInvitationInput = builder.inputType('AcceptInvitationInput', {
  description: 'The invitation to accept.',
  fields: (t) => ({
    token: t.string({ required: true, description: 'The token from the invitation email’s link.' }),
  }),
});

builder.mutationFields((t) => ({
  inviteMember: t.field({
    type: InviteMemberPayloadType,
    description:
      'Emails an invitation to join an organization (ADMIN or higher, for a role up to your own). The link works once, for 7 days; a new invitation to the same address replaces the pending one.',
    args: { input: t.arg({ type: InviteMemberInput, required: true, description: 'Whom to invite.' }) },
    resolve: (_, { input }, ctx) => ctx.services.invitations.invite(ctx, input),
  }),
  revokeInvitation: t.field({
    type: RevokeInvitationPayloadType,
    description: 'Withdraws a pending invitation (ADMIN or higher): its link stops working.',
    args: {
      input: t.arg({
        type: RevokeInvitationInput,
        required: true,
        description: 'The invitation to withdraw.',
      }),
    },
    resolve: (_, { input }, ctx) => ctx.services.invitations.revoke(ctx, input),
  }),
  acceptInvitation: t.field({
    type: AcceptInvitationPayloadType,
    description:
      'Joins an organization with the token of an invitation sent to your account’s email address.',
    args: {
      input: t.arg({ type: AcceptInvitationInput, required: true, description: 'The invitation to accept.' }),
    },
    resolve: (_, { input }, ctx) => ctx.services.invitations.accept(ctx, input),
  }),
}));
