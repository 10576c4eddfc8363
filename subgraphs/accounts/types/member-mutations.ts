import { builder } from '../builder';
import type { LeaveOrganizationPayload, MembershipPayload, RemoveMemberPayload } from '../services/members';
import { MemberRoleType } from './member-role';
import { payloadType } from './payloads';
import { MembershipType, OrganizationType } from './refs';

// As every teams mutation (see ./organization-mutations.ts), these need a signed-in caller.

const ChangeMemberRolePayloadType = payloadType<MembershipPayload>(
  'ChangeMemberRolePayload',
  'The result of `changeMemberRole`.',
  {
    field: 'membership',
    type: MembershipType,
    description: 'The changed membership, or null if the input was refused.',
  },
);

const RemoveMemberPayloadType = payloadType<RemoveMemberPayload>(
  'RemoveMemberPayload',
  'The result of `removeMember`.',
  {
    field: 'removedUserId',
    type: 'ID',
    description: 'The ID of the user removed, or null if the input was refused.',
  },
  (t) => ({
    organization: t.expose('organization', {
      type: OrganizationType,
      nullable: true,
      description: 'The organization, as it is now; null if the input was refused or you removed yourself.',
    }),
  }),
);

const LeaveOrganizationPayloadType = payloadType<LeaveOrganizationPayload>(
  'LeaveOrganizationPayload',
  'The result of `leaveOrganization`.',
  {
    field: 'leftOrganizationId',
    type: 'ID',
    description: 'The ID of the organization you left, or null if the input was refused.',
  },
);

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
  changeMemberRole: t.field({
    type: ChangeMemberRolePayloadType,
    description:
      'Changes a member’s role (ADMIN or higher, up to your own role; only an OWNER grants or takes away OWNER). The last owner keeps the role.',
    args: {
      input: t.arg({ type: ChangeMemberRoleInput, required: true, description: 'The member and role.' }),
    },
    resolve: (_, { input }, ctx) => ctx.services.members.changeRole(ctx, input),
  }),
  removeMember: t.field({
    type: RemoveMemberPayloadType,
    description:
      'Removes a member (ADMIN or higher, for members whose role is at most yours). The last owner stays.',
    args: { input: t.arg({ type: RemoveMemberInput, required: true, description: 'The member to remove.' }) },
    resolve: (_, { input }, ctx) => ctx.services.members.remove(ctx, input),
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
    resolve: (_, { input }, ctx) => ctx.services.members.leave(ctx, input),
  }),
}));
