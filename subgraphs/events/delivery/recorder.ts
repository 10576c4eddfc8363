import type pg from 'pg';
import { inTransaction } from '../../common/jobs';
import type { AttemptResult } from './sender';

/** A successful attempt, to be recorded with its delivery. */
export interface Success extends AttemptResult {
  deliveryId: string;
  endpointId: string;
  /** The delivery's attempt count when it was claimed: the attempt recorded is the next one. */
  attemptCount: number;
}

export interface SuccessRecorder {
  /**
   * Resolves once the success is committed (or known to be someone else's to record): true when
   * a redelivery was asked for meanwhile, so the delivery is due again now.
   */
  record(success: Success): Promise<boolean>;
}

/**
 * Records successful attempts in groups: while one transaction commits, the successes that come
 * in meanwhile wait and go together in the next. Under load that turns hundreds of commits a
 * second (each a WAL flush) into a few dozen, and alone it costs nothing: a lone success is
 * written at once.
 *
 * A lease that lapsed and was claimed again by another worker shows as a changed attempt count:
 * that worker records its own attempt, this one's is dropped.
 */
export function createSuccessRecorder(pool: pg.Pool): SuccessRecorder {
  let queue: { success: Success; done: (dueAgain: boolean) => void; failed: (error: unknown) => void }[] = [];
  let writing = false;

  async function flush() {
    writing = true;
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      try {
        const dueAgain = await retryOnDeadlock(() => write(batch.map((item) => item.success)));
        for (const item of batch) item.done(dueAgain.has(item.success.deliveryId));
      } catch (error) {
        for (const item of batch) item.failed(error);
      }
    }
    writing = false;
  }

  /** Returns the deliveries a redelivery request made due again. */
  async function write(batch: Success[]): Promise<Set<string>> {
    const endpoints = [...new Set(batch.map((s) => s.endpointId))].sort();
    return inTransaction(pool, async (client) => {
      // Endpoints first, then deliveries: the order the failure path locks them in too.
      await client.query(
        'UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ANY($1) AND failing_since IS NOT NULL',
        [endpoints],
      );
      // A redelivery asked for during the attempt leaves the delivery due now, its schedule
      // starting after this attempt, instead of SUCCEEDED.
      const { rows } = await client.query<{ id: string }>(
        `WITH input AS (
           SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::int[], $5::int[], $6::text[])
             AS t(id, claimed_count, started_at, duration_ms, status_code, excerpt)
         ), d AS (
           UPDATE webhook_deliveries w SET
             status = CASE WHEN w.redeliver_requested THEN 'PENDING' ELSE 'SUCCEEDED' END,
             next_attempt_at = CASE WHEN w.redeliver_requested THEN now() END,
             schedule_start = CASE WHEN w.redeliver_requested THEN w.attempt_count + 1 ELSE w.schedule_start END,
             attempt_count = w.attempt_count + 1, redeliver_requested = false,
             leased_until = NULL, updated_at = now()
           FROM input i WHERE w.id = i.id AND w.attempt_count = i.claimed_count
           RETURNING i.*, w.status
         ), attempts AS (
           INSERT INTO webhook_delivery_attempts (delivery_id, number, started_at, duration_ms, status_code, response_excerpt)
           SELECT id, claimed_count + 1, started_at, duration_ms, status_code, excerpt FROM d
         )
         SELECT id FROM d WHERE status = 'PENDING'`,
        [
          batch.map((s) => s.deliveryId),
          batch.map((s) => s.attemptCount),
          batch.map((s) => s.startedAt),
          batch.map((s) => s.durationMs),
          batch.map((s) => s.statusCode),
          batch.map((s) => s.excerpt),
        ],
      );
      return new Set(rows.map((row) => row.id));
    });
  }

  return {
    record(success) {
      return new Promise<boolean>((done, failed) => {
        queue.push({ success, done, failed });
        if (!writing) void flush();
      });
    },
  };
}

const RETRYABLE = new Set(['40P01', '40001']);

/**
 * Runs `work` (a transaction) again when PostgreSQL broke a deadlock or a serialization
 * conflict by aborting it: disabling an endpoint ends its pending deliveries while other
 * workers record theirs, and one of two such transactions may be chosen to give way.
 */
export async function retryOnDeadlock<T>(work: () => Promise<T>, tries = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (attempt >= tries || !code || !RETRYABLE.has(code)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10 * attempt));
    }
  }
}
