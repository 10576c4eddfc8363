import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createEndpoint,
  type EventsTestbed,
  startEventsServices,
} from '../../../test/support/events-services';
import { anonymousCaller, apiKeyCaller, organizationId, userCaller } from '../../../test/support/services';
import { startWebhookReceiver, type WebhookReceiver } from '../../../test/support/webhook-receiver';

const LIMIT = 3;

let testbed: EventsTestbed;
let receiver: WebhookReceiver;
beforeAll(async () => {
  receiver = await startWebhookReceiver();
  testbed = await startEventsServices({ WEBHOOK_ENDPOINTS_PER_ORGANIZATION: String(LIMIT) });
});
afterAll(async () => {
  await testbed?.close();
  await receiver?.close();
});

const endpoints = () => testbed.services.endpoints;
let paths = 0;
/** A URL on the receiver no other test sends to. */
const hook = () => receiver.url(`/hook-${++paths}`);
const pathOf = (url: string) => new URL(url).pathname;
/** How long a delivery may take to be recorded on a busy machine (the workers poll every 50 ms). */
const patience = { timeout: 10_000, interval: 50 };

/** An organization with an ADMIN, and an endpoint of it that receives every event type. */
async function organizationWithEndpoint() {
  const org = organizationId();
  const admin = userCaller({ [org]: 'ADMIN' });
  const endpoint = await createEndpoint(testbed, admin, { organizationId: org, url: hook(), eventTypes: [] });
  return { org, admin, endpoint };
}

async function deliveriesOf(endpointId: string) {
  const { rows } = await testbed.pool.query<{ id: string; status: string; type: string; event_id: string }>(
    `SELECT d.id, d.status, e.type, d.event_id FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
     WHERE d.endpoint_id = $1 ORDER BY d.id`,
    [endpointId],
  );
  return rows;
}

describe('the webhook endpoints service', () => {
  it('lets ADMINs and ADMIN-scoped API keys create endpoints, and no one below', async () => {
    const org = organizationId();
    const input = { organizationId: org, url: hook(), eventTypes: ['deployment.ready'] };

    const byAdmin = await endpoints().create(testbed.scope(userCaller({ [org]: 'ADMIN' })), input);
    expect(byAdmin.userErrors).toEqual([]);
    expect(byAdmin.webhookEndpoint).toMatchObject({ organizationId: org, eventTypes: ['deployment.ready'] });
    const byKey = await endpoints().create(testbed.scope(apiKeyCaller(org, 'ADMIN')), input);
    expect(byKey.webhookEndpoint?.organizationId).toBe(org);

    for (const caller of [userCaller({ [org]: 'MEMBER' }), apiKeyCaller(org, 'MEMBER')]) {
      await expect(endpoints().create(testbed.scope(caller), input)).rejects.toMatchObject({
        extensions: { code: 'FORBIDDEN' },
      });
    }
    await expect(endpoints().create(testbed.scope(anonymousCaller), input)).rejects.toMatchObject({
      extensions: { code: 'UNAUTHENTICATED' },
    });
    const { rows } = await testbed.pool.query('SELECT id FROM webhook_endpoints WHERE organization_id = $1', [
      org,
    ]);
    expect(rows).toHaveLength(2);
  });

  it('lets VIEWERs read endpoints and deliveries but not the secret', async () => {
    const { org, admin, endpoint } = await organizationWithEndpoint();
    await endpoints().sendTest(testbed.scope(admin), { id: endpoint.id });
    const viewer = testbed.scope(userCaller({ [org]: 'VIEWER' }));

    expect((await endpoints().visible(viewer, endpoint.id))?.url).toBe(endpoint.url);
    expect((await endpoints().ofOrganization(viewer, org)).map((e) => e.id)).toEqual([endpoint.id]);
    const deliveries = await endpoints().deliveries(viewer, endpoint, { first: 10 });
    expect(deliveries.edges).toHaveLength(1);
    expect(() => endpoints().secret(viewer, endpoint)).toThrow(
      expect.objectContaining({ extensions: { code: 'FORBIDDEN' } }),
    );
    expect(endpoints().secret(testbed.scope(admin), endpoint)).toMatch(/^whsec_/);
    await expect(endpoints().rotateSecret(viewer, { id: endpoint.id })).rejects.toMatchObject({
      extensions: { code: 'FORBIDDEN' },
    });
  });

  it('shows a non-member nothing, and answers them as if the organization did not exist', async () => {
    const { org, admin, endpoint } = await organizationWithEndpoint();
    const { delivery } = await endpoints().sendTest(testbed.scope(admin), { id: endpoint.id });
    const stranger = testbed.scope(userCaller({ [organizationId()]: 'OWNER' }));

    expect(await endpoints().visible(stranger, endpoint.id)).toBeNull();
    expect(await endpoints().ofOrganization(stranger, org)).toEqual([]);
    expect(await endpoints().visibleDelivery(stranger, delivery!.id)).toBeNull();
    const created = await endpoints().create(stranger, { organizationId: org, url: hook(), eventTypes: [] });
    expect(created.userErrors).toMatchObject([{ field: ['input', 'organizationId'], code: 'NOT_FOUND' }]);
    const updated = await endpoints().update(stranger, { id: endpoint.id, url: hook() });
    expect(updated.userErrors).toMatchObject([{ field: ['input', 'id'], code: 'NOT_FOUND' }]);
    const redelivered = await endpoints().redeliver(stranger, { deliveryId: delivery!.id });
    expect(redelivered.userErrors).toMatchObject([{ field: ['input', 'deliveryId'], code: 'NOT_FOUND' }]);
    expect(
      (await endpoints().visible(testbed.scope(userCaller({ [org]: 'VIEWER' })), endpoint.id))?.url,
    ).toBe(endpoint.url);
  });

  it(`holds at most ${LIMIT} endpoints per organization, also when created at once`, async () => {
    const org = organizationId();
    const admin = testbed.scope(userCaller({ [org]: 'ADMIN' }));
    const results = await Promise.all(
      Array.from({ length: LIMIT + 12 }, () =>
        endpoints().create(admin, { organizationId: org, url: hook(), eventTypes: [] }),
      ),
    );
    expect(results.filter((r) => r.webhookEndpoint).length).toBe(LIMIT);
    const refused = results.filter((r) => !r.webhookEndpoint);
    expect(refused.map((r) => r.userErrors[0]?.code)).toEqual(Array(12).fill('LIMIT_REACHED'));
    expect(refused[0]!.userErrors[0]!.message).toContain(`at most ${LIMIT}`);
  });

  it('refuses unknown event types and unusable URLs, naming the field', async () => {
    const org = organizationId();
    const admin = testbed.scope(userCaller({ [org]: 'ADMIN' }));
    const unknown = await endpoints().create(admin, {
      organizationId: org,
      url: hook(),
      eventTypes: ['deployment.ready', 'spaceship.launched'],
    });
    expect(unknown.webhookEndpoint).toBeNull();
    expect(unknown.userErrors).toMatchObject([{ field: ['input', 'eventTypes'], code: 'INVALID' }]);
    expect(unknown.userErrors[0]!.message).toContain('spaceship.launched');

    const badUrl = await endpoints().create(admin, {
      organizationId: org,
      url: 'ftp://example.com/',
      eventTypes: [],
    });
    expect(badUrl.userErrors).toMatchObject([{ field: ['input', 'url'], code: 'INVALID' }]);

    const { endpoint, admin: owner } = await organizationWithEndpoint();
    const update = await endpoints().update(testbed.scope(owner), { id: endpoint.id, eventTypes: ['nope'] });
    expect(update.userErrors).toMatchObject([{ field: ['input', 'eventTypes'], code: 'INVALID' }]);
    expect((await endpoints().visible(testbed.scope(owner), endpoint.id))?.eventTypes).toEqual([]);
  });

  it('keeps the signing secret encrypted at rest, bound to its endpoint', async () => {
    const { org, admin, endpoint } = await organizationWithEndpoint();
    const secret = endpoints().secret(testbed.scope(admin), endpoint);
    const { rows } = await testbed.pool.query('SELECT * FROM webhook_endpoints WHERE id = $1', [endpoint.id]);
    expect(rows[0].secret_encrypted).toMatch(/^v1\./);
    expect(JSON.stringify(rows)).not.toContain(secret.slice('whsec_'.length));

    // A ciphertext copied to another endpoint does not decrypt there.
    const other = await createEndpoint(testbed, admin, { organizationId: org, url: hook(), eventTypes: [] });
    expect(() =>
      endpoints().secret(testbed.scope(admin), { ...other, secretEncrypted: endpoint.secretEncrypted }),
    ).toThrow();
  });

  it('signs with the old secret beside the new one for the overlap after a rotation', async () => {
    const { admin, endpoint } = await organizationWithEndpoint();
    const scope = testbed.scope(admin);
    const oldSecret = endpoints().secret(scope, endpoint);
    const rotated = await endpoints().rotateSecret(scope, { id: endpoint.id });
    const newSecret = endpoints().secret(scope, rotated.webhookEndpoint!);
    expect(newSecret).not.toBe(oldSecret);
    expect(rotated.webhookEndpoint!.previousSecretEncrypted).toBe(endpoint.secretEncrypted);
    const hoursLeft = (rotated.webhookEndpoint!.previousSecretExpiresAt!.getTime() - Date.now()) / 3_600_000;
    expect(hoursLeft).toBeGreaterThan(23.9);
    expect(hoursLeft).toBeLessThanOrEqual(24);

    await endpoints().sendTest(scope, { id: endpoint.id });
    const [received] = await receiver.waitFor(pathOf(endpoint.url), 1);
    const headers = received!.headers as Record<string, string>;
    expect(headers['webhook-signature']!.split(' ')).toHaveLength(2);
    for (const secret of [newSecret, oldSecret]) {
      expect(() => new Webhook(secret).verify(received!.body, headers)).not.toThrow();
    }
  });

  it('deletes an endpoint with its deliveries; it is then gone for everyone', async () => {
    const { org, admin, endpoint } = await organizationWithEndpoint();
    await endpoints().sendTest(testbed.scope(admin), { id: endpoint.id });
    expect(await deliveriesOf(endpoint.id)).toHaveLength(1);

    const deleted = await endpoints().delete(testbed.scope(admin), { id: endpoint.id });
    expect(deleted).toEqual({ deletedWebhookEndpointId: endpoint.id, userErrors: [] });
    expect(await endpoints().visible(testbed.scope(admin), endpoint.id)).toBeNull();
    expect(await endpoints().ofOrganization(testbed.scope(admin), org)).toEqual([]);
    expect(await deliveriesOf(endpoint.id)).toEqual([]);
    const again = await endpoints().delete(testbed.scope(admin), { id: endpoint.id });
    expect(again.userErrors).toMatchObject([{ code: 'NOT_FOUND' }]);
  });

  it('sends a test event to that endpoint only, and it arrives signed with its id', async () => {
    const { org, admin, endpoint } = await organizationWithEndpoint();
    const other = await createEndpoint(testbed, admin, { organizationId: org, url: hook(), eventTypes: [] });
    const sent = await endpoints().sendTest(testbed.scope(admin), { id: endpoint.id });
    expect(sent.userErrors).toEqual([]);
    const event = await endpoints().eventOf(testbed.scope(admin), sent.delivery!);
    expect(event).toMatchObject({ type: 'webhook.test', subjects: { webhookEndpointId: endpoint.id } });

    expect(await deliveriesOf(endpoint.id)).toMatchObject([{ id: sent.delivery!.id, type: 'webhook.test' }]);
    expect(await deliveriesOf(other.id)).toEqual([]);
    const [received] = await receiver.waitFor(pathOf(endpoint.url), 1);
    expect(received!.headers['webhook-id']).toBe(event.id);
    expect(JSON.parse(received!.body)).toMatchObject({
      id: event.id,
      type: 'webhook.test',
      organizationId: org,
    });
  });

  it('redelivers a delivered event: due again, sent again with the same webhook-id', async () => {
    const { admin, endpoint } = await organizationWithEndpoint();
    const sent = await endpoints().sendTest(testbed.scope(admin), { id: endpoint.id });
    await receiver.waitFor(pathOf(endpoint.url), 1);
    await vi.waitFor(
      async () => expect((await deliveriesOf(endpoint.id))[0]?.status).toBe('SUCCEEDED'),
      patience,
    );

    const viewer = userCaller({ [endpoint.organizationId]: 'VIEWER' });
    await expect(
      endpoints().redeliver(testbed.scope(viewer), { deliveryId: sent.delivery!.id }),
    ).rejects.toMatchObject({ extensions: { code: 'FORBIDDEN' } });

    const redelivered = await endpoints().redeliver(testbed.scope(admin), { deliveryId: sent.delivery!.id });
    expect(redelivered.userErrors).toEqual([]);
    expect(redelivered.delivery).toMatchObject({ id: sent.delivery!.id, status: 'PENDING' });
    const [first, second] = await receiver.waitFor(pathOf(endpoint.url), 2);
    expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
    await vi.waitFor(async () => {
      const attempts = await endpoints().attempts(testbed.scope(admin), sent.delivery!);
      expect(attempts.map((a) => a.statusCode)).toEqual([200, 200]);
    }, patience);
  });

  it('disabling an endpoint records why and stops test sends until it is enabled again', async () => {
    const { org, admin, endpoint } = await organizationWithEndpoint();
    const disabled = await endpoints().update(testbed.scope(admin), { id: endpoint.id, enabled: false });
    expect(disabled.webhookEndpoint).toMatchObject({ enabled: false, disabledReason: 'MANUAL' });
    const { rows } = await testbed.pool.query(
      `SELECT payload FROM events WHERE organization_id = $1 AND type = 'webhook_endpoint.disabled'`,
      [org],
    );
    expect(rows).toMatchObject([{ payload: { reason: 'MANUAL', url: endpoint.url } }]);
    const refused = await endpoints().sendTest(testbed.scope(admin), { id: endpoint.id });
    expect(refused.userErrors).toMatchObject([{ field: ['input', 'id'], code: 'CONFLICT' }]);

    const enabled = await endpoints().update(testbed.scope(admin), { id: endpoint.id, enabled: true });
    expect(enabled.webhookEndpoint).toMatchObject({ enabled: true, disabledReason: null });
    expect((await endpoints().sendTest(testbed.scope(admin), { id: endpoint.id })).userErrors).toEqual([]);
  });
});
