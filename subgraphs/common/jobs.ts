import type pg from 'pg';
import PgBoss from 'pg-boss';
import type { Logger } from './logger';

/**
 * Durable work on pg-boss, in the subgraph's own database. A job is enqueued through the
 * transaction that makes the change causing it (transactional outbox), so a crash loses
 * neither: both commit or neither does.
 */
export interface JobQueue {
  /** Declares a queue (idempotent); call before `send` or `work` on it. */
  createQueue(name: string, options?: Omit<PgBoss.Queue, 'name'>): Promise<void>;
  /** Enqueues within `client`'s open transaction. Null when a singleton key already has a job queued. */
  send(
    client: pg.ClientBase,
    name: string,
    data: object,
    options?: PgBoss.SendOptions,
  ): Promise<string | null>;
  /**
   * Runs `handler` for each job, `concurrency` at a time in this process. A handler that throws
   * fails the job (pg-boss retries it per the queue's policy).
   */
  work<T extends object>(
    name: string,
    options: { concurrency: number; pollingIntervalSeconds?: number },
    handler: (job: PgBoss.Job<T>) => Promise<void>,
  ): Promise<void>;
  /**
   * Like `work`, with up to `batchSize` jobs fetched per poll and handed over together: for
   * queues with many small jobs. Throwing fails the whole batch, so a handler that must fail
   * one job alone records that itself (or enqueues a retry) and returns normally.
   */
  workBatch<T extends object>(
    name: string,
    options: { concurrency: number; batchSize: number; pollingIntervalSeconds?: number },
    handler: (jobs: PgBoss.Job<T>[]) => Promise<void>,
  ): Promise<void>;
  /** Wakes this process's workers of a queue now, instead of at their next poll (after a commit that enqueued). */
  wake(name: string): void;
  close(): Promise<void>;
}

const executor = (client: pg.ClientBase | pg.Pool, inFlight?: Set<Promise<unknown>>): PgBoss.Db => ({
  executeSql: (text, values) => {
    const query = client.query(text, values);
    if (inFlight) {
      inFlight.add(query);
      void query.then(
        () => inFlight.delete(query),
        () => inFlight.delete(query),
      );
    }
    return query;
  },
});

/** How long `close` waits for pg-boss's last writes (a job's completion) before the pool may end. */
const DRAIN_MS = 5_000;

export async function createJobQueue(pool: pg.Pool, logger: Logger): Promise<JobQueue> {
  // pg-boss runs on the subgraph's pool: no second set of connections, and its schema
  // (`pgboss`) is created and migrated at start, under its own advisory lock.
  const inFlight = new Set<Promise<unknown>>();
  const boss = new PgBoss({ db: executor(pool, inFlight), schema: 'pgboss' });
  boss.on('error', (error) => logger.warn({ err: error }, 'job queue error'));
  await boss.start();
  const workers = new Map<string, string[]>();

  const queue: JobQueue = {
    async createQueue(name, options = {}) {
      if (!(await boss.getQueue(name))) await boss.createQueue(name, { ...options, name } as PgBoss.Queue);
    },
    send: (client, name, data, options = {}) => boss.send(name, data, { ...options, db: executor(client) }),
    work<T extends object>(
      name: string,
      { concurrency, pollingIntervalSeconds }: { concurrency: number; pollingIntervalSeconds?: number },
      handler: (job: PgBoss.Job<T>) => Promise<void>,
    ) {
      return queue.workBatch<T>(
        name,
        { concurrency, batchSize: 1, pollingIntervalSeconds },
        async ([job]) => {
          if (job) await handler(job);
        },
      );
    },
    async workBatch<T extends object>(
      name: string,
      {
        concurrency,
        batchSize,
        pollingIntervalSeconds = 2,
      }: { concurrency: number; batchSize: number; pollingIntervalSeconds?: number },
      handler: (jobs: PgBoss.Job<T>[]) => Promise<void>,
    ) {
      const ids = workers.get(name) ?? [];
      for (let i = 0; i < concurrency; i++) {
        ids.push(await boss.work<T>(name, { batchSize, pollingIntervalSeconds }, handler));
      }
      workers.set(name, ids);
    },
    wake(name) {
      for (const id of workers.get(name) ?? []) boss.notifyWorker(id);
    },
    async close() {
      // Waits for handlers in flight, up to pg-boss's own timeout.
      await boss.stop({ graceful: true, wait: true, timeout: 10_000 });
      // pg-boss records a job's end without awaiting it: wait for those writes, or the pool
      // closing after this would fail them (and the job would run again at the next start).
      const deadline = Date.now() + DRAIN_MS;
      while (inFlight.size > 0 && Date.now() < deadline) {
        await Promise.allSettled([...inFlight]);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
  return queue;
}

/** Runs `work` in one transaction on a client of `pool`: committed if it returns, rolled back if it throws. */
export async function inTransaction<R>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<R>,
): Promise<R> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
