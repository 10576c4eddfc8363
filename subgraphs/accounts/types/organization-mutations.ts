import { builder } from '../builder';
import type { DeleteOrganizationPayload, OrganizationPayload } from '../services/organizations';
import { payloadType } from './payloads';
import { OrganizationType } from './refs';

// Every mutation here needs a signed-in caller (UNAUTHENTICATED otherwise) and answers as
// described in ../services/access.ts: NOT_FOUND (userError) for an organization the caller is not in,
// FORBIDDEN (GraphQL error) above the caller's role, CONFLICT (userError) when the state forbids it.

const organizationPayload = (name: string, mutation: string, what: string) =>
  payloadType<OrganizationPayload>(name, `The result of \`${mutation}\`.`, {
    field: 'organization',
    type: OrganizationType,
    description: `The ${what} organization, or null if the input was refused.`,
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

const DeleteOrganizationPayloadType = payloadType<DeleteOrganizationPayload>(
  'DeleteOrganizationPayload',
  'The result of `deleteOrganization`.',
  {
    field: 'deletedOrganizationId',
    type: 'ID',
    description: 'The ID of the organization deleted, or null if the input was refused.',
  },
);

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
    resolve: (_, { input }, ctx) => ctx.services.organizations.create(ctx, input),
  }),
  updateOrganization: t.field({
    type: UpdateOrganizationPayloadType,
    description: 'Renames an organization or changes its slug (ADMIN or higher).',
    args: { input: t.arg({ type: UpdateOrganizationInput, required: true, description: 'What to change.' }) },
    resolve: (_, { input }, ctx) => ctx.services.organizations.update(ctx, input),
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
    resolve: (_, { input }, ctx) => ctx.services.organizations.delete(ctx, input),
  }),
}));
