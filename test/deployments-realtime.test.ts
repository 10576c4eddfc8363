import { type Client, createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import type { Caller } from '../subgraphs/common/caller';
import { gatewayHeaders } from './support/credentials';
import { DEPLOYMENT_FIELDS, type DeploymentState, waitForDeployment } from './support/edge';
import { createOrganization, createUser, type TestUser } from './support/factories';
import { createGitRepository, type GitRepository } from './support/git-fixtures';
import { startTestSupergraph, type TestSupergraph } from './support/supergraph';

/**
 * What a dashboard and a CLI follow live, on the deployments subgraph's own graphql-ws endpoint
 * (the gateway carries it to clients in the next step), and the per-organization build slots.
 */

let supergraph: TestSupergraph;
let owner: TestUser;
let organizationId: string;
let repo: GitRepository;
const clients: Client[] = [];

beforeAll(async () => {
  supergraph = await startTestSupergraph({}, { BUILDS_PER_ORGANIZATION: '2' });
  owner = await createUser(supergraph.databases, 'Lin Live');
  ({ id: organizationId } = await createOrganization(supergraph.databases, [{ user: owner, role: 'OWNER' }]));
  repo = await createGitRepository('node-server');
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.dispose()));
  await supergraph?.close();
  await repo?.cleanup();
});

/** A graphql-ws client of the deployments subgraph, carrying a credential as the gateway would. */
async function subgraphClient(caller: Caller): Promise<Client> {
  const headers = await gatewayHeaders('deployments', caller);
  const client = createClient({
    url: supergraph.subgraphs.deployments.url.replace(/^http/, 'ws'),
    webSocketImpl: class extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols, { headers });
      }
    },
    retryAttempts: 0,
  });
  clients.push(client);
  return client;
}

const callerOf = (user: TestUser, role: 'OWNER' | 'MEMBER' = 'OWNER'): Caller => ({
  kind: 'user',
  userId: user.id,
  sessionId: user.sessionId,
  memberships: { [organizationId]: role },
});

function collect<T>(client: Client, query: string, variables: Record<string, unknown>) {
  const values: T[] = [];
  const errors: unknown[] = [];
  let completed = false;
  const dispose = client.subscribe<T>(
    { query, variables },
    {
      next: (result) => {
        if (result.errors) errors.push(...result.errors);
        if (result.data) values.push(result.data as T);
      },
      error: (error) => errors.push(error),
      complete: () => {
        completed = true;
      },
    },
  );
  return {
    values,
    errors,
    get completed() {
      return completed;
    },
    dispose,
  };
}

async function until(condition: () => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function createProject(slug: string, extra: Record<string, unknown> = {}) {
  const { body } = await supergraph.query<{ createProject: { project: { id: string } } }>(
    `mutation ($input: CreateProjectInput!) { createProject(input: $input) { project { id } userErrors { message } } }`,
    { input: { organizationId, name: slug, slug, sourceUrl: repo.url, ...extra } },
    owner.headers,
  );
  return body.data!.createProject.project;
}

async function deploy(projectId: string): Promise<DeploymentState> {
  const { body } = await supergraph.query<{ createDeployment: { deployment: DeploymentState } }>(
    `mutation ($input: CreateDeploymentInput!) { createDeployment(input: $input) { deployment { ${DEPLOYMENT_FIELDS} } } }`,
    { input: { projectId } },
    owner.headers,
  );
  return body.data!.createDeployment.deployment;
}

describe('following a deployment', () => {
  test('deploymentUpdated goes QUEUED → BUILDING → DEPLOYING → READY, and deploymentLogs misses no line', async () => {
    const project = await createProject('live-app');
    const client = await subgraphClient(callerOf(owner));
    const projectChanges = collect<{ projectDeploymentsUpdated: { status: string } }>(
      client,
      'subscription ($id: ID!) { projectDeploymentsUpdated(projectId: $id) { status } }',
      { id: project.id },
    );
    await new Promise((r) => setTimeout(r, 100));
    const deployment = await deploy(project.id);

    const updates = collect<{ deploymentUpdated: { status: string; events: { step: string }[] } }>(
      client,
      'subscription ($id: ID!) { deploymentUpdated(id: $id) { status events { step outcome } } }',
      { id: deployment.id },
    );
    // Joins late on purpose: the lines written before it subscribed come first, then the rest.
    await until(() => updates.values.some((v) => v.deploymentUpdated.status === 'BUILDING'));
    const lines = collect<{ deploymentLogs: { sequence: number; message: string; type: string } }>(
      client,
      'subscription ($id: ID!) { deploymentLogs(deploymentId: $id) { sequence message type } }',
      { id: deployment.id },
    );
    await until(() => updates.values.some((v) => v.deploymentUpdated.status === 'READY'));
    await until(() => lines.values.some((v) => v.deploymentLogs.message.startsWith('Ready at')));

    const distinct = (statuses: string[]) => statuses.filter((s, i, all) => s !== all[i - 1]);
    // Followed from before it was created: every status, in order.
    expect(distinct(projectChanges.values.map((v) => v.projectDeploymentsUpdated.status))).toEqual([
      'QUEUED',
      'BUILDING',
      'DEPLOYING',
      'READY',
    ]);
    // Followed from a moment later: the status it had then, then every later one.
    const seen = distinct(updates.values.map((v) => v.deploymentUpdated.status));
    expect(['QUEUED', 'BUILDING', 'DEPLOYING', 'READY'].slice(-seen.length)).toEqual(seen);
    expect(updates.values.at(-1)!.deploymentUpdated.events).toHaveLength(6);
    expect(updates.errors).toEqual([]);
    projectChanges.dispose();

    const { body } = await supergraph.query<{
      deployment: { logs: { edges: { node: { sequence: number; message: string } }[] } };
    }>(
      'query ($id: ID!) { deployment(id: $id) { logs(first: 100) { edges { node { sequence message } } } } }',
      { id: deployment.id },
      owner.headers,
    );
    const stored = body.data!.deployment.logs.edges.map((edge) => edge.node);
    const streamed = lines.values.map((v) => v.deploymentLogs);
    // The same lines, in the same order, each once: history and live joined without a gap.
    expect(streamed.map((l) => l.sequence)).toEqual(stored.slice(0, streamed.length).map((l) => l.sequence));
    expect(streamed.map((l) => l.sequence)).toEqual(
      [...new Set(streamed.map((l) => l.sequence))].sort((a, b) => a - b),
    );
    expect(streamed[0]!.sequence).toBe(1);
    expect(streamed.map((l) => l.message)).toContain('wrote build-info.json');
    lines.dispose();
    updates.dispose();
  });

  test('a stranger cannot follow another organization’s deployment', async () => {
    const project = await createProject('private-app');
    const deployment = await deploy(project.id);
    const stranger = await createUser(supergraph.databases, 'Eve');
    const client = await subgraphClient({
      kind: 'user',
      userId: stranger.id,
      sessionId: stranger.sessionId,
      memberships: {},
    });
    const updates = collect(client, 'subscription ($id: ID!) { deploymentUpdated(id: $id) { status } }', {
      id: deployment.id,
    });
    const logs = collect(
      client,
      'subscription ($id: ID!) { deploymentLogs(deploymentId: $id) { message } }',
      {
        id: deployment.id,
      },
    );
    await until(() => updates.errors.length > 0 && logs.errors.length > 0);
    expect(updates.values).toEqual([]);
    expect(logs.values).toEqual([]);
    expect(updates.errors).toMatchObject([{ extensions: { code: 'NOT_FOUND' } }]);
    await waitForDeployment(supergraph, owner.headers, deployment.id);
  });
});

describe('build slots per organization', () => {
  test('five deployments queued at once all finish, never more than two building at a time', async () => {
    const project = await createProject('busy-app', { buildCommand: 'sleep 0.5 && npm run build' });
    const client = await subgraphClient(callerOf(owner));
    const changes = collect<{ projectDeploymentsUpdated: { id: string; status: string } }>(
      client,
      'subscription ($id: ID!) { projectDeploymentsUpdated(projectId: $id) { id status } }',
      { id: project.id },
    );
    await new Promise((r) => setTimeout(r, 100));
    const queued = await Promise.all(Array.from({ length: 5 }, () => deploy(project.id)));
    const finished = await Promise.all(queued.map((d) => waitForDeployment(supergraph, owner.headers, d.id)));
    expect(finished.map((d) => d.status)).toEqual(['READY', 'READY', 'READY', 'READY', 'READY']);

    // Replays what the subscription saw: at no moment were more than two building or deploying.
    const status = new Map<string, string>();
    let most = 0;
    for (const { projectDeploymentsUpdated: d } of changes.values) {
      status.set(d.id, d.status);
      most = Math.max(most, [...status.values()].filter((s) => s === 'BUILDING' || s === 'DEPLOYING').length);
    }
    expect(most).toBe(2);
    expect(new Set(changes.values.map((v) => v.projectDeploymentsUpdated.id))).toEqual(
      new Set(queued.map((d) => d.id)),
    );
    changes.dispose();
  });
});
