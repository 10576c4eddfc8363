import { builder } from '../builder';
import { createProject, type ProjectPayload } from '../services/projects';
import { ProjectType } from './project';
import { UserErrorType } from './user-error';

const CreateProjectInput = builder.inputType('CreateProjectInput', {
  description: 'A new project.',
  fields: (t) => ({
    organizationId: t.id({ required: true, description: 'The organization that will own the project.' }),
    name: t.string({ required: true, description: 'Display name, 1 to 100 characters.' }),
    slug: t.string({
      required: true,
      description: 'Handle unique within the organization: 3 to 39 lowercase letters, digits or hyphens.',
    }),
  }),
});

const CreateProjectPayload = builder.objectRef<ProjectPayload>('CreateProjectPayload').implement({
  description: 'The result of `createProject`.',
  fields: (t) => ({
    project: t.expose('project', {
      type: ProjectType,
      nullable: true,
      description: 'The new project, or null if the input was refused.',
    }),
    userErrors: t.expose('userErrors', {
      type: [UserErrorType],
      description: 'Why the input was refused; empty on success.',
    }),
  }),
});

builder.mutationFields((t) => ({
  createProject: t.field({
    type: CreateProjectPayload,
    description: 'Creates a project in an organization.',
    args: {
      input: t.arg({ type: CreateProjectInput, required: true, description: 'The project to create.' }),
    },
    resolve: (_, { input }, ctx) => createProject(ctx, input),
  }),
}));
