import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database';
import {
  type ChildSubgraph,
  spawnSubgraph,
  startTestGateway,
  type TestGateway,
  writeTestSupergraph,
} from './support/processes';
import { postGraphQL } from './support/supergraph';

/**
 * The separate-process topology with no Redis (`npm start`): accounts runs in a process of its
 * own, so no pub/sub reaches the gateway. A user's own change of access must still count on
 * their very next request: accounts reports it in its response, and the gateway forgets what
 * it cached (here for a minute, so only that report can explain a fresh answer).
 */

const databases: TestDatabase[] = [];
let accounts: ChildSubgraph;
let deployments: ChildSubgraph;
let gateway: TestGateway;

beforeAll(async () => {
  const accountsDb = await createTestDatabase('accounts');
  const deploymentsDb = await createTestDatabase('deployments');
  databases.push(accountsDb, deploymentsDb);
  [accounts, deployments] = await Promise.all([
    spawnSubgraph('accounts', { databaseUrl: accountsDb.url }),
    spawnSubgraph('deployments', { databaseUrl: deploymentsDb.url }),
  ]);
  gateway = await startTestGateway(
    await writeTestSupergraph({ accounts: accounts.url, deployments: deployments.url }),
    { CALLER_CACHE_MS: '60000' },
  );
});
afterAll(async () => {
  await gateway?.close();
  await Promise.all([accounts?.kill(), deployments?.kill()]);
  await Promise.all(databases.map((database) => database.drop()));
});

describe('a change of access across processes without pub/sub', () => {
  it('applies to the user’s next request: a new organization is theirs at once', async () => {
    const signedUp = await postGraphQL<{ signUp: { accessToken: string } }>(
      gateway.url,
      'mutation { signUp(input: { email: "grace@example.test", password: "correct horse battery 9", name: "Grace" }) { accessToken } }',
    );
    const headers = { authorization: `Bearer ${signedUp.body.data!.signUp.accessToken}` };
    // Cache Grace's access as it is now: her personal organization only.
    expect((await postGraphQL(gateway.url, '{ viewer { id } }', undefined, headers)).status).toBe(200);

    const created = await postGraphQL<{ createOrganization: { organization: { id: string } } }>(
      gateway.url,
      'mutation { createOrganization(input: { name: "Hopper", slug: "hopper" }) { organization { id } } }',
      undefined,
      headers,
    );
    const organizationId = created.body.data!.createOrganization.organization.id;

    const project = await postGraphQL<{
      createProject: { project: { slug: string } | null; userErrors: unknown[] };
    }>(
      gateway.url,
      'mutation ($input: CreateProjectInput!) { createProject(input: $input) { project { slug } userErrors { code } } }',
      { input: { organizationId, name: 'Compiler', slug: 'compiler' } },
      headers,
    );
    expect(project.body.data?.createProject).toEqual({ project: { slug: 'compiler' }, userErrors: [] });

    const read = await postGraphQL(
      gateway.url,
      '{ organization(slug: "hopper") { viewerRole projects { edges { node { slug } } } } }',
      undefined,
      headers,
    );
    expect(read.body).toEqual({
      data: { organization: { viewerRole: 'OWNER', projects: { edges: [{ node: { slug: 'compiler' } }] } } },
    });
  });

  it('never shows the subgraphs’ report to the client', async () => {
    const signedUp = await postGraphQL(
      gateway.url,
      'mutation { signUp(input: { email: "linus@example.test", password: "another long secret 7", name: "Linus" }) { accessToken } }',
    );
    expect(signedUp.body).not.toHaveProperty('extensions');
  });
});
