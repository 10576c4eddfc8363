import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import WebSocket from 'ws';
import type { LogLine } from './support/deployments';
import { type DeploymentState, waitForDeployment } from './support/edge';
import { createOrganization, createUser, type TestUser } from './support/factories';
import { createGitRepository, type GitRepository } from './support/git-fixtures';
import { startTestGateway } from './support/processes';
import {
  acceptedConnections,
  createProjectAndDeployment,
  openRawSocket,
  record,
  until,
  wsClients,
} from './support/subscriptions';
import { startTestSupergraph, type TestSupergraph } from './support/supergraph';

/**
 * Subscriptions through the gateway over graphql-ws: the stream comes from the subgraph that
 * owns the field, and every event is completed with fields of the other subgraphs. Identical
 * subscriptions of one session share one upstream stream, which lives exactly as long as its
 * last subscriber.
 */

let supergraph: TestSupergraph;
let owner: TestUser;
let organization: { id: string; slug: string; name: string };
let repo: GitRepository;
let clients: ReturnType<typeof wsClients>;
/** A deployment that reached READY, for tests that need one that exists and no longer changes. */
let ready: DeploymentState;
let readyProjectId: string;

beforeAll(async () => {
  // A short ping period, so a client that vanished without a word is noticed within the test.
  supergraph = await startTestSupergraph({ WS_KEEPALIVE_MS: '1000' });
  clients = wsClients(supergraph.url);
  owner = await createUser(supergraph.databases, 'Grace Follower');
  organization = await createOrganization(supergraph.databases, [{ user: owner, role: 'OWNER' }], {
    name: 'Follow Co',
  });
  repo = await createGitRepository('node-server');
  const { deployment, projectId } = await createProjectAndDeployment(
    supergraph.url,
    owner,
    organization.id,
    'settled-app',
    repo.url,
  );
  readyProjectId = projectId;
  ready = await waitForDeployment(supergraph, owner.headers, deployment.id, (s) => s === 'READY');
});

afterAll(async () => {
  await clients?.disposeAll();
  await supergraph?.close();
  await repo?.cleanup();
});

const hub = () => supergraph.gateway.manager.current.subscriptions;
/** Waits for the streams earlier tests dropped to wind down, so counts start from nothing. */
const quiet = () => until('the earlier tests’ upstreams to close', () => hub().upstreamCount === 0, 10_000);
const deploymentsPort = () => supergraph.subgraphs.deployments.port;

function gatewayClient(authorization?: string): Client {
  return clients.open(authorization);
}

async function newDeployment(slug: string): Promise<DeploymentState> {
  return (await createProjectAndDeployment(supergraph.url, owner, organization.id, slug, repo.url))
    .deployment;
}

/**
 * Resolves once every subscribe this client sent before is being followed: the query goes over
 * the same socket after them and needs a round trip to a subgraph, while a subscription's setup
 * needs none, so its answer comes after the subscriptions are attached to their streams.
 */
async function settled(client: Client): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    client.subscribe({ query: '{ viewer { id } }' }, { next: () => {}, error: reject, complete: resolve });
  });
}

let named = 0;
/** deploymentUpdated under a name of its own: a stream no other subscription of the session shares. */
const ownStatus = () => `subscription Own${++named}($id: ID!) { deploymentUpdated(id: $id) { id status } }`;

const FOLLOW = `subscription ($id: ID!) {
  deploymentUpdated(id: $id) {
    status
    project { name organization { slug name } }
    creator { name email }
  }
}`;

interface Followed {
  deploymentUpdated: {
    status: string;
    project: { name: string; organization: { slug: string; name: string } };
    creator: { name: string; email: string };
  };
}

interface Status {
  deploymentUpdated: { id: string; status: string };
}

describe('deploymentUpdated through the gateway', () => {
  test('follows a deployment to READY with fields from accounts and deployments in every payload', async () => {
    const deployment = await newDeployment('followed-app');
    const client = gatewayClient(owner.headers.authorization);
    const stream = record<Followed>(client, FOLLOW, { id: deployment.id });
    await until('READY', () => stream.values.some((v) => v.deploymentUpdated.status === 'READY'));
    expect(stream.errors).toEqual([]);
    for (const value of stream.values) {
      expect(value.deploymentUpdated).toMatchObject({
        project: { name: 'followed-app', organization: { slug: organization.slug, name: 'Follow Co' } },
        creator: { name: 'Grace Follower', email: owner.email },
      });
    }
    const statuses = stream.values
      .map((v) => v.deploymentUpdated.status)
      .filter((s, i, all) => s !== all[i - 1]);
    expect(['QUEUED', 'BUILDING', 'DEPLOYING', 'READY'].slice(-statuses.length)).toEqual(statuses);
    stream.dispose();
  });
});

describe('one upstream stream per session and operation', () => {
  test('two subscribers of the same operation share one upstream, and each gets every event', async () => {
    const { projectId, deployment } = await createProjectAndDeployment(
      supergraph.url,
      owner,
      organization.id,
      'shared-app',
      repo.url,
    );
    // The project's first deployment done, so the tabs see the redeploy (and the handover of production).
    await waitForDeployment(supergraph, owner.headers, deployment.id);
    await quiet();
    const before = hub().upstreamCount;
    const query = 'subscription ($id: ID!) { projectDeploymentsUpdated(projectId: $id) { id status } }';
    // Two tabs of one signed-in user: two sockets, one session.
    const tabs = [gatewayClient(owner.headers.authorization), gatewayClient(owner.headers.authorization)];
    const streams = tabs.map((tab) =>
      record<{ projectDeploymentsUpdated: Status['deploymentUpdated'] }>(tab, query, { id: projectId }),
    );
    await Promise.all(tabs.map(settled));
    expect(hub().upstreamCount).toBe(before + 1);

    const redeployed = await deploy(projectId);
    await until(
      'both tabs to see READY',
      () => streams.every((s) => s.values.some((v) => v.projectDeploymentsUpdated.status === 'READY')),
      45_000,
      () => streams.map((s) => s.values),
    );
    expect(hub().upstreamCount).toBe(before + 1);
    const [first, second] = streams.map((s) => s.values);
    expect(first!.length).toBeGreaterThan(1);
    // The redeploy's events, and one for the first deployment when it stops serving production.
    expect(new Set(first!.map((v) => v.projectDeploymentsUpdated.id))).toEqual(
      new Set([redeployed, deployment.id]),
    );
    expect(second).toEqual(first);
    for (const stream of streams) expect(stream.errors).toEqual([]);

    streams[0]!.dispose();
    await settled(tabs[0]!);
    expect(hub().upstreamCount).toBe(before + 1);
    streams[1]!.dispose();
    await until('the shared upstream to close', () => hub().upstreamCount === before, 10_000);
  }, 50_000);

  // The schema promises "the deployment as it is now, then again each time [it] changes"
  // (deploymentUpdated) and "with `fromStart`, every earlier line first" (deploymentLogs). The
  // hub (gateway/src/subscriptions.ts, `subscribe`) adds a second identical subscription of the
  // session to the running group, and the subgraph sent the current state / the history once,
  // when the group opened: the late subscriber gets none of it. For a finished deployment it
  // gets nothing, ever. Repro: in one session, subscribe to deploymentUpdated(id) of a READY
  // deployment, wait for its event, subscribe again (same document and variables, any socket):
  // the second never receives a payload. Two tabs of one signed-in user hit this: the tab opened
  // second shows nothing until the deployment changes again.
  test('a second identical subscription of the session gets the deployment as it is now', async () => {
    const query = ownStatus();
    const first = record<Status>(gatewayClient(owner.headers.authorization), query, { id: ready.id });
    onTestFinished(() => first.dispose());
    await until(
      'the first subscriber’s event',
      () => first.values.length > 0,
      15_000,
      () => first,
    );
    expect(first.values[0]!.deploymentUpdated).toEqual({ id: ready.id, status: 'READY' });

    const second = record<Status>(gatewayClient(owner.headers.authorization), query, { id: ready.id });
    onTestFinished(() => second.dispose());
    await until(
      'the second subscriber’s event',
      () => second.values.length > 0 || second.ended,
      5_000,
      () => ({
        upstreams: hub().upstreamCount,
        second,
      }),
    );
    expect(second.values[0]!.deploymentUpdated).toEqual({ id: ready.id, status: 'READY' });
  });

  // Same cause as above, for deploymentLogs(fromStart: true): the second subscriber of the
  // session gets none of the lines already written, though `fromStart` exists so that "none is
  // missed between reading and following".
  test('a second identical deploymentLogs(fromStart: true) of the session gets the lines already written', async () => {
    const query = `subscription Logs${++named}($id: ID!) { deploymentLogs(deploymentId: $id, fromStart: true) { sequence message } }`;
    type Lines = { deploymentLogs: Pick<LogLine, 'sequence' | 'message'> };
    const first = record<Lines>(gatewayClient(owner.headers.authorization), query, { id: ready.id });
    onTestFinished(() => first.dispose());
    await until(
      'the history',
      () => first.values.length > 3,
      15_000,
      () => first,
    );

    const second = record<Lines>(gatewayClient(owner.headers.authorization), query, { id: ready.id });
    onTestFinished(() => second.dispose());
    await until(
      'the second subscriber’s history',
      () => second.values.length > 0 || second.ended,
      5_000,
      () => ({
        upstreams: hub().upstreamCount,
        second,
      }),
    );
    expect(second.values[0]!.deploymentLogs.sequence).toBe(1);
  });
});

describe('the lifetime of an upstream stream', () => {
  /** Subscribes on a new socket and resolves once the first event came (the upstream stands). */
  async function following(socket: WebSocket) {
    const id = `sub-${++named}`;
    const messages: { type: string; id?: string }[] = [];
    socket.on('message', (data) => messages.push(JSON.parse(String(data))));
    await new Promise<void>((resolve) => socket.once('open', () => resolve()));
    socket.send(
      JSON.stringify({ type: 'connection_init', payload: { authorization: owner.headers.authorization } }),
    );
    await until('connection_ack', () => messages.some((m) => m.type === 'connection_ack'), 10_000);
    socket.send(
      JSON.stringify({ type: 'subscribe', id, payload: { query: ownStatus(), variables: { id: ready.id } } }),
    );
    await until(
      'the first event',
      () => messages.some((m) => m.type === 'next' && m.id === id),
      15_000,
      () => messages,
    );
  }

  test('a client that disconnects abruptly: its upstream stream and WebSocket to the subgraph close', async () => {
    await quiet();
    const upstreams = hub().upstreamCount;
    const connections = acceptedConnections(deploymentsPort());
    const socket = new WebSocket(supergraph.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    await following(socket);
    expect(hub().upstreamCount).toBe(upstreams + 1);
    // The measure sees the upstream socket: one more connection into the deployments subgraph.
    expect(acceptedConnections(deploymentsPort())).toBeGreaterThan(connections);

    socket.terminate();
    await until('the upstream to close', () => hub().upstreamCount === upstreams, 10_000);
    await until(
      'the subgraph to hold no more connections than before',
      () => acceptedConnections(deploymentsPort()) <= connections,
      10_000,
      () => acceptedConnections(deploymentsPort()),
    );
  });

  test('a client that vanishes without closing (no pong): dropped after the keepalive, its upstream with it', async () => {
    await quiet();
    const upstreams = hub().upstreamCount;
    const sockets = supergraph.gateway.webSocketCount;
    // A laptop lid closed: the TCP connection stays, nothing answers the gateway's pings.
    const socket = new WebSocket(supergraph.url.replace(/^http/, 'ws'), 'graphql-transport-ws', {
      autoPong: false,
    });
    await following(socket);
    expect(hub().upstreamCount).toBe(upstreams + 1);
    await until(
      'the gateway to drop the silent client',
      () => supergraph.gateway.webSocketCount === sockets,
      15_000,
    );
    await until('the upstream to close', () => hub().upstreamCount === upstreams, 10_000);
    socket.terminate();
  });

  test('a gateway shutdown closes client sockets with 1001 and its upstream streams', async () => {
    const second = await startTestGateway(supergraph.supergraphPath, { SHUTDOWN_GRACE_MS: '2000' });
    const connections = acceptedConnections(deploymentsPort());
    const raw = await openRawSocket(second.url);
    raw.send({ type: 'connection_init', payload: { authorization: owner.headers.authorization } });
    await raw.next('connection_ack');
    raw.send({
      type: 'subscribe',
      id: 'followed',
      payload: { query: ownStatus(), variables: { id: ready.id } },
    });
    await raw.next('next', 'followed', 15_000);
    const secondHub = second.gateway.manager.current.subscriptions;
    expect(secondHub.upstreamCount).toBe(1);

    await second.close();
    expect((await raw.closed).code).toBe(1001);
    expect(secondHub.upstreamCount).toBe(0);
    await until(
      'the subgraph to hold no more connections than before',
      () => acceptedConnections(deploymentsPort()) <= connections,
      10_000,
      () => acceptedConnections(deploymentsPort()),
    );
  });
});

describe('what deploymentUpdated reports', () => {
  // The schema: "then again each time its status, steps or production role change". When a newer
  // production deployment becomes READY, the engine moves the project's production pointer
  // (subgraphs/deployments/engine/pipeline.ts, `tx.takeProductionIfNewest` before
  // `published(ready)`) and publishes the new deployment only; promoteDeployment and rollback do
  // the same (services/deployments.ts, `pointProduction` publishes `result.deployment` only). The
  // deployment that stopped serving production (isProduction true → false) publishes nothing, so
  // its followers keep showing it as production. Repro: follow deploymentUpdated of a READY
  // production deployment, deploy the project again, wait for READY: no event on the old one,
  // while a query says isProduction: false. Runs last: it takes production from `ready`.
  test('the deployment that stops serving production gets an event saying so', async () => {
    const query = `subscription Production${++named}($id: ID!) { deploymentUpdated(id: $id) { id isProduction } }`;
    type Production = { deploymentUpdated: { id: string; isProduction: boolean } };
    const stream = record<Production>(gatewayClient(owner.headers.authorization), query, { id: ready.id });
    onTestFinished(() => stream.dispose());
    await until(
      'the first event',
      () => stream.values.length > 0,
      15_000,
      () => stream,
    );
    expect(stream.values[0]!.deploymentUpdated.isProduction).toBe(true);

    const next = await deploy(readyProjectId);
    await waitForDeployment(supergraph, owner.headers, next, (status) => status === 'READY');
    const { body } = await supergraph.query<{ deployment: { isProduction: boolean } }>(
      'query ($id: ID!) { deployment(id: $id) { isProduction } }',
      { id: ready.id },
      owner.headers,
    );
    expect(body.data?.deployment.isProduction).toBe(false);
    await until(
      'an event with isProduction: false',
      () => stream.values.some((v) => !v.deploymentUpdated.isProduction),
      5_000,
      () => stream.values,
    );
  }, 50_000);
});

async function deploy(projectId: string): Promise<string> {
  const { body } = await supergraph.query<{ createDeployment: { deployment: { id: string } } }>(
    'mutation ($input: CreateDeploymentInput!) { createDeployment(input: $input) { deployment { id } } }',
    { input: { projectId } },
    owner.headers,
  );
  return body.data!.createDeployment.deployment.id;
}
