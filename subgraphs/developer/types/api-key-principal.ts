import { builder } from '../builder';
import type { ApiKeyPrincipal } from '../services/api-keys';
import { ApiKeyScopeEnum } from './enums';

const ApiKeyPrincipalType = builder.objectRef<ApiKeyPrincipal>('ApiKeyPrincipal').implement({
  description: 'What the gateway needs to act as an active API key.',
  inaccessible: true,
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The key’s ID.' }),
    organizationId: t.exposeID('organizationId', { description: 'The one organization it acts in.' }),
    scopes: t.field({
      type: [ApiKeyScopeEnum],
      description: 'Its scopes (the gateway caps them by the creator’s current role).',
      resolve: (principal) => principal.scopes,
    }),
    createdById: t.exposeID('createdById', { description: 'The user it acts for.' }),
    expiresAt: t.expose('expiresAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When it stops working (a gateway caches it no longer); null if never.',
    }),
  }),
});

builder.queryFields((t) => ({
  // Inaccessible: not part of the public API. The gateway asks it directly, with an anonymous
  // credential, for the hash of a bearer token shaped like a key (`hashApiKey`).
  _apiKeyPrincipal: t.field({
    type: ApiKeyPrincipalType,
    inaccessible: true,
    nullable: true,
    description: 'The active key with this SHA-256 (hex), or null (gateway only).',
    args: { secretHash: t.arg.string({ required: true, description: 'SHA-256 of the key, in hex.' }) },
    resolve: (_, { secretHash }, ctx) => ctx.services.apiKeys.principal(ctx, secretHash),
  }),
}));
