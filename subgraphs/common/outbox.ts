import type { IncomingHttpHeaders } from 'node:http';
import type pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { request } from 'undici';
import { actorOf, type Caller, SYSTEM_ACTOR } from './caller';
import type { SubgraphConfig } from './config';
import type { JobQueue } from './jobs';
import { loadOrCreateSecret } from './keys';
import type { Logger } from './logger';
import type { EventType, PlatformEvent } from './platform-events';

/**
 * The transactional outbox of platform events. A subgraph emits an event through its own job
 * queue inside the transaction of the change, so the change and its event commit together; a
 * relay worker then posts queued events to the events subgraph until it has taken them. The
 * events subgraph records each event id once, so a relay repeated after a crash is harmless.
 */
export interface Outbox {
  /** Queues `event` within `client`'s open transaction and returns it as it will be recorded. */
  emit(client: pg.ClientBase, event: NewEvent): Promise<PlatformEvent>;
  /** Relays now rather than at the next poll (call after the transaction that emitted commits). */
  wake(): void;
}

export interface NewEvent {
  type: EventType;
  organizationId: string;
  /** Who did it (a user or an API key); the system when absent. */
  actor?: Caller;
  subjects?: Record<string, string>;
  payload?: Record<string, unknown>;
}

export const EVENTS_QUEUE = 'platform-events';
/** Where relayed events are taken (a route served beside GraphQL, by events and by consumers). */
export const INGEST_PATH = '/internal/events';
const RELAY_BATCH = 100;
const RELAY_TIMEOUT_MS = 10_000;

/**
 * The secret relayed batches are signed with (Standard Webhooks): shared by every subgraph and
 * the events subgraph. Development derives it from a key file that all local processes share.
 */
export function ingestSecret(config: SubgraphConfig): string {
  return (
    config.EVENTS_INGEST_SECRET ??
    `whsec_${loadOrCreateSecret(config.KEYS_DIR, 'events-ingest').toString('base64')}`
  );
}

/** Verifies a relayed batch; throws unless the signature, timestamp (±5 min) and body hold. */
export function verifyIngest(secret: string, body: string, headers: IncomingHttpHeaders): PlatformEvent[] {
  const pick = (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
  };
  const verified = new Webhook(secret).verify(body, {
    'webhook-id': pick('webhook-id'),
    'webhook-timestamp': pick('webhook-timestamp'),
    'webhook-signature': pick('webhook-signature'),
  }) as { events?: unknown };
  if (!Array.isArray(verified.events)) throw new Error('a relayed batch has an `events` array');
  return verified.events as PlatformEvent[];
}

/**
 * A durable relay: the jobs of `queue` (platform events) are posted in signed batches of up to
 * 100 to `url` until it answers 2xx. Fixed 2 s retries rather than pg-boss's exponential backoff:
 * a receiver that comes back should get what queued up within seconds, not hours. Seven days of
 * retention is longer than any outage we would sit through without noticing.
 */
export async function relayEvents(
  jobs: JobQueue,
  options: {
    queue: string;
    url: string;
    secret: string;
    logger: Logger;
    /** Who receives, for logs ("events subgraph", "consumer deployments"). */
    receiver: string;
    /** Off in processes that only enqueue (tests of the outbox alone). */
    work?: boolean;
  },
): Promise<void> {
  const { queue, url, logger, receiver } = options;
  await jobs.createQueue(queue, {
    retryLimit: 300_000,
    retryDelay: 2,
    retryBackoff: false,
    expireInSeconds: 60,
    retentionMinutes: 7 * 24 * 60,
  });
  if (options.work === false) return;
  const webhook = new Webhook(options.secret);
  await jobs.workBatch<PlatformEvent>(
    queue,
    { concurrency: 1, batchSize: RELAY_BATCH, pollingIntervalSeconds: 0.5 },
    async (batch) => {
      const body = JSON.stringify({ events: batch.map((job) => job.data) });
      const id = batch[0]!.id;
      const response = await request(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
          'webhook-signature': webhook.sign(id, new Date(), body),
        },
        body,
        headersTimeout: RELAY_TIMEOUT_MS,
        bodyTimeout: RELAY_TIMEOUT_MS,
      }).catch((error: unknown) => {
        logger.warn({ err: error, events: batch.length }, `${receiver} unreachable; relay retries`);
        throw error;
      });
      const text = await response.body.text();
      if (response.statusCode >= 300) {
        logger.warn({ status: response.statusCode, body: text.slice(0, 200) }, `${receiver} refused a relay`);
        throw new Error(`${receiver} answered ${response.statusCode}`);
      }
    },
  );
}

export async function createOutbox(options: {
  jobs: JobQueue;
  /** The emitting subgraph's name, recorded as each event's source. */
  source: string;
  config: SubgraphConfig;
  logger: Logger;
  /** Relay worker: off in processes that only emit (none today) or in tests of the outbox alone. */
  relay?: boolean;
}): Promise<Outbox> {
  const { jobs, source, config, logger } = options;
  await relayEvents(jobs, {
    queue: EVENTS_QUEUE,
    url: new URL(INGEST_PATH, config.EVENTS_URL).toString(),
    secret: ingestSecret(config),
    logger,
    receiver: 'events subgraph',
    work: options.relay,
  });

  return {
    async emit(client, event) {
      const recorded: PlatformEvent = {
        id: `evt_${crypto.randomUUID().replaceAll('-', '')}`,
        type: event.type,
        organizationId: event.organizationId,
        actor: event.actor ? actorOf(event.actor) : SYSTEM_ACTOR,
        source,
        subjects: event.subjects ?? {},
        payload: event.payload ?? {},
        occurredAt: new Date().toISOString(),
      };
      await jobs.send(client, EVENTS_QUEUE, recorded);
      return recorded;
    },
    wake: () => jobs.wake(EVENTS_QUEUE),
  };
}
