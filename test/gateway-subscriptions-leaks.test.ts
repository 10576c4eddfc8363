import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { waitForDeployment } from './support/edge';
import { createOrganization, createUser, type TestUser } from './support/factories';
import { createGitRepository, type GitRepository } from './support/git-fixtures';
import {
  acceptedConnections,
  createProjectAndDeployment,
  record,
  sleep,
  until,
  wsClients,
} from './support/subscriptions';
import { startTestSupergraph, type TestSupergraph } from './support/supergraph';

/**
 * Churn: clients that subscribe and unsubscribe over and over, at every moment of a stream's
 * setup (before the upstream exists, while it connects, once it delivers), leave nothing behind
 * in the gateway's hub nor on the deployments subgraph.
 */

const CYCLES = 1_000;
const CLIENTS = 4;

let supergraph: TestSupergraph;
let users: TestUser[];
let repo: GitRepository;
let deploymentId: string;
let clients: ReturnType<typeof wsClients>;

beforeAll(async () => {
  supergraph = await startTestSupergraph();
  clients = wsClients(supergraph.url);
  users = await Promise.all(
    Array.from({ length: CLIENTS }, (_, i) => createUser(supergraph.databases, `Churn ${i}`)),
  );
  const { id: organizationId } = await createOrganization(
    supergraph.databases,
    users.map((user) => ({ user, role: 'OWNER' as const })),
  );
  repo = await createGitRepository('node-server');
  const { deployment } = await createProjectAndDeployment(
    supergraph.url,
    users[0]!,
    organizationId,
    'churned-app',
    repo.url,
  );
  deploymentId = deployment.id;
  await waitForDeployment(supergraph, users[0]!.headers, deploymentId, (status) => status === 'READY');
});

afterAll(async () => {
  await clients?.disposeAll();
  await supergraph?.close();
  await repo?.cleanup();
});

// Deployment fields only: each event is completed without a fetch, so the only connections the
// deployments subgraph accepts during the churn are the hub's upstream WebSockets.
const STATUS = 'subscription ($id: ID!) { deploymentUpdated(id: $id) { id status } }';

/** One subscribe/unsubscribe, dropped at a moment that depends on `cycle`. */
async function cycle(client: Client, cycle: number, delivering: () => void): Promise<void> {
  const stream = record<{ deploymentUpdated: { status: string } }>(client, STATUS, { id: deploymentId });
  switch (cycle % 3) {
    case 0:
      // Before the subscribe left the client, or right behind it.
      break;
    case 1:
      // While the gateway sets the upstream up.
      await sleep(cycle % 7);
      break;
    default:
      // Once it delivers: the deployment as it is now.
      await until(
        'the first event',
        () => stream.values.length > 0 || stream.ended,
        10_000,
        () => stream,
      );
      expect(stream.errors).toEqual([]);
      expect(stream.values[0]!.deploymentUpdated.status).toBe('READY');
      delivering();
  }
  stream.dispose();
}

describe('subscribe/unsubscribe churn', () => {
  test(`${CYCLES} cycles leave no upstream stream in the gateway and no WebSocket on the subgraph`, async () => {
    const hub = supergraph.gateway.manager.current.subscriptions;
    const port = supergraph.subgraphs.deployments.port;
    const baseline = acceptedConnections(port);
    // One session per client: their streams never share, so each cycle opens an upstream of its own.
    // Half the clients keep their socket (a subscribe and its complete go out back to back on it);
    // the others are lazy and close it whenever they hold no subscription (the socket churns too).
    const sockets = users.map((user, i) => clients.open(user.headers.authorization, { lazy: i % 2 === 1 }));
    let peakUpstreams = 0;
    let peakConnections = 0;
    await Promise.all(
      sockets.map(async (client, c) => {
        for (let i = c; i < CYCLES; i += CLIENTS) {
          await cycle(client, i, () => {
            peakUpstreams = Math.max(peakUpstreams, hub.upstreamCount);
            if (i % 30 === c) peakConnections = Math.max(peakConnections, acceptedConnections(port));
          });
        }
      }),
    );
    // The churn did open upstreams and sockets to the subgraph (so the counts below measure something)…
    expect(peakUpstreams).toBeGreaterThan(0);
    expect(peakConnections).toBeGreaterThan(baseline);
    // …and never more than one per client at a time: a dropped subscription's stream closes before long.
    expect(peakUpstreams).toBeLessThanOrEqual(CLIENTS);

    await until(
      'every upstream stream to close',
      () => hub.upstreamCount === 0,
      10_000,
      () => hub.upstreamCount,
    );
    await until(
      'the subgraph to hold no more connections than before the churn',
      () => acceptedConnections(port) <= baseline,
      10_000,
      () => ({ baseline, now: acceptedConnections(port), peakConnections }),
    );
    // The lazy clients' sockets are gone from the gateway's books, the eager ones' still there.
    await until(
      'the gateway to hold the sockets of the eager clients only',
      () => supergraph.gateway.webSocketCount === CLIENTS / 2,
      10_000,
      () => supergraph.gateway.webSocketCount,
    );
    const last = record<{ deploymentUpdated: { status: string } }>(sockets[0]!, STATUS, { id: deploymentId });
    await until(
      'an event after the churn',
      () => last.values.length > 0,
      10_000,
      () => last,
    );
    last.dispose();
  }, 55_000);
});
