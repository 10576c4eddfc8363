import { builder } from '../builder';
import type {
  DeleteVariablePayload,
  EnvironmentPayload,
  RevealPayload,
  SetVariablesPayload,
} from '../services/environments';
import { EnvironmentType, EnvironmentVariableType } from './environment';
import { payloadType } from './payloads';

const CreateEnvironmentInput = builder.inputType('CreateEnvironmentInput', {
  description: 'A custom environment.',
  fields: (t) => ({
    projectId: t.id({ required: true, description: 'The project.' }),
    name: t.string({
      required: true,
      description: '1 to 32 lowercase letters, digits or hyphens, e.g. `staging`.',
    }),
  }),
});

const VariableInput = builder.inputType('EnvironmentVariableInput', {
  description: 'A variable to set.',
  fields: (t) => ({
    key: t.string({
      required: true,
      description: 'Letters, digits and underscores; not PORT or CONSTRUCT_*.',
    }),
    value: t.string({
      required: true,
      description: 'The value, up to 64 KB. Stored encrypted, never listed.',
    }),
  }),
});

const SetVariablesInput = builder.inputType('SetEnvironmentVariablesInput', {
  description: 'Variables to create or replace in one environment, all or none.',
  fields: (t) => ({
    projectId: t.id({ required: true, description: 'The project.' }),
    environment: t.string({ required: true, description: 'The environment’s name, e.g. `production`.' }),
    variables: t.field({ type: [VariableInput], required: true, description: 'The variables, 1 to 200.' }),
  }),
});

const VariableIdInput = builder.inputType('EnvironmentVariableIdInput', {
  description: 'A variable.',
  fields: (t) => ({ id: t.id({ required: true, description: 'The variable’s ID.' }) }),
});

const CreateEnvironmentPayload = payloadType<EnvironmentPayload>(
  'CreateEnvironmentPayload',
  'The result of `createEnvironment`.',
  { field: 'environment', type: EnvironmentType, description: 'The new environment, or null if refused.' },
);
const SetVariablesPayloadType = payloadType<SetVariablesPayload>(
  'SetEnvironmentVariablesPayload',
  'The result of `setEnvironmentVariables`.',
  {
    field: 'variables',
    type: EnvironmentVariableType,
    list: true,
    description: 'The variables set (values masked).',
  },
);
const DeleteVariablePayloadType = payloadType<DeleteVariablePayload>(
  'DeleteEnvironmentVariablePayload',
  'The result of `deleteEnvironmentVariable`.',
  { field: 'deletedVariableId', type: 'ID', description: 'The deleted variable’s ID, or null if refused.' },
);
const RevealPayloadType = payloadType<RevealPayload>(
  'RevealEnvironmentVariablePayload',
  'The result of `revealEnvironmentVariable`.',
  { field: 'value', type: 'String', description: 'The plaintext value, or null if refused.' },
);

builder.mutationFields((t) => ({
  createEnvironment: t.field({
    type: CreateEnvironmentPayload,
    description: 'Adds a custom environment to a project (ADMIN or above).',
    args: { input: t.arg({ type: CreateEnvironmentInput, required: true, description: 'The environment.' }) },
    resolve: (_, { input }, ctx) => ctx.services.environments.create(ctx, input),
  }),
  setEnvironmentVariables: t.field({
    type: SetVariablesPayloadType,
    description:
      'Creates or replaces variables of an environment; they apply to the next deployment (MEMBER or above).',
    args: { input: t.arg({ type: SetVariablesInput, required: true, description: 'The variables.' }) },
    resolve: (_, { input }, ctx) => ctx.services.environments.setVariables(ctx, input),
  }),
  deleteEnvironmentVariable: t.field({
    type: DeleteVariablePayloadType,
    description:
      'Deletes a variable; running deployments keep the value they started with (MEMBER or above).',
    args: { input: t.arg({ type: VariableIdInput, required: true, description: 'The variable.' }) },
    resolve: (_, { input }, ctx) => ctx.services.environments.deleteVariable(ctx, input),
  }),
  revealEnvironmentVariable: t.field({
    type: RevealPayloadType,
    description: 'Returns a variable’s plaintext value (ADMIN or above); every reveal is logged.',
    args: { input: t.arg({ type: VariableIdInput, required: true, description: 'The variable.' }) },
    resolve: (_, { input }, ctx) => ctx.services.environments.revealVariable(ctx, input),
  }),
}));
