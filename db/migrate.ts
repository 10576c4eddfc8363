import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';

/**
 * Applies a subgraph's generated SQL migrations. Idempotent (drizzle records what it applied)
 * and safe when replicas start at once: a session advisory lock makes them take turns, and
 * the ones that wait find nothing left to apply.
 */
export async function migrateDatabase(url: string, migrationsFolder: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`SELECT pg_advisory_lock(hashtext('construct:migrations'))`);
    await migrate(drizzle({ client }), { migrationsFolder });
  } finally {
    // Ending the session releases the lock even if the migration failed.
    await client.end();
  }
}
