import pg from 'pg';
import { type EmbeddedDatabase, startEmbeddedPostgres } from './embedded';

/**
 * Where a subgraph's database lives, in order of precedence:
 * 1. `<SUBGRAPH>_DATABASE_URL`: used as given (the database must exist);
 * 2. `DATABASE_URL`: a server; the subgraph gets its own database `construct_<subgraph>` on it,
 *    created if missing;
 * 3. neither: the embedded PostgreSQL under `.data/`, started once per process.
 */
export interface DatabaseLocation {
  subgraph: string;
  subgraphDatabaseUrl?: string | undefined;
  databaseUrl?: string | undefined;
}

let embedded: Promise<EmbeddedDatabase> | undefined;

/** Starts (or joins) the embedded PostgreSQL once for this process. */
export function embeddedPostgres(): Promise<EmbeddedDatabase> {
  embedded ??= startEmbeddedPostgres();
  return embedded;
}

export async function resolveDatabaseUrl(location: DatabaseLocation): Promise<string> {
  if (location.subgraphDatabaseUrl) return location.subgraphDatabaseUrl;
  const serverUrl = location.databaseUrl ?? (await embeddedPostgres()).url;
  const name = `construct_${location.subgraph}`;
  await ensureDatabase(serverUrl, name);
  return withDatabase(serverUrl, name);
}

/** The same server URL pointing at another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

const DUPLICATE_DATABASE = '42P04';
const UNIQUE_VIOLATION = '23505';

/** Creates a database if it is missing; safe when several processes race to create it. */
export async function ensureDatabase(serverUrl: string, name: string, template?: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return;
    const from = template ? ` TEMPLATE ${pg.escapeIdentifier(template)}` : '';
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}${from}`);
  } catch (error) {
    const code = (error as { code?: string }).code;
    // Another process created it between our check and our CREATE: that is what we wanted.
    if (code !== DUPLICATE_DATABASE && code !== UNIQUE_VIOLATION) throw error;
  } finally {
    await client.end();
  }
}

export interface PoolOptions {
  applicationName: string;
  max?: number;
  /** Called for errors of idle clients (a restarted server); without a listener they crash the process. */
  onError: (error: Error) => void;
}

export function createPool(url: string, options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    application_name: options.applicationName,
    max: options.max ?? 10,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 5_000,
    // A runaway query never holds a connection (and a request) for longer than this.
    statement_timeout: 15_000,
  });
  pool.on('error', options.onError);
  return pool;
}

/** Drops a database, disconnecting whoever still uses it. */
export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
