import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database';
import { createOrganization, createUser, type TestUser } from './support/factories';
import {
  type ChildSubgraph,
  spawnSubgraph,
  startTestGateway,
  type TestGateway,
  writeTestSupergraph,
} from './support/processes';
import { postGraphQL } from './support/supergraph';

/**
 * Revocation when the subgraphs are processes of their own and no Redis joins them (the
 * `npm start` default): the developer subgraph's answer to `revokeApiKey` tells the gateway,
 * so the key stops working at the very next request, not when the gateway's cache expires.
 */

const databases: TestDatabase[] = [];
let accounts: ChildSubgraph;
let developer: ChildSubgraph;
let gateway: TestGateway;
let owner: TestUser;
let organizationId: string;

beforeAll(async () => {
  const accountsDb = await createTestDatabase('accounts');
  const developerDb = await createTestDatabase('developer');
  databases.push(accountsDb, developerDb);
  const env = { REDIS_URL: '' };
  [accounts, developer] = await Promise.all([
    spawnSubgraph('accounts', { databaseUrl: accountsDb.url, env }),
    spawnSubgraph('developer', { databaseUrl: developerDb.url, env }),
  ]);
  // A cache far longer than the test: only the response can make the revocation take effect.
  gateway = await startTestGateway(
    await writeTestSupergraph({ accounts: accounts.url, developer: developer.url }),
    { API_KEY_CACHE_MS: '600000' },
  );
  owner = await createUser({ accounts: accountsDb.url }, 'Rev Oker');
  ({ id: organizationId } = await createOrganization({ accounts: accountsDb.url }, [
    { user: owner, role: 'OWNER' },
  ]));
});

afterAll(async () => {
  await gateway?.close();
  await Promise.all([accounts?.kill('SIGTERM'), developer?.kill('SIGTERM')]);
  await Promise.all(databases.map((database) => database.drop()));
});

const WHO = '{ viewerQuota { principal } }';

describe('an API key revoked through another process', () => {
  test('is refused at the next request, without Redis and before the cache expires', async () => {
    const created = await postGraphQL<{
      createApiKey: { apiKey: { id: string }; secret: string; userErrors: unknown[] };
    }>(
      gateway.url,
      `mutation ($input: CreateApiKeyInput!) {
        createApiKey(input: $input) { apiKey { id } secret userErrors { field message code } }
      }`,
      { input: { organizationId, name: 'deploy bot', scopes: ['DEPLOY'] } },
      owner.headers,
    );
    const { apiKey, secret } = created.body.data!.createApiKey;
    const asKey = { authorization: `Bearer ${secret}` };
    // Resolved and cached by the gateway.
    const before = await postGraphQL<{ viewerQuota: { principal: string } }>(
      gateway.url,
      WHO,
      undefined,
      asKey,
    );
    expect(before.body.data?.viewerQuota.principal).toBe(`apiKey:${apiKey.id}`);

    const revoked = await postGraphQL<{ revokeApiKey: { userErrors: unknown[] } }>(
      gateway.url,
      'mutation ($input: RevokeApiKeyInput!) { revokeApiKey(input: $input) { userErrors { code } } }',
      { input: { id: apiKey.id } },
      owner.headers,
    );
    expect(revoked.body.data?.revokeApiKey.userErrors).toEqual([]);

    const after = await postGraphQL(gateway.url, WHO, undefined, asKey);
    expect(after.status).toBe(401);
    expect(after.body.errors?.map((error) => error.extensions?.code)).toEqual(['UNAUTHENTICATED']);
  });
});
