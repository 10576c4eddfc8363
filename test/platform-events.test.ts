import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { waitForDeployment } from './support/edge';
import { createOrganization, createUser, type TestUser } from './support/factories';
import { createGitRepository, type GitRepository } from './support/git-fixtures';
import { record, until, wsClients } from './support/subscriptions';
import { startTestSupergraph, type TestSupergraph } from './support/supergraph';

/**
 * The "done when", end to end through the gateway: an API key deploys a project, and
 * the deployment's events reach the event log, the `eventPublished` subscription and a
 * registered webhook whose signature verifies. Events come from the subgraph that made the
 * change, through its outbox, the relay and the events subgraph: nothing here posts one.
 */

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

interface EventNode {
  id: string;
  type: string;
  subjects: Record<string, string>;
  payload: Record<string, unknown>;
  actor: { kind: string; apiKeyId: string | null };
}

let supergraph: TestSupergraph;
let owner: TestUser;
let member: TestUser;
let organizationId: string;
let repository: GitRepository;
let receiver: Server;
let receiverUrl: string;
const received: Received[] = [];
let clients: ReturnType<typeof wsClients>;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  supergraph = await startTestSupergraph(
    {},
    { HEALTHCHECK_TIMEOUT_SECONDS: '10', WEBHOOKS_ALLOW_PRIVATE_NETWORKS: 'true' },
  );
  clients = wsClients(supergraph.url);
  owner = await createUser(supergraph.databases, 'Olga Owner');
  member = await createUser(supergraph.databases, 'Mo Member');
  ({ id: organizationId } = await createOrganization(supergraph.databases, [
    { user: owner, role: 'OWNER' },
    { user: member, role: 'MEMBER' },
  ]));
  repository = await createGitRepository('static-site');
});

afterAll(async () => {
  await clients?.disposeAll();
  await supergraph?.close();
  await new Promise((resolve) => receiver?.close(resolve));
  await repository?.cleanup();
});

async function mutate<T>(query: string, input: Record<string, unknown>, headers: Record<string, string>) {
  const { body } = await supergraph.query<Record<string, T & { userErrors: unknown[] }>>(
    query,
    { input },
    headers,
  );
  const payload = Object.values(body.data ?? {})[0];
  expect(payload?.userErrors, JSON.stringify(body)).toEqual([]);
  return payload as T;
}

async function eventLog(headers: Record<string, string>, types?: string[]): Promise<EventNode[]> {
  const { body } = await supergraph.query<{ events: { edges: { node: EventNode }[] } }>(
    `query ($organizationId: ID!, $types: [String!]) {
      events(organizationId: $organizationId, types: $types, first: 100) {
        edges { node { id type subjects payload actor { kind apiKeyId } } }
      }
    }`,
    { organizationId, types },
    headers,
  );
  expect(body.errors, JSON.stringify(body)).toBeUndefined();
  return body.data!.events.edges.map((edge) => edge.node);
}

async function waitForEvents(headers: Record<string, string>, wanted: (events: EventNode[]) => boolean) {
  let events: EventNode[] = [];
  const deadline = Date.now() + 30_000;
  while (!wanted(events)) {
    if (Date.now() > deadline)
      throw new Error(`events not recorded: ${JSON.stringify(events.map((e) => e.type))}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    events = await eventLog(headers);
  }
  return events;
}

describe('an API key deploys, and everyone is told', () => {
  test('the deployment’s events reach the log, the subscription and a signed webhook', async () => {
    const endpoint = await mutate<{ webhookEndpoint: { id: string; secret: string } }>(
      `mutation ($input: CreateWebhookEndpointInput!) {
        createWebhookEndpoint(input: $input) { webhookEndpoint { id secret } userErrors { field message code } }
      }`,
      { organizationId, url: receiverUrl, eventTypes: ['deployment.created', 'deployment.ready'] },
      owner.headers,
    );
    const key = await mutate<{ apiKey: { id: string }; secret: string }>(
      `mutation ($input: CreateApiKeyInput!) {
        createApiKey(input: $input) { apiKey { id } secret userErrors { field message code } }
      }`,
      { organizationId, name: 'CI', scopes: ['DEPLOY'] },
      owner.headers,
    );
    const keyHeaders = { authorization: `Bearer ${key.secret}` };

    const client = clients.open(owner.headers.authorization);
    const live = record<{ eventPublished: { id: string; type: string } }>(
      client,
      `subscription ($organizationId: ID!) {
        eventPublished(organizationId: $organizationId, types: ["deployment.created", "deployment.ready"]) { id type }
      }`,
      { organizationId },
    );

    // The user makes the project; the key (DEPLOY scope) deploys it.
    const { project } = await mutate<{ project: { id: string } }>(
      `mutation ($input: CreateProjectInput!) {
        createProject(input: $input) { project { id } userErrors { field message code } }
      }`,
      { organizationId, name: 'site', slug: 'site', sourceUrl: repository.url },
      owner.headers,
    );
    // Give the subscription time to be established upstream before the first event.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const { deployment } = await mutate<{ deployment: { id: string } }>(
      `mutation ($input: CreateDeploymentInput!) {
        createDeployment(input: $input) { deployment { id } userErrors { field message code } }
      }`,
      { projectId: project.id },
      keyHeaders,
    );
    const ready = await waitForDeployment(supergraph, keyHeaders, deployment.id);
    expect(ready.status).toBe('READY');

    // The log: created by the key (recorded against it), ready by the system.
    const events = await waitForEvents(owner.headers, (all) =>
      ['deployment.created', 'deployment.ready'].every((type) =>
        all.some((e) => e.type === type && e.subjects.deploymentId === deployment.id),
      ),
    );
    const created = events.find((e) => e.type === 'deployment.created')!;
    expect(created.actor).toEqual({ kind: 'API_KEY', apiKeyId: key.apiKey.id });
    expect(created.payload).toMatchObject({ deploymentId: deployment.id, projectId: project.id });
    const readyEvent = events.find((e) => e.type === 'deployment.ready')!;
    expect(readyEvent.payload).toMatchObject({ status: 'READY', url: ready.url });
    expect(events.some((e) => e.type === 'project.created' && e.subjects.projectId === project.id)).toBe(
      true,
    );

    // The subscription: both, in order, each once.
    await until(
      'both events on the subscription',
      () => live.values.length >= 2,
      30_000,
      () => live,
    );
    expect(live.values.map((v) => v.eventPublished.type)).toEqual(['deployment.created', 'deployment.ready']);
    expect(live.values.map((v) => v.eventPublished.id)).toEqual([created.id, readyEvent.id]);

    // The webhook: both, signed with the endpoint's secret, `webhook-id` = the event's id.
    await until(
      'both webhooks',
      () => received.length >= 2,
      30_000,
      () => received.length,
    );
    const verifier = new Webhook(endpoint.webhookEndpoint.secret);
    const bodies = received.map(({ headers, body }) => {
      const verified = verifier.verify(body, headers as Record<string, string>) as {
        id: string;
        type: string;
      };
      expect(headers['webhook-id']).toBe(verified.id);
      return verified;
    });
    expect(bodies.map((b) => [b.id, b.type]).sort()).toEqual(
      [
        [created.id, 'deployment.created'],
        [readyEvent.id, 'deployment.ready'],
      ].sort(),
    );
  });

  test('a key is not a person: it cannot read the log of another organization', async () => {
    const other = await createOrganization(supergraph.databases, [{ user: member, role: 'OWNER' }]);
    const key = await mutate<{ secret: string }>(
      `mutation ($input: CreateApiKeyInput!) {
        createApiKey(input: $input) { secret userErrors { field message code } }
      }`,
      { organizationId, name: 'reader', scopes: ['READ_ONLY'] },
      member.headers,
    );
    const read = (id: string) =>
      supergraph.query<{ events: { edges: unknown[] } | null }>(
        'query ($id: ID!) { events(organizationId: $id, first: 5) { edges { node { id type } } } }',
        { id },
        { authorization: `Bearer ${key.secret}` },
      );
    // Its own organization's log, yes; its creator's other organization, as if it did not exist.
    expect((await read(organizationId)).body.data?.events?.edges.length).toBeGreaterThan(0);
    const { body } = await read(other.id);
    expect(body.data?.events ?? null).toBeNull();
    expect(body.errors?.map((error) => error.extensions?.code)).toEqual(['NOT_FOUND']);
  });
});

describe('membership changes are events', () => {
  test('a role change and a removal are recorded with who did them', async () => {
    const { body: changed } = await supergraph.query(
      `mutation ($input: ChangeMemberRoleInput!) { changeMemberRole(input: $input) { userErrors { code } } }`,
      { input: { organizationId, userId: member.id, role: 'VIEWER' } },
      owner.headers,
    );
    expect(JSON.stringify(changed)).not.toContain('"code"');
    const { body: removed } = await supergraph.query(
      `mutation ($input: RemoveMemberInput!) { removeMember(input: $input) { userErrors { code } } }`,
      { input: { organizationId, userId: member.id } },
      owner.headers,
    );
    expect(JSON.stringify(removed)).not.toContain('"code"');
    const events = await waitForEvents(owner.headers, (all) =>
      ['member.role_changed', 'member.removed'].every((type) => all.some((e) => e.type === type)),
    );
    expect(events.find((e) => e.type === 'member.role_changed')).toMatchObject({
      subjects: { userId: member.id },
      payload: { previousRole: 'MEMBER', role: 'VIEWER' },
      actor: { kind: 'USER', apiKeyId: null },
    });
    expect(events.find((e) => e.type === 'member.removed')?.payload).toMatchObject({
      userId: member.id,
      reason: 'REMOVED',
    });
  });
});
