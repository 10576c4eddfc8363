import { randomBytes } from 'node:crypto';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { memberships, organizations, sessions, users } from '../../db/accounts/schema';
import { newId } from '../../db/ids';
import { createAccessTokens } from '../../subgraphs/accounts/auth/access-tokens';
import { loadAccountsConfig } from '../../subgraphs/accounts/config';
import type { Role } from '../../subgraphs/common/caller';
import { loadOrCreateKeyPair } from '../../subgraphs/common/keys';
import type { TestSupergraph } from './supergraph';

/**
 * Factories that arrange accounts data straight in the accounts test database, for tests
 * whose subject is something else (authorization, isolation): a user with a live session and
 * a real access token, an organization with members in roles.
 */
export interface TestUser {
  id: string;
  email: string;
  sessionId: string;
  accessToken: string;
  /** `{ authorization: 'Bearer …' }` */
  headers: Record<string, string>;
}

async function withDb<T>(sut: TestSupergraph, work: (db: NodePgDatabase) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: sut.databases.accounts });
  await client.connect();
  try {
    return await work(drizzle({ client }));
  } finally {
    await client.end();
  }
}

export async function createUser(sut: TestSupergraph, name = 'Test User'): Promise<TestUser> {
  const id = newId('usr');
  const sessionId = newId('ses');
  const email = `${randomBytes(5).toString('hex')}@example.test`;
  await withDb(sut, async (db) => {
    await db.insert(users).values({ id, email, name });
    await db
      .insert(sessions)
      .values({ id: sessionId, userId: id, expiresAt: new Date(Date.now() + 86_400_000) });
  });
  const tokens = createAccessTokens(
    await loadOrCreateKeyPair('.data/keys', 'access-token'),
    loadAccountsConfig({}, false),
  );
  const { token } = await tokens.issue(id, sessionId);
  return { id, email, sessionId, accessToken: token, headers: { authorization: `Bearer ${token}` } };
}

export async function createOrganization(
  sut: TestSupergraph,
  members: { user: TestUser; role: Role }[],
  slug = `org-${randomBytes(4).toString('hex')}`,
): Promise<{ id: string; slug: string }> {
  const id = newId('org');
  await withDb(sut, async (db) => {
    await db.insert(organizations).values({ id, slug, name: slug });
    if (members.length > 0) {
      await db
        .insert(memberships)
        .values(members.map(({ user, role }) => ({ organizationId: id, userId: user.id, role })));
    }
  });
  return { id, slug };
}
