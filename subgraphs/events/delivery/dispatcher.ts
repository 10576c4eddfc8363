import type pg from 'pg';
import { Webhook } from 'standardwebhooks';
import type { EventRow } from '../../../db/events/schema';
import { SYSTEM_ACTOR } from '../../common/caller';
import type { Encryptor } from '../../common/encryption';
import { inTransaction } from '../../common/jobs';
import type { Logger } from '../../common/logger';
import type { EventsStorage } from '../storage';
import { createSuccessRecorder, retryOnDeadlock } from './recorder';
import { type RetryPolicy, retryDelayMs } from './schedule';
import type { AttemptResult, Sender } from './sender';

/**
 * The webhook delivery workers.
 *
 * Why a claim loop on `webhook_deliveries` rather than a pg-boss job per delivery: the rows
 * already are the durable queue (committed with their event, in the same transaction), so a
 * job per row would double every write and keep two states in step. A worker claims due rows
 * with `FOR UPDATE SKIP LOCKED` (replicas never take the same row) and sets a lease; an attempt's
 * outcome is recorded in one transaction that also ends the lease. A worker that dies mid-attempt
 * leaves its lease to lapse and the row is claimed again: the only send ever repeated is one
 * whose outcome was never recorded, and receivers deduplicate it by `webhook-id`.
 */
export interface Dispatcher {
  /** Looks for due deliveries now (after a commit that created some). */
  wake(): void;
  /** Stops claiming and waits for attempts in flight to be recorded. */
  close(): Promise<void>;
}

export interface DispatcherOptions {
  pool: pg.Pool;
  /** Where a failure that disables its endpoint records so, in the transaction of the failure. */
  storage: EventsStorage;
  sender: Sender;
  encryptor: Encryptor;
  logger: Logger;
  policy: RetryPolicy;
  concurrency: number;
  /**
   * Attempts in flight to one endpoint: a slow or hanging receiver holds at most this many
   * slots, and the other endpoints' deliveries go on meanwhile.
   */
  concurrencyPerEndpoint: number;
  pollIntervalMs: number;
  /** One attempt's limit: a claim lasts twice that and a second, time enough to record the outcome. */
  timeoutMs: number;
  disableAfterHours: number;
  /** Called after commit with events the workers recorded (an endpoint's `webhook_endpoint.disabled`). */
  onRecorded(events: EventRow[]): void;
}

export const USER_AGENT = 'Construct-Webhooks/1';
const CLAIM_BATCH = 100;

interface Claimed {
  id: string;
  attempt_count: number;
  schedule_start: number;
  endpoint_id: string;
  url: string;
  secret_encrypted: string;
  previous_secret_encrypted: string | null;
  previous_secret_expires_at: Date | null;
  event_id: string;
  type: string;
  organization_id: string;
  actor_kind: EventRow['actorKind'];
  actor_user_id: string | null;
  actor_api_key_id: string | null;
  subjects: Record<string, string>;
  payload: Record<string, unknown>;
  occurred_at: Date;
}

/** The request body of a delivery: the event as emitted, without the emitter's internal name. */
export function deliveryBody(row: {
  event_id: string;
  type: string;
  organization_id: string;
  actor_kind: string;
  actor_user_id: string | null;
  actor_api_key_id: string | null;
  subjects: Record<string, string>;
  payload: Record<string, unknown>;
  occurred_at: Date;
}): string {
  return JSON.stringify({
    id: row.event_id,
    type: row.type,
    organizationId: row.organization_id,
    actor: { kind: row.actor_kind, userId: row.actor_user_id, apiKeyId: row.actor_api_key_id },
    subjects: row.subjects,
    payload: row.payload,
    occurredAt: row.occurred_at.toISOString(),
  });
}

export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { pool, storage, sender, encryptor, logger, policy } = options;
  const leaseMs = 2 * options.timeoutMs + 1000;
  const signers = new Map<string, Webhook>();
  const successes = createSuccessRecorder(pool);
  const inFlight = new Set<Promise<void>>();
  const perEndpoint = new Map<string, number>();
  let stopped = false;
  let pumping = false;
  let again = false;
  /**
   * Claimed rows waiting for a slot. Claims run ahead of the attempts, in batches: a claim is a
   * write and a commit, and a slot that waits for one sits idle. The buffer holds up to two
   * slots' worth; its rows are leased like rows in flight.
   */
  const buffer: Claimed[] = [];
  const bufferTarget = 2 * options.concurrency;
  /** An endpoint's rows, in flight and buffered together, stay under this. */
  const endpointShare = 2 * options.concurrencyPerEndpoint;
  const buffered = new Map<string, number>();
  const count = (map: Map<string, number>, key: string, by: number) => {
    const next = (map.get(key) ?? 0) + by;
    if (next > 0) map.set(key, next);
    else map.delete(key);
  };

  const signer = (ciphertext: string, endpointId: string): Webhook => {
    let webhook = signers.get(ciphertext);
    if (!webhook) {
      // Bounded: secrets of deleted or rotated endpoints fall out.
      if (signers.size > 10_000) signers.clear();
      webhook = new Webhook(encryptor.decrypt(ciphertext, endpointId));
      signers.set(ciphertext, webhook);
    }
    return webhook;
  };

  /**
   * Claims up to `limit` due deliveries, none to the endpoints in `full`. The claim commits
   * without waiting for its WAL flush: a claim lost to a database crash only makes its rows
   * claimable again, as a lapsed lease would.
   */
  async function claim(limit: number, full: string[]): Promise<Claimed[]> {
    return inTransaction(pool, async (client) => {
      await client.query('SET LOCAL synchronous_commit = off');
      return claimOn(client, limit, full);
    });
  }

  async function claimOn(client: pg.PoolClient, limit: number, full: string[]): Promise<Claimed[]> {
    const { rows } = await client.query<Claimed>(
      `WITH due AS (
         SELECT d.id FROM webhook_deliveries d
         JOIN webhook_endpoints w ON w.id = d.endpoint_id AND w.enabled
         WHERE d.status = 'PENDING' AND d.next_attempt_at <= now()
           AND (d.leased_until IS NULL OR d.leased_until < now())
           AND NOT (d.endpoint_id = ANY($3::text[]))
         ORDER BY d.next_attempt_at
         LIMIT $1
         FOR UPDATE OF d SKIP LOCKED
       )
       UPDATE webhook_deliveries d SET leased_until = now() + make_interval(secs => $2::float8 / 1000),
         redeliver_requested = false
       FROM due, events e, webhook_endpoints w
       WHERE d.id = due.id AND e.id = d.event_id AND w.id = d.endpoint_id
       RETURNING d.id, d.attempt_count, d.schedule_start, d.endpoint_id, w.url,
         w.secret_encrypted, w.previous_secret_encrypted, w.previous_secret_expires_at,
         e.id AS event_id, e.type, e.organization_id, e.actor_kind, e.actor_user_id,
         e.actor_api_key_id, e.subjects, e.payload, e.occurred_at`,
      [limit, leaseMs, full],
    );
    return rows;
  }

  /** Gives claimed rows back at once (they went over their endpoint's share of the slots). */
  async function release(ids: string[]): Promise<void> {
    await pool.query('UPDATE webhook_deliveries SET leased_until = NULL WHERE id = ANY($1)', [ids]);
  }

  async function attempt(row: Claimed): Promise<void> {
    const body = deliveryBody(row);
    const now = new Date();
    const signatures = [signer(row.secret_encrypted, row.endpoint_id).sign(row.event_id, now, body)];
    if (
      row.previous_secret_encrypted &&
      row.previous_secret_expires_at &&
      row.previous_secret_expires_at > now
    ) {
      signatures.push(signer(row.previous_secret_encrypted, row.endpoint_id).sign(row.event_id, now, body));
    }
    const result = await sender.send(
      row.url,
      {
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        // The event id: the same for every attempt and redelivery, so receivers deduplicate by it.
        'webhook-id': row.event_id,
        'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
        'webhook-signature': signatures.join(' '),
      },
      body,
    );
    const recorded = await record(row, result);
    if (recorded.length > 0) options.onRecorded(recorded);
  }

  /** Records the attempt and its consequences; returns events it recorded (an endpoint disabled). */
  async function record(row: Claimed, result: AttemptResult): Promise<EventRow[]> {
    const succeeded = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
    if (succeeded) {
      const dueAgain = await successes.record({
        ...result,
        deliveryId: row.id,
        endpointId: row.endpoint_id,
        attemptCount: row.attempt_count,
      });
      if (dueAgain) later(0);
      return [];
    }
    return retryOnDeadlock(() => recordFailure(row, result));
  }

  async function recordFailure(row: Claimed, result: AttemptResult): Promise<EventRow[]> {
    const gone = result.statusCode === 410;
    const failures = row.attempt_count + 1 - row.schedule_start;
    const delay = gone ? null : retryDelayMs(policy, failures, result.retryAfterSeconds);
    return storage.transaction(async (tx, client) => {
      const { rows: endpoints } = await client.query<{ failing_since: Date; enabled: boolean }>(
        `UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, $2)
         WHERE id = $1 RETURNING failing_since, enabled`,
        [row.endpoint_id, result.startedAt],
      );
      const endpoint = endpoints[0];
      // Disabled while the attempt was in flight: nothing more goes to it.
      const retry = delay !== null && endpoint?.enabled === true;
      // A redelivery asked for during the attempt is due now, with its schedule starting after it.
      const { rows: updated } = await client.query<{ next_attempt_at: Date | null }>(
        `UPDATE webhook_deliveries SET
           status = CASE WHEN redeliver_requested AND $5 THEN 'PENDING' ELSE $3 END,
           next_attempt_at = CASE
             WHEN redeliver_requested AND $5 THEN now()
             WHEN $3 = 'PENDING' THEN now() + make_interval(secs => $4::float8 / 1000)
           END,
           schedule_start = CASE WHEN redeliver_requested THEN attempt_count + 1 ELSE schedule_start END,
           attempt_count = attempt_count + 1, redeliver_requested = false,
           leased_until = NULL, updated_at = now()
         WHERE id = $1 AND attempt_count = $2
         RETURNING next_attempt_at`,
        [row.id, row.attempt_count, retry ? 'PENDING' : 'FAILED', delay ?? 0, endpoint?.enabled === true],
      );
      if (updated.length === 0) return [];
      const nextAttemptAt = updated[0]!.next_attempt_at;
      await client.query(
        `INSERT INTO webhook_delivery_attempts (delivery_id, number, started_at, duration_ms, status_code, error, response_excerpt, next_attempt_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          row.id,
          row.attempt_count + 1,
          result.startedAt,
          result.durationMs,
          result.statusCode,
          result.error,
          result.excerpt,
          nextAttemptAt,
        ],
      );
      if (nextAttemptAt) {
        const wait = nextAttemptAt.getTime() - Date.now();
        if (wait < options.pollIntervalMs) later(Math.max(0, wait));
      }
      if (!endpoint?.enabled) return [];
      const failingFor = Date.now() - endpoint.failing_since.getTime();
      const reason = gone ? 'GONE' : failingFor >= options.disableAfterHours * 3_600_000 ? 'FAILING' : null;
      if (!reason) return [];
      const disabled = await tx.disableEndpoint(row.endpoint_id, reason, SYSTEM_ACTOR, {
        statusCode: result.statusCode,
        error: result.error,
        failingSince: endpoint.failing_since.toISOString(),
      });
      if (!disabled) return [];
      logger.info({ endpointId: row.endpoint_id, reason }, 'webhook endpoint disabled');
      return [disabled];
    });
  }

  function start(row: Claimed) {
    count(perEndpoint, row.endpoint_id, 1);
    const running: Promise<void> = attempt(row)
      .catch((error: unknown) => {
        // Recording failed (the database went away): the lease lapses and the row is claimed again.
        logger.error({ err: error, deliveryId: row.id }, 'webhook attempt could not be recorded');
      })
      .finally(() => {
        inFlight.delete(running);
        count(perEndpoint, row.endpoint_id, -1);
        dispatch();
        if (buffer.length < options.concurrency) void pump();
      });
    inFlight.add(running);
  }

  /** Fills free slots from the buffer, skipping rows of endpoints at their share of slots. */
  function dispatch() {
    for (let i = 0; i < buffer.length && inFlight.size < options.concurrency && !stopped; ) {
      const row = buffer[i]!;
      if ((perEndpoint.get(row.endpoint_id) ?? 0) >= options.concurrencyPerEndpoint) {
        i++;
        continue;
      }
      buffer.splice(i, 1);
      count(buffered, row.endpoint_id, -1);
      start(row);
    }
  }

  const held = (endpointId: string) => (perEndpoint.get(endpointId) ?? 0) + (buffered.get(endpointId) ?? 0);

  async function pump(): Promise<void> {
    if (stopped) return;
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    try {
      do {
        again = false;
        dispatch();
        const wanted = Math.min(CLAIM_BATCH, bufferTarget - buffer.length);
        if (wanted <= 0) break;
        const endpoints = new Set([...perEndpoint.keys(), ...buffered.keys()]);
        const full = [...endpoints].filter((id) => held(id) >= endpointShare);
        const rows = await claim(wanted, full);
        const over: string[] = [];
        for (const row of rows) {
          if (held(row.endpoint_id) >= endpointShare) {
            over.push(row.id);
          } else {
            buffer.push(row);
            count(buffered, row.endpoint_id, 1);
          }
        }
        if (over.length > 0) await release(over);
        dispatch();
        // A full claim: more may be due. Rows given back: other endpoints' may be due.
        if (rows.length === wanted || over.length > 0) again = true;
      } while (again && !stopped);
    } catch (error) {
      logger.warn({ err: error }, 'claiming webhook deliveries failed; next poll retries');
    } finally {
      pumping = false;
    }
  }

  const timers = new Set<NodeJS.Timeout>();
  function later(ms: number) {
    const timer = setTimeout(() => {
      timers.delete(timer);
      void pump();
    }, ms + 5);
    timer.unref();
    timers.add(timer);
  }

  const poll = setInterval(() => void pump(), options.pollIntervalMs);
  poll.unref();
  void pump();

  return {
    wake: () => void pump(),
    async close() {
      stopped = true;
      clearInterval(poll);
      for (const timer of timers) clearTimeout(timer);
      // Rows claimed but not started go back now rather than when their lease lapses.
      const waiting = buffer.splice(0).map((row) => row.id);
      if (waiting.length > 0) await release(waiting).catch(() => {});
      await Promise.allSettled([...inFlight]);
    },
  };
}
