import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createEndpoint,
  type EventsTestbed,
  platformEvent,
  startEventsServices,
} from '../../../test/support/events-services';
import { organizationId, userCaller } from '../../../test/support/services';
import { startWebhookReceiver, type WebhookReceiver } from '../../../test/support/webhook-receiver';

let testbed: EventsTestbed;
let receiver: WebhookReceiver;
beforeAll(async () => {
  receiver = await startWebhookReceiver();
  testbed = await startEventsServices();
});
afterAll(async () => {
  await testbed?.close();
  await receiver?.close();
});

const ingest = () => testbed.services.ingest;

async function count(sql: string, values: unknown[]): Promise<number> {
  const { rows } = await testbed.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, values);
  return rows[0]!.n;
}

describe('the ingest service', () => {
  it('records an event id once, however often and however concurrently its batch is relayed', async () => {
    const org = organizationId();
    const admin = userCaller({ [org]: 'ADMIN' });
    const endpoint = await createEndpoint(testbed, admin, {
      organizationId: org,
      url: receiver.url('/once'),
      eventTypes: [],
    });
    const batch = [platformEvent(org), platformEvent(org)];

    expect(await ingest().record(batch)).toEqual({ recorded: 2 });
    expect(await ingest().record(batch)).toEqual({ recorded: 0 });
    const relayed = [...batch, platformEvent(org)];
    const relays = await Promise.all([1, 2, 3].map(() => ingest().record(relayed)));
    expect(relays.map((r) => r.recorded).sort()).toEqual([0, 0, 1]);

    expect(await count('events WHERE organization_id = $1', [org])).toBe(3);
    expect(await count('webhook_deliveries WHERE endpoint_id = $1', [endpoint.id])).toBe(3);
    const received = await receiver.waitFor('/once', 3);
    expect(new Set(received.map((r) => r.headers['webhook-id'])).size).toBe(3);
  });

  it('creates, in the recording transaction, deliveries to the enabled endpoints that want the type', async () => {
    const org = organizationId();
    const admin = userCaller({ [org]: 'ADMIN' });
    const endpoint = (path: string, eventTypes: string[]) =>
      createEndpoint(testbed, admin, { organizationId: org, url: receiver.url(path), eventTypes });
    const everything = await endpoint('/all', []);
    const projects = await endpoint('/projects', ['project.created']);
    await endpoint('/deployments', ['deployment.ready']);
    const disabled = await endpoint('/disabled', ['project.created']);
    await testbed.services.endpoints.update(testbed.scope(admin), { id: disabled.id, enabled: false });
    const elsewhere = organizationId();
    await createEndpoint(testbed, userCaller({ [elsewhere]: 'ADMIN' }), {
      organizationId: elsewhere,
      url: receiver.url('/elsewhere'),
      eventTypes: [],
    });

    const event = platformEvent(org, { type: 'project.created' });
    await ingest().record([event]);
    const { rows } = await testbed.pool.query<{ endpoint_id: string; same_transaction: boolean }>(
      `SELECT d.endpoint_id, d.created_at = e.recorded_at AS same_transaction
       FROM webhook_deliveries d JOIN events e ON e.id = d.event_id WHERE d.event_id = $1`,
      [event.id],
    );
    expect(rows.map((r) => r.endpoint_id).sort()).toEqual([everything.id, projects.id].sort());
    // now() is the transaction's start: equal times mean the deliveries committed with the event.
    expect(rows.every((r) => r.same_transaction)).toBe(true);
  });

  it('queues the events a consumer acts on for it, once, with the event', async () => {
    const org = organizationId();
    const deleted = platformEvent(org, { type: 'organization.deleted', source: 'accounts', subjects: {} });
    const created = platformEvent(org, { type: 'project.created' });
    await ingest().record([deleted, created]);
    await ingest().record([deleted, created]);

    const queued = (id: string) =>
      count(`pgboss.job WHERE name = 'consumer-deployments' AND data->>'id' = $1`, [id]);
    expect(await queued(deleted.id)).toBe(1);
    expect(await queued(created.id)).toBe(0);
  });
});
