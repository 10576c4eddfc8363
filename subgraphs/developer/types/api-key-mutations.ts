import { builder } from '../builder';
import {
  type CreateApiKeyPayload,
  MAX_ACTIVE_KEYS_PER_ORGANIZATION,
  MAX_ROTATION_GRACE_HOURS,
  type RevokeApiKeyPayload,
  type RotateApiKeyPayload,
} from '../services/api-keys';
import { ApiKeyType } from './api-key';
import { ApiKeyScopeEnum } from './enums';
import { payloadType } from './payloads';

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  description: 'A new API key.',
  fields: (t) => ({
    organizationId: t.id({ required: true, description: 'The organization the key will act in.' }),
    name: t.string({ required: true, description: 'What it is for (`CI deploys`), 1 to 64 characters.' }),
    scopes: t.field({
      type: [ApiKeyScopeEnum],
      required: true,
      description: 'What it may do: at least one, each within your own role in the organization.',
    }),
    expiresAt: t.field({
      type: 'DateTime',
      description: 'When it stops working by itself: in the future, at most a year ahead. Null: never.',
    }),
  }),
});

const RevokeApiKeyInput = builder.inputType('RevokeApiKeyInput', {
  description: 'The API key to revoke.',
  fields: (t) => ({ id: t.id({ required: true, description: 'The key’s ID.' }) }),
});

const RotateApiKeyInput = builder.inputType('RotateApiKeyInput', {
  description: 'The API key to replace, and how long the old secret keeps working.',
  fields: (t) => ({
    id: t.id({ required: true, description: 'The key’s ID.' }),
    expireOldInHours: t.int({
      description: `Hours the old key keeps working beside the new one, 0 to ${MAX_ROTATION_GRACE_HOURS} (default 0: revoked at once).`,
    }),
  }),
});

const CreateApiKeyPayloadType = payloadType<CreateApiKeyPayload>(
  'CreateApiKeyPayload',
  'The result of `createApiKey`.',
  { field: 'apiKey', type: ApiKeyType, description: 'The new key, or null if the input was refused.' },
  (t) => ({
    secret: t.exposeString('secret', {
      nullable: true,
      description:
        'The key itself (`cst_…`), to send as `Authorization: Bearer <secret>`. Shown this once: store it now, it cannot be read again.',
    }),
  }),
);

const RevokeApiKeyPayloadType = payloadType<RevokeApiKeyPayload>(
  'RevokeApiKeyPayload',
  'The result of `revokeApiKey`.',
  { field: 'apiKey', type: ApiKeyType, description: 'The revoked key, or null if the input was refused.' },
);

const RotateApiKeyPayloadType = payloadType<RotateApiKeyPayload>(
  'RotateApiKeyPayload',
  'The result of `rotateApiKey`.',
  { field: 'apiKey', type: ApiKeyType, description: 'The new key, or null if the input was refused.' },
  (t) => ({
    secret: t.exposeString('secret', {
      nullable: true,
      description: 'The new key itself (`cst_…`). Shown this once: store it now, it cannot be read again.',
    }),
    previousApiKey: t.field({
      type: ApiKeyType,
      nullable: true,
      description:
        'The key it replaces: revoked, or set to expire at the end of the grace period; null if the input was refused.',
      resolve: (payload) => payload.previousApiKey,
    }),
  }),
);

builder.mutationFields((t) => ({
  createApiKey: t.field({
    type: CreateApiKeyPayloadType,
    description: `Creates an API key and returns its secret, once. Signed-in people only (not API keys); each scope must be within your role, and an organization holds at most ${MAX_ACTIVE_KEYS_PER_ORGANIZATION} active keys.`,
    args: {
      input: t.arg({ type: CreateApiKeyInput, required: true, description: 'The key to create.' }),
    },
    resolve: (_, { input }, ctx) => ctx.services.apiKeys.create(ctx, input),
  }),
  revokeApiKey: t.field({
    type: RevokeApiKeyPayloadType,
    description:
      'Revokes an API key: requests with it fail from now on, on every gateway. Its creator or an ADMIN of its organization may; revoking a revoked key returns it unchanged.',
    args: {
      input: t.arg({ type: RevokeApiKeyInput, required: true, description: 'The key to revoke.' }),
    },
    resolve: (_, { input }, ctx) => ctx.services.apiKeys.revoke(ctx, input),
  }),
  rotateApiKey: t.field({
    type: RotateApiKeyPayloadType,
    description:
      'Replaces an active API key with a new secret (same name, scopes, expiry and organization) and returns it, once. The old key is revoked at once or after a grace period. Its creator or an ADMIN may, within their own role.',
    args: {
      input: t.arg({ type: RotateApiKeyInput, required: true, description: 'The key to rotate.' }),
    },
    resolve: (_, { input }, ctx) => ctx.services.apiKeys.rotate(ctx, input),
  }),
}));
