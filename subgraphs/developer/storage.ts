import DataLoader from 'dataloader';
import { and, count, eq, gt, inArray, isNull, lt, or, sql } from 'drizzle-orm';
import type pg from 'pg';
import { type ApiKeyRow, apiKeys } from '../../db/developer/schema';
import { newId } from '../../db/ids';
import type { Scope } from '../common/context';
import { byId } from '../common/loaders';
import { keyset, type PageQuery } from '../common/pagination';
import { createStorage, type Database } from '../common/storage';

export type NewApiKey = Pick<
  ApiKeyRow,
  'organizationId' | 'createdById' | 'name' | 'scopes' | 'secretHash' | 'prefix' | 'lastFour' | 'expiresAt'
>;

/** Usable now: neither revoked nor past its expiry (by the database's clock, as every check is). */
const active = and(
  isNull(apiKeys.revokedAt),
  or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, sql`now()`)),
);

function queries(db: Database) {
  return {
    async apiKeysByIds(ids: readonly string[]): Promise<ApiKeyRow[]> {
      return db
        .select()
        .from(apiKeys)
        .where(inArray(apiKeys.id, [...ids]));
    },
    /**
     * A page of an organization's keys, newest first: all of them, or those `createdById` made;
     * revoked ones only when asked (expired ones always: they still explain a failing script).
     */
    async apiKeysOfOrganization(
      organizationId: string,
      filter: { createdById?: string; includeRevoked: boolean },
      page: PageQuery,
    ): Promise<ApiKeyRow[]> {
      const { where, order } = keyset(apiKeys.id, page, { newestFirst: true });
      return db
        .select()
        .from(apiKeys)
        .where(
          and(
            eq(apiKeys.organizationId, organizationId),
            filter.createdById ? eq(apiKeys.createdById, filter.createdById) : undefined,
            filter.includeRevoked ? undefined : isNull(apiKeys.revokedAt),
            where,
          ),
        )
        .orderBy(order)
        .limit(page.limit);
    },
    /** The active key with this hash, if any. */
    async activeApiKeyByHash(secretHash: string): Promise<ApiKeyRow | null> {
      const [row] = await db
        .select()
        .from(apiKeys)
        .where(and(eq(apiKeys.secretHash, secretHash), active));
      return row ?? null;
    },
    /**
     * Records a use, unless one was recorded in the last minute: most calls match no row and
     * write nothing, so a busy key does not turn every request into a write.
     */
    async touchApiKey(id: string): Promise<void> {
      await db
        .update(apiKeys)
        .set({ lastUsedAt: sql`now()` })
        .where(
          and(
            eq(apiKeys.id, id),
            or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, sql`now() - interval '1 minute'`)),
          ),
        );
    },
    /**
     * Holds the organization's key count still until the transaction ends, so two creations at
     * once cannot both take the last free place under the limit.
     */
    async lockOrganizationKeys(organizationId: string): Promise<void> {
      await db.execute(sql`SELECT pg_advisory_xact_lock(hashtext('api_keys:' || ${organizationId}))`);
    },
    async countActiveApiKeys(organizationId: string): Promise<number> {
      const [row] = await db
        .select({ n: count() })
        .from(apiKeys)
        .where(and(eq(apiKeys.organizationId, organizationId), active));
      return row?.n ?? 0;
    },
    async insertApiKey(values: NewApiKey): Promise<ApiKeyRow> {
      const [row] = await db
        .insert(apiKeys)
        .values({ id: newId('key'), ...values })
        .returning();
      return row!;
    },
    /** Locks the key for the rest of the transaction: revocations and rotations of one key take turns. */
    async lockApiKey(id: string): Promise<ApiKeyRow | null> {
      const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, id)).for('update');
      return row ?? null;
    },
    async revokeApiKey(id: string, replacedById?: string): Promise<ApiKeyRow> {
      const [row] = await db
        .update(apiKeys)
        .set({ revokedAt: sql`now()`, replacedById: replacedById ?? null })
        .where(eq(apiKeys.id, id))
        .returning();
      return row!;
    },
    /**
     * Lets a rotated key live on for `hours` more (less if it expires sooner anyway), by the
     * database's clock like every expiry check.
     */
    async expireApiKeyIn(id: string, hours: number, replacedById: string): Promise<ApiKeyRow> {
      const [row] = await db
        .update(apiKeys)
        .set({
          expiresAt: sql`LEAST(coalesce(${apiKeys.expiresAt}, 'infinity'), now() + make_interval(hours => ${hours}))`,
          replacedById,
        })
        .where(eq(apiKeys.id, id))
        .returning();
      return row!;
    },
  };
}

export type DeveloperQueries = ReturnType<typeof queries>;

/** Everything the developer subgraph reads and writes in its own database. */
export const createDeveloperStorage = (pool: pg.Pool) => createStorage(pool, queries);

export type DeveloperStorage = ReturnType<typeof createDeveloperStorage>;

/** Per request: batches the keys asked for during one tick into one query. */
export function createDeveloperLoaders(storage: DeveloperStorage) {
  return {
    apiKey: new DataLoader<string, ApiKeyRow | null>(async (ids) =>
      byId(ids, await storage.apiKeysByIds(ids)),
    ),
  };
}

export type DeveloperLoaders = ReturnType<typeof createDeveloperLoaders>;

/** What developer's service methods take first: the caller and this operation's loaders. */
export type DeveloperScope = Scope<DeveloperLoaders>;
