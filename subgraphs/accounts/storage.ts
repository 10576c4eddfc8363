import DataLoader from 'dataloader';
import { and, eq, gt, inArray, isNull } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import type pg from 'pg';
import {
  type MembershipRow,
  memberships,
  type OrganizationRow,
  organizations,
  sessions,
  type UserRow,
  users,
} from '../../db/accounts/schema';
import { byId } from '../common/loaders';

/** Everything accounts reads and writes in its own database. */
export function createAccountsStorage(pool: pg.Pool) {
  const db = drizzle({ client: pool });

  return {
    async organizationsByIds(ids: readonly string[]): Promise<OrganizationRow[]> {
      return db
        .select()
        .from(organizations)
        .where(inArray(organizations.id, [...ids]));
    },
    /** Whether the session stands: the user's own, not revoked, not past its absolute end. */
    async sessionIsActive(userId: string, sessionId: string): Promise<boolean> {
      const [row] = await db
        .select({ id: sessions.id })
        .from(sessions)
        .where(
          and(
            eq(sessions.id, sessionId),
            eq(sessions.userId, userId),
            isNull(sessions.revokedAt),
            gt(sessions.expiresAt, new Date()),
          ),
        );
      return row !== undefined;
    },
    async membershipsOfUser(userId: string): Promise<MembershipRow[]> {
      return db.select().from(memberships).where(eq(memberships.userId, userId));
    },
    async usersByIds(ids: readonly string[]): Promise<UserRow[]> {
      return db
        .select()
        .from(users)
        .where(inArray(users.id, [...ids]));
    },
  };
}

export type AccountsStorage = ReturnType<typeof createAccountsStorage>;

/** Per-request batching: one query per type however many entities the gateway asks for. */
export function createAccountsLoaders(storage: AccountsStorage) {
  return {
    organization: new DataLoader<string, OrganizationRow | null>(async (ids) =>
      byId(ids, await storage.organizationsByIds(ids)),
    ),
    user: new DataLoader<string, UserRow | null>(async (ids) => byId(ids, await storage.usersByIds(ids))),
  };
}
