import type { ApiKeyRow } from '../../../db/developer/schema';
import { builder } from '../builder';
import { apiKeyStatus, canSeeApiKey } from '../services/api-keys';
import { ApiKeyScopeEnum, ApiKeyStatusEnum } from './enums';
import { OrganizationRef } from './organization';
import { UserRef } from './user';

export const ApiKeyType = builder.objectRef<ApiKeyRow>('ApiKey').implement({
  description:
    'A secret a program authenticates with (`Authorization: Bearer cst_…`), acting in one organization within its scopes. Its secret is shown once, when it is created or rotated, and never again.',
  // Defence in depth: whatever path returns a key (a root field, a nested field, `_entities`),
  // only those who may see it get it.
  authScopes: (key, { caller }) => canSeeApiKey(caller, key),
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Opaque, stable identifier (`key_…`).' }),
    name: t.exposeString('name', { description: 'What it is for, as its creator named it.' }),
    organization: t.field({
      type: OrganizationRef,
      // Resolved by accounts: nullable so an accounts outage degrades only this field.
      nullable: true,
      description: 'The organization it acts in.',
      resolve: (key) => ({ id: key.organizationId }),
    }),
    scopes: t.field({
      type: [ApiKeyScopeEnum],
      description: 'What it may do, each capped by its creator’s current role.',
      resolve: (key) => key.scopes,
    }),
    status: t.field({
      type: ApiKeyStatusEnum,
      description: 'Whether it works now.',
      resolve: (key) => apiKeyStatus(key),
    }),
    prefix: t.exposeString('prefix', {
      description: 'Its first characters (`cst_AbCd1234`): enough to tell keys apart, not to use one.',
    }),
    lastFour: t.exposeString('lastFour', { description: 'Its last four characters.' }),
    createdBy: t.field({
      type: UserRef,
      // Resolved by accounts: nullable so an accounts outage degrades only this field.
      nullable: true,
      description: 'Who created it (for a rotated key, who rotated it): it acts for them.',
      resolve: (key) => ({ id: key.createdById }),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was created.' }),
    expiresAt: t.expose('expiresAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When it stops working by itself; null if never.',
    }),
    lastUsedAt: t.expose('lastUsedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When it last authenticated a request, to the minute; null if never.',
    }),
    revokedAt: t.expose('revokedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When it was revoked (or replaced by a rotation without grace period); null if not.',
    }),
  }),
});

builder.asEntity(ApiKeyType, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (ref, ctx) => ctx.services.apiKeys.visible(ctx, ref.id),
});

OrganizationRef.implement({
  description: 'A team: the owner of projects, domains and billing, with members in roles.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Opaque, stable identifier (`org_…`).' }),
    apiKeys: t.connection(
      {
        type: ApiKeyType,
        // Added to an accounts type: nullable so a developer outage leaves the organization readable.
        nullable: true,
        description:
          'Its API keys, newest first: all of them for ADMIN and above (and ADMIN-scoped keys), the ones you created for other members from VIEWER up.',
        args: {
          includeRevoked: t.arg.boolean({
            required: false,
            defaultValue: false,
            description: 'Also list revoked keys (expired ones are always listed).',
          }),
        },
        resolve: (organization, args, ctx) => ctx.services.apiKeys.ofOrganization(ctx, organization.id, args),
      },
      { name: 'ApiKeyConnection', description: 'A page of API keys.' },
      { name: 'ApiKeyEdge', description: 'An API key in a page of API keys.' },
    ),
  }),
});

builder.queryFields((t) => ({
  apiKey: t.field({
    type: ApiKeyType,
    nullable: true,
    description:
      'The API key with this ID, or null if there is none or you may not see it (ADMIN and above see every key of their organization; other members, their own).',
    args: { id: t.arg.id({ required: true, description: 'The key’s ID.' }) },
    resolve: (_, { id }, ctx) => ctx.services.apiKeys.visible(ctx, id),
  }),
}));
