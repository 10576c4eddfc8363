import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { ensureDatabase, withDatabase } from '../../db/connection';
import { startEmbeddedPostgres } from '../../db/embedded';
import { migrateDatabase } from '../../db/migrate';
import { subgraphNames } from '../../subgraphs/registry';
import { testEnvironment } from './environment';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin URL of the PostgreSQL server the tests use. */
    databaseServerUrl: string;
    /** Per subgraph, the migrated template database each test database is cloned from. */
    templates: Record<string, string>;
  }
}

/**
 * Once per run: find a PostgreSQL (TEST_DATABASE_URL, else an embedded one of the tests' own)
 * and make one migrated template database per subgraph. A test file then clones a fresh
 * database from the template in a few milliseconds instead of migrating its own.
 * Templates are named after a hash of their migrations, so a changed migration makes a new one.
 */
export default async function setup(project: TestProject) {
  const embedded = testEnvironment.databaseUrl
    ? undefined
    : await startEmbeddedPostgres(resolve('.data/test-postgres'));
  const serverUrl = testEnvironment.databaseUrl ?? embedded!.url;

  const templates: Record<string, string> = {};
  for (const subgraph of subgraphNames) {
    const folder = resolve('db', subgraph, 'migrations');
    const name = `construct_tpl_${subgraph}_${hashFolder(folder)}`;
    templates[subgraph] = name;
    await buildTemplate(serverUrl, name, folder);
  }
  project.provide('databaseServerUrl', serverUrl);
  project.provide('templates', templates);

  return async () => {
    await embedded?.stop();
  };
}

async function buildTemplate(serverUrl: string, name: string, migrationsFolder: string) {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    // Concurrent runs on one server (two CI jobs) take turns building the same template.
    await admin.query('SELECT pg_advisory_lock(hashtext($1))', [name]);
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return;
    const building = `${name}_building`;
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(building)}`);
    await ensureDatabase(serverUrl, building);
    await migrateDatabase(withDatabase(serverUrl, building), migrationsFolder);
    await admin.query(
      `ALTER DATABASE ${pg.escapeIdentifier(building)} RENAME TO ${pg.escapeIdentifier(name)}`,
    );
  } finally {
    await admin.end();
  }
}

function hashFolder(folder: string): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else hash.update(entry.name).update(readFileSync(path));
    }
  };
  walk(folder);
  return hash.digest('hex').slice(0, 12);
}
