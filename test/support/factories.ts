import { randomBytes } from 'node:crypto';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { memberships, organizations, sessions, users } from '../../db/accounts/schema';
import { projects } from '../../db/deployments/schema';
import { newId } from '../../db/ids';
import { createAccessTokens } from '../../subgraphs/accounts/auth/access-tokens';
import { accountsSettings } from '../../subgraphs/accounts/config';
import type { Role } from '../../subgraphs/common/caller';
import { loadOrCreateKeyPair } from '../../subgraphs/common/keys';
import { createEventBus } from '../../subgraphs/common/pubsub';

/**
 * Factories that arrange data straight in the subgraphs' test databases, for tests whose
 * subject is something else (authorization, isolation, resilience): a user with a live session
 * and a real access token, an organization with members in roles, projects.
 */
export interface Databases {
  accounts: string;
  deployments?: string;
}

export interface TestUser {
  id: string;
  email: string;
  sessionId: string;
  accessToken: string;
  /** `{ authorization: 'Bearer …' }` */
  headers: Record<string, string>;
}

async function withDb<T>(url: string, work: (db: NodePgDatabase) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(drizzle({ client }));
  } finally {
    await client.end();
  }
}

export async function createUser(databases: Databases, name = 'Test User'): Promise<TestUser> {
  const id = newId('usr');
  const sessionId = newId('ses');
  const email = `${randomBytes(5).toString('hex')}@example.test`;
  await withDb(databases.accounts, async (db) => {
    await db.insert(users).values({ id, email, name });
    await db
      .insert(sessions)
      .values({ id: sessionId, userId: id, expiresAt: new Date(Date.now() + 86_400_000) });
  });
  const tokens = createAccessTokens(
    await loadOrCreateKeyPair('.data/keys', 'access-token'),
    accountsSettings.parse({}),
  );
  const { token } = await tokens.issue(id, sessionId);
  return { id, email, sessionId, accessToken: token, headers: { authorization: `Bearer ${token}` } };
}

export async function createOrganization(
  databases: Databases,
  members: { user: TestUser; role: Role }[],
  options: { slug?: string; name?: string } = {},
): Promise<{ id: string; slug: string; name: string }> {
  const id = newId('org');
  const slug = options.slug ?? `org-${randomBytes(4).toString('hex')}`;
  const name = options.name ?? slug;
  await withDb(databases.accounts, async (db) => {
    await db.insert(organizations).values({ id, slug, name });
    if (members.length > 0) {
      await db
        .insert(memberships)
        .values(members.map(({ user, role }) => ({ organizationId: id, userId: user.id, role })));
    }
  });
  // As accounts itself does: the gateway drops the roles it cached for these users.
  const { pubsub } = createEventBus(undefined);
  for (const { user } of members) pubsub.publish('caller-access-changed', user.id);
  return { id, slug, name };
}

/** Projects of an organization, created in this order (so in this order when listed). */
export async function createProjects(
  databases: Databases,
  organizationId: string,
  slugs: string[],
): Promise<{ id: string; slug: string }[]> {
  if (!databases.deployments) throw new Error('createProjects needs the deployments database');
  const rows = slugs.map((slug, i) => ({
    id: newId('prj', Date.now() + i),
    organizationId,
    slug,
    name: slug,
    // Unique across organizations, as the edge needs it.
    hostLabel: `${slug}-${i}${Math.random().toString(36).slice(2, 8)}`,
  }));
  await withDb(databases.deployments, (db) => db.insert(projects).values(rows));
  return rows.map(({ id, slug }) => ({ id, slug }));
}
