import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSubgraph, startSubgraph } from '../subgraphs/common/server';
import { subgraphs } from '../subgraphs/registry';
import { createTestDatabase, type TestDatabase } from './support/database';
import { createOrganization, createProjects, createUser, type TestUser } from './support/factories';
import { startHungServer } from './support/http-stubs';
import {
  type ChildSubgraph,
  spawnSubgraph,
  startTestGateway,
  type TestGateway,
  writeTestSupergraph,
} from './support/processes';
import { type GraphQLResponse, postGraphQL } from './support/supergraph';

/**
 * One subgraph's outage degrades only its own fields: the gateway keeps answering, fast, with
 * the other subgraphs' data and a masked error, and recovers by itself when the subgraph is back.
 */

type OrganizationData = {
  organization: {
    id: string;
    slug: string;
    name: string;
    projects: { edges: { node: { slug: string } }[] } | null;
  } | null;
};
const ORGANIZATION_WITH_PROJECTS =
  'query ($slug: String!) { organization(slug: $slug) { id slug name projects(first: 10) { edges { node { slug } } } } }';
const PROJECT_SLUGS = ['api', 'docs', 'web'];

const databases: TestDatabase[] = [];
let accounts: RunningSubgraph;
let accountsDb: TestDatabase;
/** The signed-in member every query is sent as. */
let member: TestUser;

beforeAll(async () => {
  const database = await createTestDatabase('accounts');
  accountsDb = database;
  databases.push(database);
  accounts = await startSubgraph(await subgraphs.accounts.load(), {
    env: { NODE_ENV: 'test', LOG_LEVEL: 'silent', HOST: '127.0.0.1', ACCOUNTS_DATABASE_URL: database.url },
    port: 0,
  });
  member = await createUser({ accounts: database.url });
});
afterAll(async () => {
  await accounts?.close();
  await Promise.all(databases.map((database) => database.drop()));
});

/** POSTs with a client-side deadline, so a hung response fails the test instead of hanging it. */
function queryWithin<T>(url: string, ms: number, query: string, variables?: Record<string, unknown>) {
  return Promise.race([
    postGraphQL<T>(url, query, variables, member.headers),
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`no response within ${ms} ms`)), ms).unref(),
    ),
  ]);
}

async function readiness(origin: string) {
  const response = await fetch(`${origin}/health/ready`);
  return { status: response.status, body: (await response.json()) as { checks: Record<string, string> } };
}

async function eventually<T>(
  probe: () => Promise<T>,
  accept: (value: T) => boolean,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The masked downstream error: names the service, never where it runs. */
function expectDeploymentsOutage(
  response: GraphQLResponse<OrganizationData>,
  slug: string,
  port: number | string,
) {
  expect(response.status).toBe(200);
  expect(response.body.data?.organization).toMatchObject({ slug, name: expect.any(String), projects: null });
  expect(response.body.errors).toEqual([
    expect.objectContaining({
      message: expect.stringContaining('deployments'),
      extensions: expect.objectContaining({ code: 'DOWNSTREAM_SERVICE_ERROR', serviceName: 'deployments' }),
    }),
  ]);
  for (const error of response.body.errors!) {
    expect(error.message).not.toMatch(/127\.0\.0\.1|localhost|ECONN|:\d{2,5}\b/);
    expect(error.message).not.toContain(String(port));
  }
}

describe('a subgraph process that dies and comes back', () => {
  let deploymentsDb: TestDatabase;
  let deployments: ChildSubgraph;
  let gateway: TestGateway;

  beforeAll(async () => {
    deploymentsDb = await createTestDatabase('deployments');
    databases.push(deploymentsDb);
    deployments = await spawnSubgraph('deployments', { databaseUrl: deploymentsDb.url });
    gateway = await startTestGateway(
      await writeTestSupergraph({ accounts: accounts.url, deployments: deployments.url }),
    );

    const urls = { accounts: accountsDb.url, deployments: deploymentsDb.url };
    const organization = await createOrganization(urls, [{ user: member, role: 'MEMBER' }], {
      slug: 'resilient',
    });
    await createProjects(urls, organization.id, PROJECT_SLUGS);
  });
  afterAll(async () => {
    await gateway?.close();
    await deployments?.kill();
  });

  it('answers every query of a burst, killed mid-burst, completely or with only the dead subgraph’s fields missing', async () => {
    const responses: GraphQLResponse<OrganizationData>[] = [];
    let killedAfter = -1;
    const worker = async () => {
      // Keep querying until well after the kill, so queries land before, during and after it.
      while (killedAfter < 0 || responses.length < killedAfter + 40) {
        responses.push(
          await queryWithin<OrganizationData>(gateway.url, 5_000, ORGANIZATION_WITH_PROJECTS, {
            slug: 'resilient',
          }),
        );
        if (killedAfter < 0 && responses.length >= 30) {
          killedAfter = responses.length;
          void deployments.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: 10 }, worker));
    expect(deployments.running).toBe(false);

    let complete = 0;
    let degraded = 0;
    for (const response of responses) {
      if (response.body.errors === undefined) {
        complete++;
        expect(response.status).toBe(200);
        expect(response.body.data?.organization?.projects?.edges.map((edge) => edge.node.slug)).toEqual(
          PROJECT_SLUGS,
        );
      } else {
        degraded++;
        expectDeploymentsOutage(response, 'resilient', deployments.port);
      }
    }
    expect(complete).toBeGreaterThan(0);
    expect(degraded).toBeGreaterThan(0);
  });

  it('reports itself not ready, naming the failing subgraph, while staying alive', async () => {
    expect(deployments.running).toBe(false);
    const ready = await readiness(gateway.origin);
    expect(ready.status).toBe(503);
    expect(ready.body.checks).toEqual({ accounts: 'ok', deployments: 'failing' });
    expect(JSON.stringify(ready.body)).not.toContain(String(deployments.port));

    const alive = await fetch(`${gateway.origin}/health`);
    expect(alive.status).toBe(200);
    const degraded = await queryWithin<OrganizationData>(gateway.url, 5_000, ORGANIZATION_WITH_PROJECTS, {
      slug: 'resilient',
    });
    expectDeploymentsOutage(degraded, 'resilient', deployments.port);
  });

  it('serves complete answers again once the subgraph restarts on its port, without a gateway restart', async () => {
    const port = deployments.port;
    await deployments.restart();
    expect(deployments.port).toBe(port);

    const ready = await eventually(
      () => readiness(gateway.origin),
      (r) => r.status === 200,
    );
    expect(ready).toEqual({
      status: 200,
      body: { status: 'ready', checks: { accounts: 'ok', deployments: 'ok' } },
    });
    const response = await queryWithin<OrganizationData>(gateway.url, 5_000, ORGANIZATION_WITH_PROJECTS, {
      slug: 'resilient',
    });
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data?.organization?.projects?.edges.map((edge) => edge.node.slug)).toEqual(
      PROJECT_SLUGS,
    );
  });
});

describe('a subgraph that accepts a request and never answers', () => {
  it('is cut off after SUBGRAPH_TIMEOUT_MS, and the other subgraphs’ fields still come back', async () => {
    const hung = await startHungServer();
    const gateway = await startTestGateway(
      await writeTestSupergraph({ accounts: accounts.url, deployments: hung.url }),
      { SUBGRAPH_TIMEOUT_MS: '500' },
    );
    try {
      await createOrganization({ accounts: accountsDb.url }, [{ user: member, role: 'MEMBER' }], {
        slug: 'patient',
      });

      const started = performance.now();
      const response = await queryWithin<OrganizationData>(gateway.url, 5_000, ORGANIZATION_WITH_PROJECTS, {
        slug: 'patient',
      });
      const elapsed = performance.now() - started;

      expect(hung.received).toBe(1);
      expect(elapsed).toBeGreaterThanOrEqual(450);
      expect(elapsed).toBeLessThan(2_000);
      expectDeploymentsOutage(response, 'patient', new URL(hung.url).port);
      expect(response.body.errors?.[0]?.message).toContain('timed out');
    } finally {
      await gateway.close();
      await hung.close();
    }
  });
});
