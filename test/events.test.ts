import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlatformEvent } from '../subgraphs/common/platform-events';
import {
  createEndpoint,
  deliveriesOf,
  eventually,
  ingest,
  platformEvent,
  postBatch,
  signedBatch,
} from './support/events-helpers';
import { createOrganization, createUser, type TestUser } from './support/factories';
import { codesOf, record, until, wsClients } from './support/subscriptions';
import { mutate, startTestSupergraph, type TestSupergraph } from './support/supergraph';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver';

/**
 * The event log through the real gateway: what the ingest route accepts (signed, once per id),
 * who reads an organization's events, how its pages hold while events arrive, and
 * `eventPublished` over graphql-ws fed by a real change in another subgraph.
 */

let sut: TestSupergraph;
let receiver: WebhookReceiver;
let eventsOrigin: string;
let owner: TestUser;
let viewer: TestUser;
let outsider: TestUser;
let org: { id: string };
let otherOrg: { id: string };
const ws = () => clients;
let clients: ReturnType<typeof wsClients>;

beforeAll(async () => {
  sut = await startTestSupergraph({}, { WEBHOOK_RETRY_JITTER: '0', WEBHOOK_POLL_INTERVAL_MS: '200' });
  eventsOrigin = new URL(sut.subgraphs.events.url).origin;
  receiver = await startWebhookReceiver();
  clients = wsClients(sut.url);
  [owner, viewer, outsider] = await Promise.all([
    createUser(sut.databases, 'Owner'),
    createUser(sut.databases, 'Viewer'),
    createUser(sut.databases, 'Outsider'),
  ]);
  org = await createOrganization(sut.databases, [
    { user: owner, role: 'OWNER' },
    { user: viewer, role: 'VIEWER' },
  ]);
  otherOrg = await createOrganization(sut.databases, [{ user: outsider, role: 'OWNER' }]);
});
afterAll(async () => {
  await ws()?.disposeAll();
  await receiver?.close();
  await sut?.close();
});

interface EventData {
  id: string;
  type: string;
  source: string;
  subjects: Record<string, string>;
  payload: Record<string, unknown>;
  actor: { kind: string; user: { id: string } | null; apiKeyId: string | null };
  occurredAt: string;
  recordedAt: string;
}

const EVENT_FIELDS =
  'id type source subjects payload actor { kind user { id } apiKeyId } occurredAt recordedAt';

async function listEvents(
  user: Pick<TestUser, 'headers'> | undefined,
  organizationId: string,
  args: { types?: string[]; first?: number; after?: string } = {},
) {
  const response = await sut.query<{
    events: {
      edges: { cursor: string; node: EventData }[];
      pageInfo: { hasNextPage: boolean; endCursor: string | null };
    };
  }>(
    `query ($org: ID!, $types: [String!], $first: Int, $after: String) {
      events(organizationId: $org, types: $types, first: $first, after: $after) {
        edges { cursor node { ${EVENT_FIELDS} } } pageInfo { hasNextPage endCursor }
      }
    }`,
    { org: organizationId, ...args },
    user?.headers,
  );
  return {
    events: response.body.data?.events.edges.map((edge) => edge.node) ?? null,
    connection: response.body.data?.events ?? null,
    errors: response.body.errors ?? [],
    codes: codesOf(response.body.errors ?? []),
  };
}

describe('ingest', () => {
  it('records a batch relayed twice once, with one delivery per endpoint', async () => {
    const { id: organizationId } = await createOrganization(sut.databases, [{ user: owner, role: 'OWNER' }]);
    const endpoint = await createEndpoint(sut.query, owner, organizationId, receiver.url('/idempotent'));
    const event = platformEvent(organizationId);
    const batch = signedBatch([event]);

    const first = await postBatch(eventsOrigin, batch);
    expect(first.status).toBe(200);
    expect(first.json).toEqual({ received: 1, recorded: 1 });
    // The relay never saw the answer and sends the very same signed batch again.
    const again = await postBatch(eventsOrigin, batch);
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ received: 1, recorded: 0 });

    const { events } = await listEvents(owner, organizationId);
    expect(events?.map((e) => e.id)).toEqual([event.id]);
    await receiver.waitFor('/idempotent', 1);
    const deliveries = await eventually('the delivery to succeed', async () => {
      const rows = await deliveriesOf(sut.query, owner, endpoint.id);
      return rows[0]?.status === 'SUCCEEDED' ? rows : undefined;
    });
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]!.event.id).toBe(event.id);
    // Nothing else is coming: one event, one delivery, one request.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.received('/idempotent')).toHaveLength(1);
  });

  it('records each event of a batch as emitted, actor and payload included', async () => {
    const event = platformEvent(org.id, {
      type: 'deployment.ready',
      actor: { kind: 'apiKey', userId: owner.id, apiKeyId: 'key_123' },
      subjects: { projectId: 'prj_1', deploymentId: 'dpl_1' },
      payload: { url: 'https://web.example', nested: { ok: true, list: [1, 2] } },
      occurredAt: '2026-01-02T03:04:05.678Z',
    });
    await ingest(eventsOrigin, [event]);
    const { events } = await listEvents(owner, org.id, { types: ['deployment.ready'] });
    const found = events!.find((e) => e.id === event.id)!;
    expect(found).toMatchObject({
      type: 'deployment.ready',
      source: 'deployments',
      subjects: event.subjects,
      payload: event.payload,
      actor: { kind: 'API_KEY', user: { id: owner.id }, apiKeyId: 'key_123' },
      occurredAt: '2026-01-02T03:04:05.678Z',
    });
    expect(Date.parse(found.recordedAt)).toBeGreaterThan(Date.parse(found.occurredAt));
  });

  it('refuses a batch signed with another secret, or unsigned, with 401', async () => {
    const event = platformEvent(org.id);
    const wrong = await postBatch(
      eventsOrigin,
      signedBatch([event], { secret: `whsec_${Buffer.alloc(32, 7).toString('base64')}` }),
    );
    expect(wrong.status).toBe(401);
    expect(wrong.json).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });

    const batch = signedBatch([event]);
    const unsigned = await postBatch(eventsOrigin, {
      body: batch.body,
      headers: { 'content-type': 'application/json' },
    });
    expect(unsigned.status).toBe(401);

    // A signed batch whose body was changed on the way.
    const tampered = await postBatch(eventsOrigin, {
      ...batch,
      body: batch.body.replace('project.created', 'project.deleted'),
    });
    expect(tampered.status).toBe(401);
    const { events } = await listEvents(owner, org.id);
    expect(events!.some((e) => e.id === event.id)).toBe(false);
  });

  it('refuses a stale signed batch (a replay) with 401', async () => {
    const event = platformEvent(org.id);
    const stale = await postBatch(
      eventsOrigin,
      signedBatch([event], { at: new Date(Date.now() - 10 * 60_000) }),
    );
    expect(stale.status).toBe(401);
    const future = await postBatch(
      eventsOrigin,
      signedBatch([event], { at: new Date(Date.now() + 10 * 60_000) }),
    );
    expect(future.status).toBe(401);
  });

  it('refuses a malformed batch with 400 and a JSON error without internals', async () => {
    const notJson = await postBatch(eventsOrigin, signedBatch([], { body: '{"events": [' }));
    expect(notJson.status).toBe(400);
    expect(notJson.json).toMatchObject({ error: { code: 'BAD_REQUEST' } });
    expect(notJson.text).not.toMatch(/at .*\.ts|stack|Error:/);

    const noEvents = await postBatch(eventsOrigin, signedBatch([], { body: '{"items": []}' }));
    expect(noEvents.status).toBe(400);

    const missingField = await postBatch(
      eventsOrigin,
      signedBatch([{ ...platformEvent(org.id), occurredAt: 'yesterday' }]),
    );
    expect(missingField.status).toBe(400);
    expect(String((missingField.json as { error: { message: string } }).error.message)).toContain(
      'occurredAt',
    );
  });

  it('skips events of unknown types and records the rest of the batch', async () => {
    const unknown = platformEvent(org.id, { type: 'spaceship.launched' as PlatformEvent['type'] });
    const known = platformEvent(org.id);
    const result = await ingest(eventsOrigin, [unknown, known]);
    expect(result).toEqual({ received: 2, recorded: 1 });
    const { events } = await listEvents(owner, org.id);
    expect(events!.map((e) => e.id)).toContain(known.id);
    expect(events!.map((e) => e.id)).not.toContain(unknown.id);
  });

  it('refuses a batch larger than its limit with 413 before reading it', async () => {
    const body = JSON.stringify({ events: [], padding: 'x'.repeat(6 * 1024 * 1024) });
    const response = await postBatch(eventsOrigin, signedBatch([], { body }));
    expect(response.status).toBe(413);
  });
});

describe('events', () => {
  it('lists an organization’s events newest first to its members from VIEWER up', async () => {
    const { id: organizationId } = await createOrganization(sut.databases, [
      { user: owner, role: 'OWNER' },
      { user: viewer, role: 'VIEWER' },
    ]);
    const batch = [1, 2, 3].map((n) => platformEvent(organizationId, { payload: { n } }));
    await ingest(eventsOrigin, batch);
    for (const user of [owner, viewer]) {
      const { events, errors } = await listEvents(user, organizationId);
      expect(errors).toEqual([]);
      expect(events!.map((e) => e.payload.n)).toEqual([3, 2, 1]);
    }
  });

  it('refuses non-members as if the organization did not exist, and anonymous callers', async () => {
    await ingest(eventsOrigin, [platformEvent(org.id)]);
    const outside = await listEvents(outsider, org.id);
    expect(outside.codes).toEqual(['NOT_FOUND']);
    expect(outside.events).toBeNull();
    const missing = await listEvents(outsider, 'org_00000000000000000000000000');
    expect(missing.codes).toEqual(['NOT_FOUND']);
    expect(missing.errors[0]!.message).toBe(outside.errors[0]!.message);
    const anonymous = await listEvents(undefined, org.id);
    expect(anonymous.codes).toEqual(['UNAUTHENTICATED']);
  });

  it('keeps each organization’s events to itself', async () => {
    const mine = platformEvent(org.id);
    const theirs = platformEvent(otherOrg.id);
    await ingest(eventsOrigin, [mine, theirs]);
    const { events } = await listEvents(owner, org.id, { first: 100 });
    expect(events!.map((e) => e.id)).toContain(mine.id);
    expect(events!.map((e) => e.id)).not.toContain(theirs.id);
    const { events: others } = await listEvents(outsider, otherOrg.id, { first: 100 });
    expect(others!.map((e) => e.id)).toContain(theirs.id);
    expect(others!.map((e) => e.id)).not.toContain(mine.id);

    // Nor through the entity path: asking for their event by id answers null.
    const response = await sut.query<{ event: unknown }>(
      'query ($id: ID!) { event(id: $id) { id } }',
      { id: theirs.id },
      owner.headers,
    );
    expect(response.body.data?.event).toBeNull();
  });

  it('reads events with an API key of the organization (READ_ONLY is enough)', async () => {
    const event = platformEvent(org.id);
    await ingest(eventsOrigin, [event]);
    const created = await mutate<{ secret: string }>(
      sut.query,
      owner,
      'createApiKey',
      { organizationId: org.id, name: 'events reader', scopes: ['READ_ONLY'] },
      'secret',
    );
    expect(created.errors).toEqual([]);
    const key = { headers: { authorization: `Bearer ${created.payload!.secret}` } };
    const { events, errors } = await listEvents(key, org.id);
    expect(errors).toEqual([]);
    expect(events!.map((e) => e.id)).toContain(event.id);
    const other = await listEvents(key, otherOrg.id);
    expect(other.codes).toEqual(['NOT_FOUND']);
  });

  it('pages with cursors that hold while new events arrive', async () => {
    const { id: organizationId } = await createOrganization(sut.databases, [{ user: owner, role: 'OWNER' }]);
    // Events of one batch share their timestamps; the order is the order of recording.
    const occurredAt = new Date().toISOString();
    await ingest(
      eventsOrigin,
      Array.from({ length: 5 }, (_, n) => platformEvent(organizationId, { payload: { n }, occurredAt })),
    );
    const first = await listEvents(owner, organizationId, { first: 2 });
    expect(first.events!.map((e) => e.payload.n)).toEqual([4, 3]);
    expect(first.connection!.pageInfo.hasNextPage).toBe(true);

    await ingest(eventsOrigin, [platformEvent(organizationId, { payload: { n: 'new' } })]);

    const second = await listEvents(owner, organizationId, {
      first: 2,
      after: first.connection!.pageInfo.endCursor!,
    });
    expect(second.events!.map((e) => e.payload.n)).toEqual([2, 1]);
    const third = await listEvents(owner, organizationId, {
      first: 2,
      after: second.connection!.pageInfo.endCursor!,
    });
    expect(third.events!.map((e) => e.payload.n)).toEqual([0]);
    expect(third.connection!.pageInfo.hasNextPage).toBe(false);

    const tooMany = await listEvents(owner, organizationId, { first: 101 });
    expect(tooMany.codes).toEqual(['BAD_USER_INPUT']);
  });

  it('filters by type, and refuses an unknown type naming the argument', async () => {
    const { id: organizationId } = await createOrganization(sut.databases, [{ user: owner, role: 'OWNER' }]);
    await ingest(eventsOrigin, [
      platformEvent(organizationId, { type: 'project.created' }),
      platformEvent(organizationId, { type: 'deployment.ready' }),
      platformEvent(organizationId, { type: 'deployment.error' }),
    ]);
    const { events } = await listEvents(owner, organizationId, {
      types: ['deployment.ready', 'deployment.error'],
    });
    expect(events!.map((e) => e.type)).toEqual(['deployment.error', 'deployment.ready']);

    const unknown = await listEvents(owner, organizationId, {
      types: ['deployment.ready', 'deployment.exploded'],
    });
    expect(unknown.codes).toEqual(['BAD_USER_INPUT']);
    expect(unknown.errors[0]!.extensions?.argument).toBe('types');
    expect(unknown.errors[0]!.message).toContain('deployment.exploded');
  });

  it('lists every event type with its description', async () => {
    const response = await sut.query<{ eventTypes: { name: string; description: string }[] }>(
      '{ eventTypes { name description } }',
    );
    const names = response.body.data!.eventTypes.map((t) => t.name);
    expect(names).toContain('deployment.ready');
    expect(names).toContain('webhook_endpoint.disabled');
    expect(response.body.data!.eventTypes.every((t) => t.description.length > 0)).toBe(true);
  });
});

describe('eventPublished', () => {
  const SUBSCRIPTION = `subscription ($org: ID!, $types: [String!]) {
    eventPublished(organizationId: $org, types: $types) { id type subjects actor { kind user { id } } }
  }`;

  it('delivers the event of a real change in another subgraph, filtered by type', async () => {
    const { id: organizationId } = await createOrganization(sut.databases, [{ user: owner, role: 'OWNER' }]);
    const client = ws().open(`Bearer ${owner.accessToken}`);
    type Published = {
      eventPublished: {
        id: string;
        type: string;
        subjects: Record<string, string>;
        actor: { kind: string; user: { id: string } | null };
      };
    };
    const all = record<Published>(client, SUBSCRIPTION, { org: organizationId });
    const onlyDeployments = record<Published>(client, SUBSCRIPTION, {
      org: organizationId,
      types: ['deployment.ready'],
    });
    // Let both streams be established before the change.
    await new Promise((resolve) => setTimeout(resolve, 300));

    const created = await mutate<{ project: { id: string } }>(
      sut.query,
      owner,
      'createProject',
      { organizationId, name: 'Web', slug: 'web' },
      'project { id }',
    );
    expect(created.errors).toEqual([]);
    const projectId = created.payload!.project!.id;

    await until(
      'project.created over the subscription',
      () => all.values.length > 0,
      15_000,
      () => all.errors,
    );
    const published = all.values[0]!.eventPublished;
    expect(published).toMatchObject({
      type: 'project.created',
      subjects: { projectId },
      actor: { kind: 'USER', user: { id: owner.id } },
    });
    expect(all.errors).toEqual([]);
    expect(onlyDeployments.values).toEqual([]);
    all.dispose();
    onlyDeployments.dispose();
  });

  it('refuses to follow an organization the caller is not a member of', async () => {
    const client = ws().open(`Bearer ${outsider.accessToken}`);
    const stream = record(client, SUBSCRIPTION, { org: org.id });
    await until('the refusal', () => stream.ended || stream.errors.length > 0);
    expect(codesOf(stream.errors)).toEqual(['NOT_FOUND']);
    expect(stream.values).toEqual([]);
  });

  it('refuses an unknown type naming the argument', async () => {
    const client = ws().open(`Bearer ${owner.accessToken}`);
    const stream = record(client, SUBSCRIPTION, { org: org.id, types: ['nope.never'] });
    await until('the refusal', () => stream.ended || stream.errors.length > 0);
    expect(codesOf(stream.errors)).toEqual(['BAD_USER_INPUT']);
  });
});
