import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../subgraphs/common/caller';
import { type RunningSubgraph, startSubgraph } from '../subgraphs/common/server';
import { events as eventsSubgraph } from '../subgraphs/events/index';
import { gatewayHeaders } from './support/credentials';
import { createTestDatabase, type TestDatabase } from './support/database';
import {
  createEndpoint,
  DELIVERY_FIELDS,
  type DeliveryData,
  deliveriesOf,
  ENDPOINT_FIELDS,
  type EndpointData,
  eventually,
  ingest,
  platformEvent,
  sql,
} from './support/events-helpers';
import { createOrganization, createUser, type TestUser } from './support/factories';
import { mutate, postGraphQL, startTestSupergraph, type TestSupergraph } from './support/supergraph';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver';

/**
 * Webhooks through the real gateway and a real receiver on 127.0.0.1: managing endpoints,
 * what a delivery looks like on the wire (signed per Standard Webhooks), retries, Retry-After,
 * 410 and long failure disabling an endpoint, secret rotation, test events, redelivery,
 * redirects, timeouts, and the SSRF guard (on a second events subgraph with it switched on).
 */

const RETRY = 0.2;
const TIMEOUT_MS = 1000;

let sut: TestSupergraph;
let receiver: WebhookReceiver;
let eventsOrigin: string;
let owner: TestUser;
let admin: TestUser;
let viewer: TestUser;
let outsider: TestUser;
let org: { id: string; slug: string };
let path = 0;
/** A receiver path of its own for each endpoint. */
const nextPath = (name: string) => `/${name}-${++path}`;

beforeAll(async () => {
  sut = await startTestSupergraph(
    {},
    {
      WEBHOOK_RETRY_SCHEDULE: `${RETRY},${RETRY},${RETRY}`,
      WEBHOOK_RETRY_JITTER: '0',
      WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS),
      WEBHOOK_POLL_INTERVAL_MS: '100',
      WEBHOOK_ENDPOINTS_PER_ORGANIZATION: '5',
    },
  );
  eventsOrigin = new URL(sut.subgraphs.events.url).origin;
  receiver = await startWebhookReceiver();
  [owner, admin, viewer, outsider] = (await Promise.all(
    ['Owner', 'Admin', 'Viewer', 'Outsider'].map((name) => createUser(sut.databases, name)),
  )) as [TestUser, TestUser, TestUser, TestUser];
  org = await createOrganization(sut.databases, [
    { user: owner, role: 'OWNER' },
    { user: admin, role: 'ADMIN' },
    { user: viewer, role: 'VIEWER' },
  ]);
});
afterAll(async () => {
  await receiver?.close();
  await sut?.close();
});

/** An organization of its own for a test, with the shared users in their roles. */
const newOrganization = () =>
  createOrganization(sut.databases, [
    { user: owner, role: 'OWNER' },
    { user: admin, role: 'ADMIN' },
    { user: viewer, role: 'VIEWER' },
  ]);

function headersOf(request: { headers: Record<string, string | string[] | undefined> }) {
  const pick = (name: string) => String(request.headers[name] ?? '');
  return {
    'webhook-id': pick('webhook-id'),
    'webhook-timestamp': pick('webhook-timestamp'),
    'webhook-signature': pick('webhook-signature'),
  };
}

async function deliveryOf(endpointId: string, until: (d: DeliveryData) => boolean, what: string) {
  return eventually(what, async () => {
    const [delivery] = await deliveriesOf(sut.query, owner, endpointId);
    return delivery && until(delivery) ? delivery : undefined;
  });
}

describe('endpoints', () => {
  it('creates, reads, updates, disables, enables and deletes an endpoint (ADMIN and up)', async () => {
    const { id: organizationId, slug } = await newOrganization();
    const url = receiver.url(nextPath('crud'));
    const created = await mutate<{ webhookEndpoint: EndpointData }>(
      sut.query,
      admin,
      'createWebhookEndpoint',
      { organizationId, url, eventTypes: ['deployment.ready', 'deployment.error'], description: 'CI' },
      `webhookEndpoint { ${ENDPOINT_FIELDS} secret }`,
    );
    expect(created.errors).toEqual([]);
    const endpoint = created.payload!.webhookEndpoint!;
    expect(endpoint).toMatchObject({
      url,
      description: 'CI',
      eventTypes: ['deployment.error', 'deployment.ready'],
      enabled: true,
      disabledReason: null,
    });
    expect(endpoint.id).toMatch(/^whe_/);
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);

    const listed = await sut.query<{ organization: { webhookEndpoints: EndpointData[] } }>(
      `query ($slug: String!) { organization(slug: $slug) { webhookEndpoints { ${ENDPOINT_FIELDS} } } }`,
      { slug },
      viewer.headers,
    );
    expect(listed.body.errors).toBeUndefined();
    expect(listed.body.data!.organization.webhookEndpoints.map((e) => e.id)).toEqual([endpoint.id]);

    const updated = await mutate<{ webhookEndpoint: EndpointData }>(
      sut.query,
      owner,
      'updateWebhookEndpoint',
      { id: endpoint.id, url: `${url}?v=2`, eventTypes: [], description: 'Everything' },
      `webhookEndpoint { ${ENDPOINT_FIELDS} }`,
    );
    expect(updated.payload?.userErrors).toEqual([]);
    expect(updated.payload!.webhookEndpoint).toMatchObject({
      url: `${url}?v=2`,
      eventTypes: [],
      description: 'Everything',
    });

    const disabled = await mutate<{ webhookEndpoint: EndpointData }>(
      sut.query,
      admin,
      'updateWebhookEndpoint',
      { id: endpoint.id, enabled: false },
      `webhookEndpoint { ${ENDPOINT_FIELDS} }`,
    );
    expect(disabled.payload!.webhookEndpoint).toMatchObject({ enabled: false, disabledReason: 'MANUAL' });
    expect(disabled.payload!.webhookEndpoint.disabledAt).not.toBeNull();
    // Recorded like any other disabling, with who did it.
    const log = await sut.query<{ events: { edges: { node: Record<string, unknown> }[] } }>(
      `query ($org: ID!) { events(organizationId: $org, types: ["webhook_endpoint.disabled"]) {
        edges { node { subjects payload actor { kind user { id } } } } } }`,
      { org: organizationId },
      viewer.headers,
    );
    expect(log.body.data!.events.edges.map((e) => e.node)).toEqual([
      {
        subjects: { webhookEndpointId: endpoint.id },
        payload: { reason: 'MANUAL', url: `${url}?v=2` },
        actor: { kind: 'USER', user: { id: admin.id } },
      },
    ]);
    const enabled = await mutate<{ webhookEndpoint: EndpointData }>(
      sut.query,
      admin,
      'updateWebhookEndpoint',
      { id: endpoint.id, enabled: true },
      `webhookEndpoint { ${ENDPOINT_FIELDS} }`,
    );
    expect(enabled.payload!.webhookEndpoint).toMatchObject({
      enabled: true,
      disabledReason: null,
      disabledAt: null,
    });

    const deleted = await mutate(
      sut.query,
      admin,
      'deleteWebhookEndpoint',
      { id: endpoint.id },
      'deletedWebhookEndpointId',
    );
    expect(deleted.payload).toMatchObject({ deletedWebhookEndpointId: endpoint.id, userErrors: [] });
    const gone = await sut.query<{ webhookEndpoint: unknown }>(
      'query ($id: ID!) { webhookEndpoint(id: $id) { id } }',
      { id: endpoint.id },
      owner.headers,
    );
    expect(gone.body.data?.webhookEndpoint).toBeNull();
  });

  it('shows the secret to ADMIN and up only, and lets only them manage endpoints', async () => {
    const endpoint = await createEndpoint(sut.query, owner, org.id, receiver.url(nextPath('roles')));
    const read = (user: TestUser) =>
      sut.query<{ webhookEndpoint: { url: string; secret: string | null } | null }>(
        'query ($id: ID!) { webhookEndpoint(id: $id) { url secret } }',
        { id: endpoint.id },
        user.headers,
      );
    const asAdmin = await read(admin);
    expect(asAdmin.body.data!.webhookEndpoint!.secret).toBe(endpoint.secret);
    const asViewer = await read(viewer);
    expect(asViewer.body.data!.webhookEndpoint).toEqual({ url: endpoint.url, secret: null });
    expect(asViewer.body.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    const asOutsider = await read(outsider);
    expect(asOutsider.body.data!.webhookEndpoint).toBeNull();

    const byViewer = await mutate(sut.query, viewer, 'createWebhookEndpoint', {
      organizationId: org.id,
      url: receiver.url('/viewer'),
      eventTypes: [],
    });
    expect(byViewer.codes).toEqual(['FORBIDDEN']);
    const rotateByViewer = await mutate(sut.query, viewer, 'rotateWebhookSecret', { id: endpoint.id });
    expect(rotateByViewer.codes).toEqual(['FORBIDDEN']);
    const byOutsider = await mutate(sut.query, outsider, 'createWebhookEndpoint', {
      organizationId: org.id,
      url: receiver.url('/outsider'),
      eventTypes: [],
    });
    expect(byOutsider.payload?.userErrors).toEqual([
      { field: ['input', 'organizationId'], message: 'No such organization.', code: 'NOT_FOUND' },
    ]);
    const deleteByOutsider = await mutate(sut.query, outsider, 'deleteWebhookEndpoint', { id: endpoint.id });
    expect(deleteByOutsider.payload?.userErrors.map((e) => e.code)).toEqual(['NOT_FOUND']);
    const anonymous = await mutate(sut.query, undefined, 'deleteWebhookEndpoint', { id: endpoint.id });
    expect(anonymous.codes).toEqual(['UNAUTHENTICATED']);
  });

  it('manages endpoints with an ADMIN-scoped API key, not a READ_ONLY one', async () => {
    const keyOf = async (scopes: string[]) => {
      const created = await mutate<{ secret: string }>(
        sut.query,
        owner,
        'createApiKey',
        { organizationId: org.id, name: `webhooks ${scopes[0]}`, scopes },
        'secret',
      );
      expect(created.errors).toEqual([]);
      return { headers: { authorization: `Bearer ${created.payload!.secret}` } };
    };
    const input = { organizationId: org.id, url: receiver.url(nextPath('key')), eventTypes: [] };
    const byAdminKey = await mutate<{ webhookEndpoint: EndpointData }>(
      sut.query,
      await keyOf(['ADMIN']),
      'createWebhookEndpoint',
      input,
      'webhookEndpoint { id }',
    );
    expect(byAdminKey.payload?.userErrors).toEqual([]);
    expect(byAdminKey.payload?.webhookEndpoint.id).toMatch(/^whe_/);
    const byReader = await mutate(sut.query, await keyOf(['READ_ONLY']), 'createWebhookEndpoint', input);
    expect(byReader.codes).toEqual(['FORBIDDEN']);
    await mutate(sut.query, owner, 'deleteWebhookEndpoint', { id: byAdminKey.payload!.webhookEndpoint.id });
  });

  it('returns each bad input as a userError on its field', async () => {
    const create = (input: Record<string, unknown>) =>
      mutate(sut.query, owner, 'createWebhookEndpoint', {
        organizationId: org.id,
        url: receiver.url('/bad'),
        eventTypes: [],
        ...input,
      });
    const cases: [Record<string, unknown>, string[], RegExp][] = [
      [{ url: 'ftp://example.com/hook' }, ['input', 'url'], /http/],
      [{ url: 'javascript:alert(1)' }, ['input', 'url'], /http/],
      [{ url: 'not a url' }, ['input', 'url'], /valid URL/],
      [{ url: 'https://user:pass@example.com/' }, ['input', 'url'], /credentials/],
      [{ url: `https://example.com/${'a'.repeat(2048)}` }, ['input', 'url'], /2048/],
      [
        { eventTypes: ['deployment.ready', 'deployment.exploded'] },
        ['input', 'eventTypes'],
        /deployment\.exploded/,
      ],
      [{ description: 'x'.repeat(501) }, ['input', 'description'], /500/],
      [{ organizationId: 'nope' }, ['input', 'organizationId'], /organization ID/],
    ];
    for (const [input, field, message] of cases) {
      const { payload, errors } = await create(input);
      expect(errors, JSON.stringify(input)).toEqual([]);
      expect(payload?.userErrors, JSON.stringify(input).slice(0, 80)).toHaveLength(1);
      expect(payload!.userErrors[0]!.field).toEqual(field);
      expect(payload!.userErrors[0]!.message).toMatch(message);
      expect(payload!.userErrors[0]!.code).toBe('INVALID');
    }
    const endpoint = await createEndpoint(sut.query, owner, org.id, receiver.url(nextPath('bad-update')));
    const update = await mutate(sut.query, owner, 'updateWebhookEndpoint', {
      id: endpoint.id,
      url: 'gopher://x',
    });
    expect(update.payload?.userErrors.map((e) => e.field)).toEqual([['input', 'url']]);
    const notAnId = await mutate(sut.query, owner, 'updateWebhookEndpoint', { id: 'whe_nope' });
    expect(notAnId.payload?.userErrors.map((e) => e.field)).toEqual([['input', 'id']]);
  });

  it('stops at the endpoint limit of an organization with LIMIT_REACHED', async () => {
    const { id: organizationId } = await newOrganization();
    const attempts = await Promise.all(
      Array.from({ length: 7 }, (_, i) =>
        mutate(sut.query, admin, 'createWebhookEndpoint', {
          organizationId,
          url: receiver.url(`/limit-${i}`),
          eventTypes: [],
        }),
      ),
    );
    const refused = attempts.filter((a) => a.payload?.userErrors.length);
    expect(refused).toHaveLength(2);
    expect(refused[0]!.payload!.userErrors[0]).toMatchObject({
      code: 'LIMIT_REACHED',
      field: ['input', 'organizationId'],
    });
  });
});

describe('delivery', () => {
  it('POSTs the event as JSON, signed so that the Standard Webhooks library verifies it with the secret', async () => {
    const { id: organizationId } = await newOrganization();
    const at = nextPath('signed');
    const endpoint = await createEndpoint(sut.query, owner, organizationId, receiver.url(at));
    const event = platformEvent(organizationId, {
      type: 'deployment.ready',
      actor: { kind: 'user', userId: owner.id, apiKeyId: null },
      subjects: { projectId: 'prj_1', deploymentId: 'dpl_1' },
      payload: { url: 'https://web.example', durationMs: 1234 },
    });
    await ingest(eventsOrigin, [event]);
    const [request] = await receiver.waitFor(at, 1);
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers['user-agent']).toBe('Construct-Webhooks/1');
    expect(request!.headers['webhook-id']).toBe(event.id);
    const verified = new Webhook(endpoint.secret).verify(request!.body, headersOf(request!));
    expect(verified).toEqual({
      id: event.id,
      type: 'deployment.ready',
      organizationId: organizationId,
      actor: event.actor,
      subjects: event.subjects,
      payload: event.payload,
      occurredAt: event.occurredAt,
    });
    // Another endpoint's secret does not verify it.
    const other = await createEndpoint(sut.query, owner, organizationId, receiver.url(nextPath('other')), [
      'deployment.error',
    ]);
    expect(() => new Webhook(other.secret).verify(request!.body, headersOf(request!))).toThrow();

    const delivery = await deliveryOf(endpoint.id, (d) => d.status === 'SUCCEEDED', 'SUCCEEDED');
    expect(delivery).toMatchObject({ attemptCount: 1, nextAttemptAt: null, event: { id: event.id } });
    expect(delivery.attempts).toMatchObject([
      { number: 1, statusCode: 200, error: null, responseExcerpt: 'ok' },
    ]);
  });

  it('sends an endpoint only the types it subscribed to (all types when its list is empty)', async () => {
    const { id: organizationId } = await newOrganization();
    const readyPath = nextPath('ready-only');
    const allPath = nextPath('all');
    await createEndpoint(sut.query, owner, organizationId, receiver.url(readyPath), ['deployment.ready']);
    await createEndpoint(sut.query, owner, organizationId, receiver.url(allPath));
    const created = platformEvent(organizationId, { type: 'project.created' });
    const ready = platformEvent(organizationId, { type: 'deployment.ready' });
    await ingest(eventsOrigin, [created, ready]);
    await receiver.waitFor(allPath, 2);
    await receiver.waitFor(readyPath, 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.received(readyPath).map((r) => r.headers['webhook-id'])).toEqual([ready.id]);
    expect(
      receiver
        .received(allPath)
        .map((r) => r.headers['webhook-id'])
        .sort(),
    ).toEqual([created.id, ready.id].sort());
  });

  it('retries a failing receiver until it succeeds, with the same webhook-id, recording every attempt', async () => {
    const { id: organizationId } = await newOrganization();
    const at = nextPath('flaky');
    receiver.script(at, [
      { status: 500, body: 'database is down' },
      { status: 502, body: 'bad gateway' },
    ]);
    const endpoint = await createEndpoint(sut.query, owner, organizationId, receiver.url(at));
    const event = platformEvent(organizationId);
    await ingest(eventsOrigin, [event]);
    const requests = await receiver.waitFor(at, 3);
    expect(requests.map((r) => r.headers['webhook-id'])).toEqual([event.id, event.id, event.id]);
    for (const request of requests) {
      expect(new Webhook(endpoint.secret).verify(request.body, headersOf(request))).toMatchObject({
        id: event.id,
      });
    }
    // Retries wait for the schedule (0.2 s here).
    expect(requests[1]!.receivedAt - requests[0]!.receivedAt).toBeGreaterThanOrEqual(RETRY * 1000 - 20);

    const delivery = await deliveryOf(endpoint.id, (d) => d.status === 'SUCCEEDED', 'SUCCEEDED');
    expect(delivery.attemptCount).toBe(3);
    expect(delivery.attempts).toMatchObject([
      { number: 1, statusCode: 500, error: 'answered 500', responseExcerpt: 'database is down' },
      { number: 2, statusCode: 502, error: 'answered 502', responseExcerpt: 'bad gateway' },
      { number: 3, statusCode: 200, error: null, responseExcerpt: 'ok', nextAttemptAt: null },
    ]);
    const [first, second] = delivery.attempts;
    expect(Date.parse(first!.nextAttemptAt!) - Date.parse(first!.startedAt)).toBeGreaterThanOrEqual(
      RETRY * 1000 - 20,
    );
    expect(second!.nextAttemptAt).not.toBeNull();
    // Exactly once more after the two failures: nothing follows the success.
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(receiver.received(at)).toHaveLength(3);
  });

  it('gives up after the last retry of the schedule and marks the delivery FAILED', async () => {
    const { id: organizationId } = await newOrganization();
    const at = nextPath('down');
    receiver.script(at, [], { status: 503, body: 'x'.repeat(5000) });
    const endpoint = await createEndpoint(sut.query, owner, organizationId, receiver.url(at));
    await ingest(eventsOrigin, [platformEvent(organizationId)]);
    const delivery = await deliveryOf(endpoint.id, (d) => d.status === 'FAILED', 'FAILED');
    // The first attempt and one retry per entry of the schedule.
    expect(delivery.attemptCount).toBe(4);
    expect(delivery.nextAttemptAt).toBeNull();
    expect(delivery.attempts.at(-1)!.nextAttemptAt).toBeNull();
    // The excerpt keeps the first kilobyte of a long answer.
    expect(delivery.attempts[0]!.responseExcerpt).toBe('x'.repeat(1024));
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(receiver.received(at)).toHaveLength(4);
    // A failure streak is not long enough to disable the endpoint.
    const [row] = await sql<{ enabled: boolean; failing_since: Date | null }>(
      sut.databases.events,
      'SELECT enabled, failing_since FROM webhook_endpoints WHERE id = $1',
      [endpoint.id],
    );
    expect(row).toMatchObject({ enabled: true });
    expect(row!.failing_since).not.toBeNull();
  });

  it('waits for Retry-After when it asks for longer than the schedule', async () => {
    const { id: organizationId } = await newOrganization();
    const at = nextPath('retry-after');
    receiver.script(at, [{ status: 429, headers: { 'retry-after': '1' } }]);
    const endpoint = await createEndpoint(sut.query, owner, organizationId, receiver.url(at));
    await ingest(eventsOrigin, [platformEvent(organizationId)]);
    const [first, second] = await receiver.waitFor(at, 2);
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(950);
    const delivery = await deliveryOf(endpoint.id, (d) => d.status === 'SUCCEEDED', 'SUCCEEDED');
    const attempt = delivery.attempts[0]!;
    expect(attempt.statusCode).toBe(429);
    expect(Date.parse(attempt.nextAttemptAt!) - Date.parse(attempt.startedAt)).toBeGreaterThanOrEqual(950);
  });

  it('disables an endpoint that answers 410 and tells the organization’s other endpoints', async () => {
    const { id: organizationId } = await newOrganization();
    const gonePath = nextPath('gone');
    const watcherPath = nextPath('watcher');
    receiver.script(gonePath, [], { status: 410, body: 'gone for good' });
    const gone = await createEndpoint(sut.query, owner, organizationId, receiver.url(gonePath), [
      'project.created',
    ]);
    await createEndpoint(sut.query, owner, organizationId, receiver.url(watcherPath), [
      'webhook_endpoint.disabled',
    ]);
    const events = [platformEvent(organizationId), platformEvent(organizationId)];
    await ingest(eventsOrigin, [events[0]!]);

    const [notice] = await receiver.waitFor(watcherPath, 1);
    const body = JSON.parse(notice!.body);
    expect(body).toMatchObject({
      type: 'webhook_endpoint.disabled',
      organizationId,
      actor: { kind: 'system', userId: null, apiKeyId: null },
      subjects: { webhookEndpointId: gone.id },
      payload: { reason: 'GONE', url: gone.url, statusCode: 410 },
    });
    const endpoint = await sut.query<{ webhookEndpoint: EndpointData }>(
      `query ($id: ID!) { webhookEndpoint(id: $id) { ${ENDPOINT_FIELDS} } }`,
      { id: gone.id },
      owner.headers,
    );
    expect(endpoint.body.data!.webhookEndpoint).toMatchObject({ enabled: false, disabledReason: 'GONE' });
    const [delivery] = await deliveriesOf(sut.query, owner, gone.id);
    expect(delivery).toMatchObject({ status: 'FAILED', attemptCount: 1, nextAttemptAt: null });

    // The event log has it too, and nothing more goes to the disabled endpoint.
    const log = await sut.query<{ events: { edges: { node: { type: string } }[] } }>(
      'query ($org: ID!) { events(organizationId: $org, types: ["webhook_endpoint.disabled"]) { edges { node { type } } } }',
      { org: organizationId },
      viewer.headers,
    );
    expect(log.body.data!.events.edges).toHaveLength(1);
    await ingest(eventsOrigin, [events[1]!]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receiver.received(gonePath)).toHaveLength(1);
  });

  it('disables an endpoint that has failed without a success for longer than the limit', async () => {
    const { id: organizationId } = await newOrganization();
    const at = nextPath('failing');
    const watcherPath = nextPath('failing-watcher');
    receiver.script(at, [], { status: 500 });
    const failing = await createEndpoint(sut.query, owner, organizationId, receiver.url(at), [
      'project.created',
    ]);
    await createEndpoint(sut.query, owner, organizationId, receiver.url(watcherPath), [
      'webhook_endpoint.disabled',
    ]);
    // Its failures began six days ago (the limit is five).
    await sql(
      sut.databases.events,
      `UPDATE webhook_endpoints SET failing_since = now() - interval '6 days' WHERE id = $1`,
      [failing.id],
    );
    await ingest(eventsOrigin, [platformEvent(organizationId)]);
    const [notice] = await receiver.waitFor(watcherPath, 1);
    expect(JSON.parse(notice!.body)).toMatchObject({
      type: 'webhook_endpoint.disabled',
      payload: { reason: 'FAILING', statusCode: 500 },
    });
    const [row] = await sql<{ enabled: boolean; disabled_reason: string }>(
      sut.databases.events,
      'SELECT enabled, disabled_reason FROM webhook_endpoints WHERE id = $1',
      [failing.id],
    );
    expect(row).toEqual({ enabled: false, disabled_reason: 'FAILING' });

    // Re-enabling forgets the streak: the next failure starts a new one.
    const enabled = await mutate<{ webhookEndpoint: EndpointData }>(
      sut.query,
      owner,
      'updateWebhookEndpoint',
      { id: failing.id, enabled: true },
      `webhookEndpoint { ${ENDPOINT_FIELDS} }`,
    );
    expect(enabled.payload!.webhookEndpoint).toMatchObject({
      enabled: true,
      disabledReason: null,
      failingSince: null,
    });
  });

  it('signs with both secrets for a while after a rotation, and with the new one alone after', async () => {
    const { id: organizationId } = await newOrganization();
    const at = nextPath('rotate');
    const endpoint = await createEndpoint(sut.query, owner, organizationId, receiver.url(at));
    const rotated = await mutate<{ webhookEndpoint: { secret: string } }>(
      sut.query,
      owner,
      'rotateWebhookSecret',
      { id: endpoint.id },
      'webhookEndpoint { secret }',
    );
    const newSecret = rotated.payload!.webhookEndpoint.secret;
    expect(newSecret).toMatch(/^whsec_/);
    expect(newSecret).not.toBe(endpoint.secret);

    await ingest(eventsOrigin, [platformEvent(organizationId)]);
    const [request] = await receiver.waitFor(at, 1);
    expect(headersOf(request!)['webhook-signature'].split(' ')).toHaveLength(2);
    expect(() => new Webhook(newSecret).verify(request!.body, headersOf(request!))).not.toThrow();
    expect(() => new Webhook(endpoint.secret).verify(request!.body, headersOf(request!))).not.toThrow();

    // Once the overlap is over, only the new secret signs.
    await sql(
      sut.databases.events,
      `UPDATE webhook_endpoints SET previous_secret_expires_at = now() - interval '1 second' WHERE id = $1`,
      [endpoint.id],
    );
    await ingest(eventsOrigin, [platformEvent(organizationId)]);
    const [, later] = await receiver.waitFor(at, 2);
    expect(headersOf(later!)['webhook-signature'].split(' ')).toHaveLength(1);
    expect(() => new Webhook(newSecret).verify(later!.body, headersOf(later!))).not.toThrow();
    expect(() => new Webhook(endpoint.secret).verify(later!.body, headersOf(later!))).toThrow();
  });

  it('sends a test event to the one endpoint asked for', async () => {
    const { id: organizationId } = await newOrganization();
    const at = nextPath('test');
    const otherPath = nextPath('test-other');
    const endpoint = await createEndpoint(sut.query, owner, organizationId, receiver.url(at));
    await createEndpoint(sut.query, owner, organizationId, receiver.url(otherPath));
    const sent = await mutate<{ delivery: DeliveryData }>(
      sut.query,
      admin,
      'sendTestWebhook',
      { id: endpoint.id },
      `delivery { ${DELIVERY_FIELDS} }`,
    );
    expect(sent.payload?.userErrors).toEqual([]);
    expect(sent.payload!.delivery).toMatchObject({ status: 'PENDING', event: { type: 'webhook.test' } });
    const [request] = await receiver.waitFor(at, 1);
    const body = new Webhook(endpoint.secret).verify(request!.body, headersOf(request!));
    expect(body).toMatchObject({
      type: 'webhook.test',
      actor: { kind: 'user', userId: admin.id },
      subjects: { webhookEndpointId: endpoint.id },
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.received(otherPath)).toEqual([]);

    const byViewer = await mutate(sut.query, viewer, 'sendTestWebhook', { id: endpoint.id });
    expect(byViewer.codes).toEqual(['FORBIDDEN']);
  });

  it('redelivers a delivery that succeeded, now, with the same webhook-id', async () => {
    const { id: organizationId } = await newOrganization();
    const at = nextPath('redeliver');
    const endpoint = await createEndpoint(sut.query, owner, organizationId, receiver.url(at));
    const event = platformEvent(organizationId);
    await ingest(eventsOrigin, [event]);
    const delivered = await deliveryOf(endpoint.id, (d) => d.status === 'SUCCEEDED', 'SUCCEEDED');
    const again = await mutate<{ delivery: DeliveryData }>(
      sut.query,
      admin,
      'redeliverWebhook',
      { deliveryId: delivered.id },
      `delivery { ${DELIVERY_FIELDS} }`,
    );
    expect(again.payload?.userErrors).toEqual([]);
    expect(again.payload!.delivery).toMatchObject({ id: delivered.id, status: 'PENDING' });
    const requests = await receiver.waitFor(at, 2);
    expect(requests.map((r) => r.headers['webhook-id'])).toEqual([event.id, event.id]);
    const after = await deliveryOf(
      endpoint.id,
      (d) => d.status === 'SUCCEEDED' && d.attemptCount === 2,
      'redelivered',
    );
    expect(after.attempts.map((a) => a.number)).toEqual([1, 2]);

    const byOutsider = await mutate(sut.query, outsider, 'redeliverWebhook', { deliveryId: delivered.id });
    expect(byOutsider.payload?.userErrors.map((e) => e.code)).toEqual(['NOT_FOUND']);
    const byViewer = await mutate(sut.query, viewer, 'redeliverWebhook', { deliveryId: delivered.id });
    expect(byViewer.codes).toEqual(['FORBIDDEN']);
  });

  it('redelivers once more when asked while an attempt is in flight, though that attempt succeeds', async () => {
    const { id: organizationId } = await newOrganization();
    const at = nextPath('redeliver-in-flight');
    receiver.script(at, [{ status: 200, delayMs: TIMEOUT_MS * 0.7 }]);
    const endpoint = await createEndpoint(sut.query, owner, organizationId, receiver.url(at));
    const event = platformEvent(organizationId);
    await ingest(eventsOrigin, [event]);
    await receiver.waitFor(at, 1);
    const [inFlight] = await deliveriesOf(sut.query, owner, endpoint.id);
    expect(inFlight).toMatchObject({ status: 'PENDING', attemptCount: 0 });
    const again = await mutate(sut.query, admin, 'redeliverWebhook', { deliveryId: inFlight!.id });
    expect(again.payload?.userErrors).toEqual([]);

    const requests = await receiver.waitFor(at, 2);
    expect(requests.map((r) => r.headers['webhook-id'])).toEqual([event.id, event.id]);
    const after = await deliveryOf(
      endpoint.id,
      (d) => d.status === 'SUCCEEDED' && d.attemptCount === 2,
      'SUCCEEDED twice',
    );
    expect(after.attempts.map((a) => [a.number, a.statusCode])).toEqual([
      [1, 200],
      [2, 200],
    ]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.received(at)).toHaveLength(2);
  });

  it('redelivers a delivery that was given up, and retries it on the schedule again', async () => {
    const { id: organizationId } = await newOrganization();
    const at = nextPath('redeliver-failed');
    receiver.script(at, [
      { status: 500 },
      { status: 500 },
      { status: 500 },
      { status: 500 },
      { status: 500 },
    ]);
    const endpoint = await createEndpoint(sut.query, owner, organizationId, receiver.url(at));
    await ingest(eventsOrigin, [platformEvent(organizationId)]);
    const failed = await deliveryOf(endpoint.id, (d) => d.status === 'FAILED', 'FAILED');
    await mutate(sut.query, owner, 'redeliverWebhook', { deliveryId: failed.id });
    // Attempt 5 fails (the script's last 500), attempt 6 succeeds on its first retry.
    const after = await deliveryOf(
      endpoint.id,
      (d) => d.status === 'SUCCEEDED',
      'SUCCEEDED after redelivery',
    );
    expect(after.attemptCount).toBe(6);
  });

  it('does not follow redirects: a 3xx is a failed attempt', async () => {
    const { id: organizationId } = await newOrganization();
    const at = nextPath('redirect');
    const target = nextPath('redirect-target');
    receiver.script(at, [], { status: 302, headers: { location: receiver.url(target) } });
    const endpoint = await createEndpoint(sut.query, owner, organizationId, receiver.url(at));
    await ingest(eventsOrigin, [platformEvent(organizationId)]);
    const delivery = await deliveryOf(endpoint.id, (d) => d.attemptCount >= 1, 'an attempt');
    expect(delivery.attempts[0]).toMatchObject({
      statusCode: 302,
      error: 'answered 302: redirects are not followed',
    });
    expect(receiver.received(target)).toEqual([]);
  });

  it('gives up on an attempt after the timeout and retries it', async () => {
    const { id: organizationId } = await newOrganization();
    const at = nextPath('slow');
    receiver.script(at, [{ delayMs: TIMEOUT_MS * 3 }]);
    const endpoint = await createEndpoint(sut.query, owner, organizationId, receiver.url(at));
    await ingest(eventsOrigin, [platformEvent(organizationId)]);
    const delivery = await deliveryOf(
      endpoint.id,
      (d) => d.status === 'SUCCEEDED',
      'SUCCEEDED after a timeout',
    );
    expect(delivery.attempts[0]).toMatchObject({
      statusCode: null,
      error: 'timed out after 1 s',
      responseExcerpt: null,
    });
    expect(delivery.attempts[0]!.durationMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(delivery.attempts[0]!.durationMs).toBeLessThan(TIMEOUT_MS * 2);
    expect(delivery.attempts[1]).toMatchObject({ statusCode: 200 });
  });

  it('keeps delivering to other endpoints while one hangs (it holds a quarter of the slots at most)', async () => {
    const { id: organizationId } = await newOrganization();
    const slowPath = nextPath('hanging');
    const fastPath = nextPath('fast');
    receiver.script(slowPath, [], { delayMs: TIMEOUT_MS * 3 });
    const slow = await createEndpoint(sut.query, owner, organizationId, receiver.url(slowPath), [
      'deployment.error',
    ]);
    await createEndpoint(sut.query, owner, organizationId, receiver.url(fastPath), ['deployment.ready']);
    // More deliveries to the hanging endpoint than there are slots (64), due first.
    await ingest(
      eventsOrigin,
      Array.from({ length: 100 }, () => platformEvent(organizationId, { type: 'deployment.error' })),
    );
    await receiver.waitFor(slowPath, 10);
    const sentAt = Date.now();
    await ingest(eventsOrigin, [platformEvent(organizationId, { type: 'deployment.ready' })]);
    const [fast] = await receiver.waitFor(fastPath, 1);
    expect(fast!.receivedAt - sentAt).toBeLessThan(TIMEOUT_MS / 2);
    // At most a quarter of the slots went to the hanging endpoint at once.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(receiver.received(slowPath).length).toBeLessThanOrEqual(16);
    await mutate(sut.query, owner, 'deleteWebhookEndpoint', { id: slow.id });
  });

  it('stops delivering to a deleted endpoint', async () => {
    const { id: organizationId } = await newOrganization();
    const at = nextPath('deleted');
    receiver.script(at, [], { status: 500 });
    const endpoint = await createEndpoint(sut.query, owner, organizationId, receiver.url(at));
    await ingest(eventsOrigin, [platformEvent(organizationId)]);
    await receiver.waitFor(at, 1);
    await mutate(sut.query, owner, 'deleteWebhookEndpoint', { id: endpoint.id });
    const count = receiver.received(at).length;
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(receiver.received(at).length).toBeLessThanOrEqual(count + 1);
    const [row] = await sql<{ n: string }>(
      sut.databases.events,
      'SELECT count(*) AS n FROM webhook_deliveries WHERE endpoint_id = $1',
      [endpoint.id],
    );
    expect(row!.n).toBe('0');
  });
});

describe('the SSRF guard (private networks not allowed)', () => {
  let guarded: RunningSubgraph;
  let database: TestDatabase;
  let caller: Caller;

  beforeAll(async () => {
    database = await createTestDatabase('events');
    guarded = await startSubgraph(eventsSubgraph, {
      env: {
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        HOST: '127.0.0.1',
        EVENTS_DATABASE_URL: database.url,
        WEBHOOKS_ALLOW_PRIVATE_NETWORKS: 'false',
        WEBHOOK_RETRY_SCHEDULE: '60',
        WEBHOOK_POLL_INTERVAL_MS: '100',
      },
      port: 0,
    });
    caller = {
      kind: 'user',
      userId: owner.id,
      sessionId: owner.sessionId,
      memberships: { [org.id]: 'OWNER' },
    };
  });
  afterAll(async () => {
    await guarded?.close();
    await database?.drop();
  });

  /** GraphQL straight to the guarded subgraph, with the credential the gateway would send. */
  const query = async <T>(text: string, variables?: Record<string, unknown>) =>
    postGraphQL<T>(guarded.url, text, variables, await gatewayHeaders('events', caller));

  it('refuses URLs that point inside, in every form, as a userError on input.url', async () => {
    for (const url of [
      receiver.url('/inside'),
      'http://localhost:8080/',
      'http://2130706433/',
      'http://0x7f.0.0.1/',
      'http://0177.0.0.1/',
      'http://[::1]/',
      'http://[::ffff:127.0.0.1]/',
      'http://169.254.169.254/latest/meta-data/',
      'http://10.1.2.3/',
      'http://[fd00::1]/',
    ]) {
      const { payload, errors } = await mutate(
        query,
        undefined,
        'createWebhookEndpoint',
        { organizationId: org.id, url, eventTypes: [] },
        'webhookEndpoint { id }',
      );
      expect(errors).toEqual([]);
      expect(payload?.userErrors, url).toHaveLength(1);
      expect(payload!.userErrors[0]).toMatchObject({ field: ['input', 'url'], code: 'INVALID' });
    }
  });

  it('refuses an attempt whose host resolves inside, recording why, and sends nothing', async () => {
    // Created while its name pointed elsewhere; now it resolves to loopback (as after a DNS change).
    const created = await mutate<{ webhookEndpoint: { id: string } }>(
      query,
      undefined,
      'createWebhookEndpoint',
      { organizationId: org.id, url: 'https://hooks.example.com/construct', eventTypes: [] },
      'webhookEndpoint { id }',
    );
    expect(created.payload?.userErrors).toEqual([]);
    const endpointId = created.payload!.webhookEndpoint.id;
    const at = nextPath('rebound');
    await sql(database.url, 'UPDATE webhook_endpoints SET url = $2 WHERE id = $1', [
      endpointId,
      `http://localhost:${receiver.port}${at}`,
    ]);
    await ingest(new URL(guarded.url).origin, [platformEvent(org.id)]);

    const delivery = await eventually('a refused attempt', async () => {
      const response = await query<{
        webhookEndpoint: { deliveries: { edges: { node: DeliveryData }[] } };
      }>(
        `query ($id: ID!) { webhookEndpoint(id: $id) { deliveries { edges { node { ${DELIVERY_FIELDS} } } } } }`,
        {
          id: endpointId,
        },
      );
      const node = response.body.data?.webhookEndpoint.deliveries.edges[0]?.node;
      return node && node.attemptCount > 0 ? node : undefined;
    });
    expect(delivery.status).toBe('PENDING');
    expect(delivery.attempts[0]).toMatchObject({
      statusCode: null,
      error: 'refused: localhost resolves to a private or reserved address',
    });
    expect(delivery.attempts[0]!.nextAttemptAt).not.toBeNull();
    expect(receiver.received(at)).toEqual([]);
  });
});
