import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database';
import { testEnvironment } from './support/environment';
import { createOrganization, createUser, type TestUser } from './support/factories';
import { createGitRepository, type GitRepository } from './support/git-fixtures';
import {
  type ChildSubgraph,
  spawnSubgraph,
  startTestGateway,
  type TestGateway,
  writeTestSupergraph,
} from './support/processes';
import { createProjectAndDeployment, record, until, wsClients } from './support/subscriptions';

/**
 * Two gateways, each in front of its own replica of the deployments subgraph, on one database
 * and one Redis: a deployment created through one gateway, wherever it is built, is followed
 * live through the other. Without Redis the replicas could not hear each other's changes.
 */

const { redisUrl } = testEnvironment;

const databases: TestDatabase[] = [];
const processes: ChildSubgraph[] = [];
const gateways: TestGateway[] = [];
let owner: TestUser;
let organization: { id: string; slug: string };
let repo: GitRepository;

beforeAll(async () => {
  if (!redisUrl) return;
  const accountsDb = await createTestDatabase('accounts');
  const deploymentsDb = await createTestDatabase('deployments');
  databases.push(accountsDb, deploymentsDb);
  const env = { REDIS_URL: redisUrl };
  const accounts = await spawnSubgraph('accounts', { databaseUrl: accountsDb.url, env });
  processes.push(accounts);
  // Two servers: their own node names (the local runtime's instances are each node's own).
  for (const node of ['replica-a', 'replica-b']) {
    processes.push(
      await spawnSubgraph('deployments', {
        databaseUrl: deploymentsDb.url,
        env: { ...env, RUNTIME_NODE_ID: `${node}-${process.pid}` },
      }),
    );
  }
  for (const replica of processes.slice(1)) {
    gateways.push(
      await startTestGateway(
        await writeTestSupergraph({ accounts: accounts.url, deployments: replica.url }),
        env,
      ),
    );
  }
  const db = { accounts: accountsDb.url, deployments: deploymentsDb.url };
  owner = await createUser(db, 'Rhea Redis');
  organization = await createOrganization(db, [{ user: owner, role: 'OWNER' }]);
  repo = await createGitRepository('node-server');
}, 90_000);

afterAll(async () => {
  for (const gateway of gateways) await gateway.close();
  // SIGTERM: each replica stops the apps it runs.
  await Promise.all(processes.map((child) => child.kill('SIGTERM')));
  await Promise.all(databases.map((database) => database.drop()));
  await repo?.cleanup();
});

interface Followed {
  deploymentUpdated: {
    id: string;
    status: string;
    project: { name: string; organization: { slug: string } };
  };
}

describe('two gateways and two deployments replicas on Redis', () => {
  test.skipIf(!redisUrl)(
    'a subscriber on gateway B follows to READY a deployment created through gateway A',
    async () => {
      const [gatewayA, gatewayB] = gateways as [TestGateway, TestGateway];
      const { deployment } = await createProjectAndDeployment(
        gatewayA.url,
        owner,
        organization.id,
        'replicated',
        repo.url,
      );
      // A follower on each side: whichever replica builds it, one of them hears every change only
      // through Redis, from the other replica.
      const followers = [gatewayB, gatewayA].map((gateway) => wsClients(gateway.url));
      try {
        const streams = followers.map((clients) =>
          record<Followed>(
            clients.open(owner.headers.authorization),
            `subscription ($id: ID!) {
              deploymentUpdated(id: $id) { id status project { name organization { slug } } }
            }`,
            { id: deployment.id },
          ),
        );
        await until(
          'READY through both gateways',
          () => streams.every((s) => s.values.at(-1)?.deploymentUpdated.status === 'READY' || s.ended),
          45_000,
          () => streams,
        );
        for (const stream of streams) {
          expect(stream.errors).toEqual([]);
          expect(stream.values.at(-1)?.deploymentUpdated.status).toBe('READY');
          // More than the state at subscription time: the changes came through as they happened.
          expect(new Set(stream.values.map((v) => v.deploymentUpdated.status)).size).toBeGreaterThan(1);
          for (const value of stream.values) {
            expect(value.deploymentUpdated).toMatchObject({
              id: deployment.id,
              project: { name: 'replicated', organization: { slug: organization.slug } },
            });
          }
        }
        // Each gateway carried its own subscriber's stream, from its own replica.
        for (const gateway of gateways)
          expect(gateway.gateway.manager.current.subscriptions.upstreamCount).toBe(1);
      } finally {
        await Promise.all(followers.map((clients) => clients.disposeAll()));
      }
    },
    55_000,
  );
});
