import { index, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import type { ApiKeyScope } from '../access';
import { at, createdAt } from '../columns';

export const apiKeys = pgTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    // Owned by accounts: IDs only, never foreign keys into another subgraph's database.
    organizationId: text('organization_id').notNull(),
    createdById: text('created_by_id').notNull(),
    name: text('name').notNull(),
    scopes: text('scopes').array().$type<ApiKeyScope[]>().notNull(),
    /**
     * SHA-256 of the key (hex): the key itself is shown once and never stored, so a leaked
     * database yields no usable key. Unique: a lookup by hash finds one key or none.
     */
    secretHash: text('secret_hash').notNull(),
    /** `cst_` and the first 8 random characters: tells keys apart in a list. */
    prefix: text('prefix').notNull(),
    lastFour: text('last_four').notNull(),
    createdAt: createdAt(),
    expiresAt: at('expires_at'),
    /** Written at most once a minute per key, so a busy key costs no write per request. */
    lastUsedAt: at('last_used_at'),
    revokedAt: at('revoked_at'),
    /** The key a rotation made to replace this one. */
    replacedById: text('replaced_by_id'),
  },
  (t) => [
    uniqueIndex('api_keys_secret_hash_key').on(t.secretHash),
    // Organization.apiKeys pages by (organization, id), and members see their own keys only.
    index('api_keys_organization_id_idx').on(t.organizationId, t.id),
    index('api_keys_organization_creator_idx').on(t.organizationId, t.createdById, t.id),
  ],
);

export type ApiKeyRow = typeof apiKeys.$inferSelect;
