import { builder } from '../builder';
import { createOrganization, type OrganizationPayload } from '../services/organizations';
import { OrganizationType } from './organization';
import { UserErrorType } from './user-error';

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

const CreateOrganizationPayload = builder
  .objectRef<OrganizationPayload>('CreateOrganizationPayload')
  .implement({
    description: 'The result of `createOrganization`.',
    fields: (t) => ({
      organization: t.expose('organization', {
        type: OrganizationType,
        nullable: true,
        description: 'The new organization, or null if the input was refused.',
      }),
      userErrors: t.expose('userErrors', {
        type: [UserErrorType],
        description: 'Why the input was refused; empty on success.',
      }),
    }),
  });

builder.mutationFields((t) => ({
  createOrganization: t.field({
    type: CreateOrganizationPayload,
    description: 'Creates an organization.',
    args: {
      input: t.arg({
        type: CreateOrganizationInput,
        required: true,
        description: 'The organization to create.',
      }),
    },
    resolve: (_, { input }, ctx) => createOrganization(ctx, input),
  }),
}));
