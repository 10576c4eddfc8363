import { builder } from '../builder';
import type { DeploymentPayload } from '../services/deployments';
import type { CreateUploadPayload, UploadTicket } from '../services/uploads';
import { DeploymentType } from './deployment';
import { payloadType } from './payloads';

const CreateDeploymentInput = builder.inputType('CreateDeploymentInput', {
  description: 'What to deploy from the project’s repository.',
  fields: (t) => ({
    projectId: t.id({ required: true, description: 'The project.' }),
    environment: t.string({
      description:
        'The environment’s name. Default: `production` for the production branch, `preview` for any other ref.',
    }),
    ref: t.string({ description: 'A branch, tag or full commit SHA. Default: the production branch.' }),
  }),
});

const CreateDeploymentFromUploadInput = builder.inputType('CreateDeploymentFromUploadInput', {
  description: 'What to deploy from an uploaded archive.',
  fields: (t) => ({
    projectId: t.id({ required: true, description: 'The project.' }),
    environment: t.string({ description: 'The environment’s name. Default: `preview`.' }),
    uploadId: t.id({ required: true, description: 'An upload of this project, already received.' }),
  }),
});

const CreateUploadInput = builder.inputType('CreateUploadInput', {
  description: 'The project an archive is for.',
  fields: (t) => ({ projectId: t.id({ required: true, description: 'The project.' }) }),
});

const DeploymentIdInput = builder.inputType('DeploymentIdInput', {
  description: 'A deployment.',
  fields: (t) => ({ deploymentId: t.id({ required: true, description: 'The deployment’s ID.' }) }),
});

const RollbackProjectInput = builder.inputType('RollbackProjectInput', {
  description: 'Where to roll a project’s production back to.',
  fields: (t) => ({
    projectId: t.id({ required: true, description: 'The project.' }),
    deploymentId: t.id({
      required: true,
      description: 'An earlier READY production deployment of the project.',
    }),
  }),
});

const UploadType = builder.objectRef<UploadTicket>('Upload').implement({
  description:
    'Where to PUT a gzipped tarball of an app’s folder (as a CLI does), then deploy it with `createDeploymentFromUpload`.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The upload’s ID (`upl_…`).' }),
    url: t.exposeString('url', {
      description:
        'PUT the archive (Content-Type: application/gzip) here; the URL is its only credential, usable once.',
    }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', description: 'The URL stops working after this.' }),
    maxBytes: t.exposeInt('maxBytes', { description: 'The largest archive accepted, in bytes.' }),
  }),
});

const result = (description: string) => ({ field: 'deployment', type: DeploymentType, description }) as const;

const payload = (name: string, mutation: string, description: string) =>
  payloadType<DeploymentPayload>(name, `The result of \`${mutation}\`.`, result(description));

builder.mutationFields((t) => ({
  createDeployment: t.field({
    type: payload(
      'CreateDeploymentPayload',
      'createDeployment',
      'The queued deployment, or null if refused.',
    ),
    description: 'Queues a deployment of the project’s repository at a ref (MEMBER or above).',
    args: { input: t.arg({ type: CreateDeploymentInput, required: true, description: 'What to deploy.' }) },
    resolve: (_, { input }, ctx) => ctx.services.deployments.create(ctx, input),
  }),
  createUpload: t.field({
    type: payloadType<CreateUploadPayload>('CreateUploadPayload', 'The result of `createUpload`.', {
      field: 'upload',
      type: UploadType,
      description: 'Where to upload, or null if refused.',
    }),
    description: 'Hands out a URL to upload an archive of an app’s folder to (MEMBER or above).',
    args: { input: t.arg({ type: CreateUploadInput, required: true, description: 'The project.' }) },
    resolve: (_, { input }, ctx) => ctx.services.uploads.create(ctx, input),
  }),
  createDeploymentFromUpload: t.field({
    type: payload(
      'CreateDeploymentFromUploadPayload',
      'createDeploymentFromUpload',
      'The queued deployment, or null if refused.',
    ),
    description: 'Queues a deployment of an uploaded archive (MEMBER or above).',
    args: {
      input: t.arg({ type: CreateDeploymentFromUploadInput, required: true, description: 'What to deploy.' }),
    },
    resolve: (_, { input }, ctx) => ctx.services.deployments.createFromUpload(ctx, input),
  }),
  cancelDeployment: t.field({
    type: payload(
      'CancelDeploymentPayload',
      'cancelDeployment',
      'The canceled deployment, or null if refused.',
    ),
    description: 'Cancels a queued or building deployment; its build stops at once (MEMBER or above).',
    args: { input: t.arg({ type: DeploymentIdInput, required: true, description: 'The deployment.' }) },
    resolve: (_, { input }, ctx) => ctx.services.deployments.cancel(ctx, input),
  }),
  redeploy: t.field({
    type: payload('RedeployPayload', 'redeploy', 'The new deployment, or null if refused.'),
    description:
      'Builds a deployment’s source again (the same commit or upload, to the same environment) with the environment’s current variables (MEMBER or above).',
    args: {
      input: t.arg({ type: DeploymentIdInput, required: true, description: 'The deployment to repeat.' }),
    },
    resolve: (_, { input }, ctx) => ctx.services.deployments.redeploy(ctx, input),
  }),
  promoteDeployment: t.field({
    type: payload(
      'PromoteDeploymentPayload',
      'promoteDeployment',
      'The deployment now serving production, or null if refused.',
    ),
    description:
      'Makes a READY deployment the one the production URL serves, at once and without a rebuild; it keeps the variables it was built with (MEMBER or above).',
    args: { input: t.arg({ type: DeploymentIdInput, required: true, description: 'The deployment.' }) },
    resolve: (_, { input }, ctx) => ctx.services.deployments.promote(ctx, input),
  }),
  rollbackProject: t.field({
    type: payload(
      'RollbackProjectPayload',
      'rollbackProject',
      'The deployment now serving production, or null if refused.',
    ),
    description:
      'Points production back at an earlier READY production deployment, at once and without a rebuild. Later production deployments stop taking over until one is promoted (MEMBER or above).',
    args: {
      input: t.arg({ type: RollbackProjectInput, required: true, description: 'Where to roll back to.' }),
    },
    resolve: (_, { input }, ctx) => ctx.services.deployments.rollback(ctx, input),
  }),
}));
