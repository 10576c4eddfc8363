import { builder } from '../builder';
import { UserErrorType } from '../types/user-error';
import { InvitationType, MemberRoleType, MembershipType, OrganizationType } from './refs';
import {
  type AcceptInvitationPayload,
  acceptInvitation,
  type InvitationPayload,
  inviteMember,
  revokeInvitation,
} from './services/invitations';
import {
  changeMemberRole,
  type LeaveOrganizationPayload,
  leaveOrganization,
  type MembershipPayload,
  type RemoveMemberPayload,
  removeMember,
} from './services/members';
import {
  createOrganization,
  type DeleteOrganizationPayload,
  deleteOrganization,
  type OrganizationPayload,
  updateOrganization,
} from './services/organizations';

// Every mutation here needs a signed-in caller (UNAUTHENTICATED otherwise) and answers as
// described in ./access.ts: NOT_FOUND (userError) for an organization the caller is not in,
// FORBIDDEN (GraphQL error) above the caller's role, CONFLICT (userError) when the state forbids it.

const organizationPayload = (name: string, mutation: string, what: string) =>
  builder.objectRef<OrganizationPayload>(name).implement({
    description: `The result of \`${mutation}\`.`,
    fields: (t) => ({
      organization: t.expose('organization', {
        type: OrganizationType,
        nullable: true,
        description: `The ${what} organization, or null if the input was refused.`,
      }),
      userErrors: t.expose('userErrors', {
        type: [UserErrorType],
        description: 'Why the input was refused; empty on success.',
      }),
    }),
  });

const CreateOrganizationPayloadType = organizationPayload(
  'CreateOrganizationPayload',
  'createOrganization',
  'new',
);
const UpdateOrganizationPayloadType = organizationPayload(
  'UpdateOrganizationPayload',
  'updateOrganization',
  'changed',
);

const DeleteOrganizationPayloadType = builder
  .objectRef<DeleteOrganizationPayload>('DeleteOrganizationPayload')
  .implement({
    description: 'The result of `deleteOrganization`.',
    fields: (t) => ({
      deletedOrganizationId: t.exposeID('deletedOrganizationId', {
        nullable: true,
        description: 'The ID of the organization deleted, or null if the input was refused.',
      }),
      userErrors: t.expose('userErrors', {
        type: [UserErrorType],
        description: 'Why the input was refused; empty on success.',
      }),
    }),
  });

const invitationPayload = (name: string, mutation: string, what: string) =>
  builder.objectRef<InvitationPayload>(name).implement({
    description: `The result of \`${mutation}\`.`,
    fields: (t) => ({
      invitation: t.expose('invitation', {
        type: InvitationType,
        nullable: true,
        description: `The ${what} invitation, or null if the input was refused.`,
      }),
      userErrors: t.expose('userErrors', {
        type: [UserErrorType],
        description: 'Why the input was refused; empty on success.',
      }),
    }),
  });

const InviteMemberPayloadType = invitationPayload('InviteMemberPayload', 'inviteMember', 'new');
const RevokeInvitationPayloadType = invitationPayload(
  'RevokeInvitationPayload',
  'revokeInvitation',
  'revoked',
);

const membershipPayload = <T extends MembershipPayload | AcceptInvitationPayload>(
  name: string,
  mutation: string,
  what: string,
) =>
  builder.objectRef<T>(name).implement({
    description: `The result of \`${mutation}\`.`,
    fields: (t) => ({
      membership: t.field({
        type: MembershipType,
        nullable: true,
        description: `The ${what} membership, or null if the input was refused.`,
        resolve: (payload) => payload.membership,
      }),
      userErrors: t.field({
        type: [UserErrorType],
        description: 'Why the input was refused; empty on success.',
        resolve: (payload) => payload.userErrors,
      }),
    }),
  });

const AcceptInvitationPayloadType = membershipPayload<AcceptInvitationPayload>(
  'AcceptInvitationPayload',
  'acceptInvitation',
  'new',
);
const ChangeMemberRolePayloadType = membershipPayload<MembershipPayload>(
  'ChangeMemberRolePayload',
  'changeMemberRole',
  'changed',
);

const RemoveMemberPayloadType = builder.objectRef<RemoveMemberPayload>('RemoveMemberPayload').implement({
  description: 'The result of `removeMember`.',
  fields: (t) => ({
    removedUserId: t.exposeID('removedUserId', {
      nullable: true,
      description: 'The ID of the user removed, or null if the input was refused.',
    }),
    organization: t.expose('organization', {
      type: OrganizationType,
      nullable: true,
      description: 'The organization, as it is now; null if the input was refused or you removed yourself.',
    }),
    userErrors: t.expose('userErrors', {
      type: [UserErrorType],
      description: 'Why the input was refused; empty on success.',
    }),
  }),
});

const LeaveOrganizationPayloadType = builder
  .objectRef<LeaveOrganizationPayload>('LeaveOrganizationPayload')
  .implement({
    description: 'The result of `leaveOrganization`.',
    fields: (t) => ({
      leftOrganizationId: t.exposeID('leftOrganizationId', {
        nullable: true,
        description: 'The ID of the organization you left, or null if the input was refused.',
      }),
      userErrors: t.expose('userErrors', {
        type: [UserErrorType],
        description: 'Why the input was refused; empty on success.',
      }),
    }),
  });

const CreateOrganizationInput = builder.inputType('CreateOrganizationInput', {
  description: 'A new organization.',
  fields: (t) => ({
    name: t.string({ required: true, description: 'Display name, 1 to 100 characters.' }),
    slug: t.string({
      required: true,
      description: 'Unique handle: 3 to 39 lowercase letters, digits or hyphens.',
    }),
  }),
});

const UpdateOrganizationInput = builder.inputType('UpdateOrganizationInput', {
  description: 'What to change in an organization; fields left out stay as they are.',
  fields: (t) => ({
    organizationId: t.id({ required: true, description: 'The organization to change.' }),
    name: t.string({ description: 'New display name, 1 to 100 characters.' }),
    slug: t.string({ description: 'New unique handle: 3 to 39 lowercase letters, digits or hyphens.' }),
  }),
});

const DeleteOrganizationInput = builder.inputType('DeleteOrganizationInput', {
  description: 'The organization to delete.',
  fields: (t) => ({
    organizationId: t.id({
      required: true,
      description: 'The organization to delete, with everything in it.',
    }),
  }),
});

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

const ChangeMemberRoleInput = builder.inputType('ChangeMemberRoleInput', {
  description: 'A member and their new role.',
  fields: (t) => ({
    organizationId: t.id({ required: true, description: 'The organization.' }),
    userId: t.id({ required: true, description: 'The member whose role changes.' }),
    role: t.field({ type: MemberRoleType, required: true, description: 'The new role; at most your own.' }),
  }),
});

const RemoveMemberInput = builder.inputType('RemoveMemberInput', {
  description: 'A member to remove from an organization.',
  fields: (t) => ({
    organizationId: t.id({ required: true, description: 'The organization.' }),
    userId: t.id({ required: true, description: 'The member to remove.' }),
  }),
});

const LeaveOrganizationInput = builder.inputType('LeaveOrganizationInput', {
  description: 'The organization to leave.',
  fields: (t) => ({
    organizationId: t.id({ required: true, description: 'The organization to leave.' }),
  }),
});

builder.mutationFields((t) => ({
  createOrganization: t.field({
    type: CreateOrganizationPayloadType,
    description: 'Creates an organization, with you as its OWNER.',
    args: {
      input: t.arg({
        type: CreateOrganizationInput,
        required: true,
        description: 'The organization to create.',
      }),
    },
    resolve: (_, { input }, ctx) => createOrganization(ctx, input),
  }),
  updateOrganization: t.field({
    type: UpdateOrganizationPayloadType,
    description: 'Renames an organization or changes its slug (ADMIN or higher).',
    args: { input: t.arg({ type: UpdateOrganizationInput, required: true, description: 'What to change.' }) },
    resolve: (_, { input }, ctx) => updateOrganization(ctx, input),
  }),
  deleteOrganization: t.field({
    type: DeleteOrganizationPayloadType,
    description:
      'Deletes an organization, its memberships and invitations (OWNER only; not a personal organization). Its projects are deleted moments later, their apps stopped (`organization.deleted`, then `project.deleted` events).',
    args: {
      input: t.arg({
        type: DeleteOrganizationInput,
        required: true,
        description: 'The organization to delete.',
      }),
    },
    resolve: (_, { input }, ctx) => deleteOrganization(ctx, input),
  }),
  inviteMember: t.field({
    type: InviteMemberPayloadType,
    description:
      'Emails an invitation to join an organization (ADMIN or higher, for a role up to your own). The link works once, for 7 days; a new invitation to the same address replaces the pending one.',
    args: { input: t.arg({ type: InviteMemberInput, required: true, description: 'Whom to invite.' }) },
    resolve: (_, { input }, ctx) => inviteMember(ctx, input),
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
    resolve: (_, { input }, ctx) => revokeInvitation(ctx, input),
  }),
  acceptInvitation: t.field({
    type: AcceptInvitationPayloadType,
    description:
      'Joins an organization with the token of an invitation sent to your account’s email address.',
    args: {
      input: t.arg({ type: AcceptInvitationInput, required: true, description: 'The invitation to accept.' }),
    },
    resolve: (_, { input }, ctx) => acceptInvitation(ctx, input),
  }),
  changeMemberRole: t.field({
    type: ChangeMemberRolePayloadType,
    description:
      'Changes a member’s role (ADMIN or higher, up to your own role; only an OWNER grants or takes away OWNER). The last owner keeps the role.',
    args: {
      input: t.arg({ type: ChangeMemberRoleInput, required: true, description: 'The member and role.' }),
    },
    resolve: (_, { input }, ctx) => changeMemberRole(ctx, input),
  }),
  removeMember: t.field({
    type: RemoveMemberPayloadType,
    description:
      'Removes a member (ADMIN or higher, for members whose role is at most yours). The last owner stays.',
    args: { input: t.arg({ type: RemoveMemberInput, required: true, description: 'The member to remove.' }) },
    resolve: (_, { input }, ctx) => removeMember(ctx, input),
  }),
  leaveOrganization: t.field({
    type: LeaveOrganizationPayloadType,
    description:
      'Leaves an organization. The last owner cannot leave; nobody leaves their personal organization.',
    args: {
      input: t.arg({
        type: LeaveOrganizationInput,
        required: true,
        description: 'The organization to leave.',
      }),
    },
    resolve: (_, { input }, ctx) => leaveOrganization(ctx, input),
  }),
}));
