import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../subgraphs/common/caller';
import { gatewayHeaders } from './support/credentials';
import { createTestDatabase, type TestDatabase } from './support/database';
import { eventually, ingest, platformEvent, sql } from './support/events-helpers';
import { type ChildSubgraph, spawnSubgraph } from './support/processes';
import { mutate, postGraphQL } from './support/supergraph';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver';

/**
 * Webhook delivery across a crash: the events subgraph as a real process, killed with SIGKILL
 * while deliveries are pending or in flight, then started again. Every event reaches every
 * endpoint, and an event reaches an endpoint twice only when an attempt was in flight at the
 * crash (its outcome was never recorded, so it is made again: receivers deduplicate by
 * `webhook-id`).
 */

const TIMEOUT_MS = 1000;
const ORG = 'org_01JDURABILITYTEST000000000';

let database: TestDatabase;
let receiver: WebhookReceiver;
let events: ChildSubgraph;
const caller: Caller = {
  kind: 'user',
  userId: 'usr_durability',
  sessionId: 'ses_durability',
  memberships: { [ORG]: 'OWNER' },
};

beforeAll(async () => {
  database = await createTestDatabase('events');
  receiver = await startWebhookReceiver();
  events = await spawnSubgraph('events', {
    databaseUrl: database.url,
    env: {
      // Retry quickly, for long enough to outlast the outage.
      WEBHOOK_RETRY_SCHEDULE: Array.from({ length: 200 }, () => '0.25').join(','),
      WEBHOOK_RETRY_JITTER: '0',
      WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS),
      WEBHOOK_POLL_INTERVAL_MS: '100',
    },
  });
});
afterAll(async () => {
  await events?.kill();
  await receiver?.close();
  await database?.drop();
});

const origin = () => `http://127.0.0.1:${events.port}`;

async function createEndpoint(path: string): Promise<string> {
  const query = async <T>(text: string, variables?: Record<string, unknown>) =>
    postGraphQL<T>(events.url, text, variables, await gatewayHeaders('events', caller));
  const { payload, errors } = await mutate<{ webhookEndpoint: { id: string } }>(
    query,
    undefined,
    'createWebhookEndpoint',
    { organizationId: ORG, url: receiver.url(path), eventTypes: [] },
    'webhookEndpoint { id }',
  );
  expect(errors).toEqual([]);
  expect(payload?.userErrors).toEqual([]);
  return payload!.webhookEndpoint.id;
}

/** webhook-ids received on `path`, with how often each came. */
function countsOf(path: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const request of receiver.received(path)) {
    const id = String(request.headers['webhook-id']);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

describe('webhook delivery across a crash', () => {
  it('delivers every event once after the receiver was down and the subgraph was killed', async () => {
    const paths = ['/down-a', '/down-b'];
    for (const path of paths) await createEndpoint(path);
    await receiver.stop();

    const batches = Array.from({ length: 4 }, () => Array.from({ length: 10 }, () => platformEvent(ORG)));
    for (const batch of batches) await ingest(origin(), batch);
    const ids = batches.flat().map((e) => e.id);
    // Attempts fail (connection refused) and are rescheduled while the receiver is down.
    await eventually('failed attempts to be recorded', async () => {
      const [row] = await sql<{ n: string }>(
        database.url,
        'SELECT count(*) AS n FROM webhook_delivery_attempts',
      );
      return Number(row!.n) >= ids.length * paths.length ? true : undefined;
    });

    await events.kill('SIGKILL');
    await events.restart();
    await receiver.start();

    for (const path of paths) await receiver.waitFor(path, ids.length, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const path of paths) {
      const counts = countsOf(path);
      expect([...counts.keys()].sort()).toEqual([...ids].sort());
      // Nothing was in flight to a receiver that was down: no event came twice.
      expect([...counts.values()].every((n) => n === 1)).toBe(true);
    }
    const states = await sql<{ status: string; n: string }>(
      database.url,
      'SELECT status, count(*) AS n FROM webhook_deliveries GROUP BY status',
    );
    expect(states).toEqual([{ status: 'SUCCEEDED', n: String(ids.length * paths.length) }]);
    // Every attempt of every delivery is recorded, numbered without a gap.
    const gaps = await sql(
      database.url,
      `SELECT d.id FROM webhook_deliveries d JOIN webhook_delivery_attempts a ON a.delivery_id = d.id
       GROUP BY d.id, d.attempt_count HAVING count(*) <> d.attempt_count OR max(a.number) <> d.attempt_count`,
    );
    expect(gaps).toEqual([]);
  });

  it('sends again only the attempts that were in flight when the subgraph was killed', async () => {
    const path = '/slow';
    await createEndpoint(path);
    // The receiver takes its time: attempts are in flight when the process dies.
    receiver.script(path, [], { delayMs: 300 });
    const batch = Array.from({ length: 30 }, () => platformEvent(ORG));
    await ingest(origin(), batch);
    await receiver.waitFor(path, 5);
    await events.kill('SIGKILL');
    // Requests the dead process had already written may still be in this process's socket
    // buffers: let the receiver read them before saying what arrived before the crash.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const beforeCrash = new Set(receiver.received(path).map((r) => String(r.headers['webhook-id'])));

    receiver.script(path, []);
    await events.restart();
    // Claims of the dead process lapse (2 × timeout + 1 s) and are taken again.
    await eventually(
      'every event delivered',
      async () => (countsOf(path).size === batch.length ? true : undefined),
      20_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    const counts = countsOf(path);
    for (const [id, n] of counts) {
      if (n > 1) expect(beforeCrash.has(id), `${id} came ${n} times`).toBe(true);
      expect(n).toBeLessThanOrEqual(2);
    }
    const [pending] = await sql<{ n: string }>(
      database.url,
      `SELECT count(*) AS n FROM webhook_deliveries WHERE status <> 'SUCCEEDED'`,
    );
    expect(pending!.n).toBe('0');
  });
});
