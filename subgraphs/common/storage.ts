import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import type pg from 'pg';
import { inTransaction } from './jobs';

export type Database = NodePgDatabase;

/** A subgraph's queries, on the pool or inside `transaction`, and the transaction itself. */
export type Storage<Q> = Q & {
  /**
   * Runs `work` in one transaction, with the same queries bound to it: committed if it
   * returns, rolled back if it throws. `client` is that transaction's connection, for what
   * must commit with the change (a job, an outbox event).
   */
  transaction<R>(work: (tx: Q, client: pg.PoolClient) => Promise<R>): Promise<R>;
};

export interface StorageOptions {
  /**
   * Runs a transaction again (up to three times in all) when PostgreSQL aborted it for a
   * deadlock or a serialization failure: row locks taken in another order by a concurrent
   * change. The retry sees the winner's state and decides again, so `work` must start from
   * nothing it changed the last time (no side effect outside the transaction).
   */
  retryConflicts?: boolean;
}

/** Deadlock detected, or a serialization failure: safe to run the transaction again. */
function isConflict(error: unknown): boolean {
  const e = error as { code?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code;
  return code === '40P01' || code === '40001';
}

const MAX_ATTEMPTS = 3;

/**
 * The storage of one subgraph's own database: `queries` written once against a drizzle
 * database, usable on the pool and inside a transaction alike.
 */
export function createStorage<Q>(
  pool: pg.Pool,
  queries: (db: Database) => Q,
  options: StorageOptions = {},
): Storage<Q> {
  const once = <R>(work: (tx: Q, client: pg.PoolClient) => Promise<R>) =>
    inTransaction(pool, (client) => work(queries(drizzle({ client })), client));
  return {
    ...queries(drizzle({ client: pool })),
    async transaction(work) {
      for (let attempt = 1; ; attempt++) {
        try {
          return await once(work);
        } catch (error) {
          if (!options.retryConflicts || attempt >= MAX_ATTEMPTS || !isConflict(error)) throw error;
        }
      }
    },
  };
}
