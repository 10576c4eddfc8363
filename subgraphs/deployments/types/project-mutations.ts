import { builder } from '../builder';
import type { DeleteProjectPayload, ProjectPayload } from '../services/projects';
import { payloadType } from './payloads';
import { ProjectType } from './project';

const settings = (t: Parameters<Parameters<typeof builder.inputType>[1]['fields']>[0]) => ({
  sourceUrl: t.string({
    description:
      'A git repository: https://, ssh://, git://, `user@host:path`, or (on a development server) a local path. Blank for none.',
  }),
  productionBranch: t.string({ description: 'The branch that deploys to production (default `main`).' }),
  rootDirectory: t.string({
    description: 'Where the app lives in the repository, relative; blank for its root.',
  }),
  installCommand: t.string({ description: 'Overrides the detected install command; blank to detect.' }),
  buildCommand: t.string({ description: 'Overrides the detected build command; blank to detect.' }),
  startCommand: t.string({ description: 'Overrides the detected start command; blank to detect.' }),
  healthcheckPath: t.string({
    description: 'The path that must answer with success before READY (default `/`).',
  }),
});

const CreateProjectInput = builder.inputType('CreateProjectInput', {
  description: 'A new project.',
  fields: (t) => ({
    organizationId: t.id({ required: true, description: 'The organization that will own the project.' }),
    name: t.string({ required: true, description: 'Display name, 1 to 100 characters.' }),
    slug: t.string({
      required: true,
      description: 'Handle unique within the organization: 3 to 39 lowercase letters, digits or hyphens.',
    }),
    ...settings(t),
  }),
});

const UpdateProjectInput = builder.inputType('UpdateProjectInput', {
  description: 'Changes to a project; fields left out stay as they are.',
  fields: (t) => ({
    projectId: t.id({ required: true, description: 'The project to change.' }),
    name: t.string({ description: 'Display name, 1 to 100 characters.' }),
    slug: t.string({ description: 'Handle unique within the organization.' }),
    ...settings(t),
  }),
});

const DeleteProjectInput = builder.inputType('DeleteProjectInput', {
  description: 'The project to delete.',
  fields: (t) => ({ projectId: t.id({ required: true, description: 'The project to delete.' }) }),
});

const ProjectResult = {
  field: 'project',
  type: ProjectType,
  description: 'The project, or null if the input was refused.',
} as const;

const CreateProjectPayload = payloadType<ProjectPayload>(
  'CreateProjectPayload',
  'The result of `createProject`.',
  ProjectResult,
);
const UpdateProjectPayload = payloadType<ProjectPayload>(
  'UpdateProjectPayload',
  'The result of `updateProject`.',
  ProjectResult,
);
const DeleteProjectPayloadType = payloadType<DeleteProjectPayload>(
  'DeleteProjectPayload',
  'The result of `deleteProject`.',
  {
    field: 'deletedProjectId',
    type: 'ID',
    description: 'The ID of the deleted project, or null if the input was refused.',
  },
);

builder.mutationFields((t) => ({
  createProject: t.field({
    type: CreateProjectPayload,
    description: 'Creates a project, with `production` and `preview` environments (MEMBER or above).',
    args: {
      input: t.arg({ type: CreateProjectInput, required: true, description: 'The project to create.' }),
    },
    resolve: (_, { input }, ctx) => ctx.services.projects.create(ctx, input),
  }),
  updateProject: t.field({
    type: UpdateProjectPayload,
    description: 'Changes a project’s settings; they apply to the next deployment (MEMBER or above).',
    args: { input: t.arg({ type: UpdateProjectInput, required: true, description: 'What to change.' }) },
    resolve: (_, { input }, ctx) => ctx.services.projects.update(ctx, input),
  }),
  deleteProject: t.field({
    type: DeleteProjectPayloadType,
    description: 'Deletes a project: its deployments stop and its URLs stop answering (ADMIN or above).',
    args: {
      input: t.arg({ type: DeleteProjectInput, required: true, description: 'The project to delete.' }),
    },
    resolve: (_, { input }, ctx) => ctx.services.projects.delete(ctx, input),
  }),
}));
