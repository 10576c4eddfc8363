import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { expect } from 'vitest';
import { subgraphSettings } from '../../subgraphs/common/config';
import { INGEST_PATH, ingestSecret } from '../../subgraphs/common/outbox';
import type { PlatformEvent } from '../../subgraphs/common/platform-events';
import type { TestUser } from './factories';
import { mutate, type TestSupergraph } from './supergraph';

/**
 * What the events and webhooks tests share: platform events as an emitter makes them, batches
 * signed as the outbox relay signs them, and GraphQL helpers for endpoints and deliveries.
 */

export { platformEvent } from './events-services';

/** The secret every test process shares (development key under .data/keys). */
export const testIngestSecret = () => ingestSecret(subgraphSettings('events').parse({ NODE_ENV: 'test' }));

/** A relayed batch: body and Standard Webhooks headers, signed with `secret` at `at`. */
export function signedBatch(
  events: unknown[],
  options: { secret?: string; at?: Date; body?: string } = {},
): { body: string; headers: Record<string, string> } {
  const body = options.body ?? JSON.stringify({ events });
  const at = options.at ?? new Date();
  const id = `msg_${randomUUID()}`;
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(options.secret ?? testIngestSecret()).sign(id, at, body),
    },
  };
}

/** POSTs a batch to the events subgraph's ingest route, as the relay does. */
export async function postBatch(
  eventsOrigin: string,
  batch: { body: string; headers: Record<string, string> },
) {
  const response = await fetch(new URL(INGEST_PATH, eventsOrigin), {
    method: 'POST',
    headers: batch.headers,
    body: batch.body,
  });
  const text = await response.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: response.status, text, json };
}

export async function ingest(eventsOrigin: string, events: PlatformEvent[]) {
  const response = await postBatch(eventsOrigin, signedBatch(events));
  expect(response.status, response.text).toBe(200);
  return response.json as { received: number; recorded: number };
}

export const ENDPOINT_FIELDS =
  'id url description eventTypes enabled disabledReason disabledAt failingSince createdAt updatedAt';

export interface EndpointData {
  id: string;
  url: string;
  description: string;
  eventTypes: string[];
  enabled: boolean;
  disabledReason: string | null;
  disabledAt: string | null;
  failingSince: string | null;
  secret?: string | null;
}

/** Creates an endpoint that must be accepted; returns it with its secret. */
export async function createEndpoint(
  query: TestSupergraph['query'],
  user: Pick<TestUser, 'headers'>,
  organizationId: string,
  url: string,
  eventTypes: string[] = [],
): Promise<EndpointData & { secret: string }> {
  const { payload, errors } = await mutate<{ webhookEndpoint: EndpointData }>(
    query,
    user,
    'createWebhookEndpoint',
    { organizationId, url, eventTypes },
    `webhookEndpoint { ${ENDPOINT_FIELDS} secret }`,
  );
  expect(errors).toEqual([]);
  expect(payload?.userErrors).toEqual([]);
  return payload!.webhookEndpoint as EndpointData & { secret: string };
}

export interface AttemptData {
  number: number;
  statusCode: number | null;
  error: string | null;
  responseExcerpt: string | null;
  nextAttemptAt: string | null;
  durationMs: number;
  startedAt: string;
}

export interface DeliveryData {
  id: string;
  status: string;
  attemptCount: number;
  nextAttemptAt: string | null;
  event: { id: string; type: string };
  attempts: AttemptData[];
}

export const DELIVERY_FIELDS =
  'id status attemptCount nextAttemptAt event { id type } attempts { number statusCode error responseExcerpt nextAttemptAt durationMs startedAt }';

/** An endpoint's deliveries, newest first. */
export async function deliveriesOf(
  query: TestSupergraph['query'],
  user: Pick<TestUser, 'headers'>,
  endpointId: string,
): Promise<DeliveryData[]> {
  const response = await query<{
    webhookEndpoint: { deliveries: { edges: { node: DeliveryData }[] } } | null;
  }>(
    `query ($id: ID!) { webhookEndpoint(id: $id) { deliveries(first: 100) { edges { node { ${DELIVERY_FIELDS} } } } } }`,
    { id: endpointId },
    user.headers,
  );
  expect(response.body.errors).toBeUndefined();
  return response.body.data!.webhookEndpoint!.deliveries.edges.map((edge) => edge.node);
}

/** Polls until `check` returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Runs SQL on a test database (arranging state the API cannot, such as an old failure). */
export async function sql<T extends pg.QueryResultRow = Record<string, unknown>>(
  databaseUrl: string,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}
