import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getTableName, is } from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { subgraphNames, subgraphs } from '../subgraphs/registry';
import { createTestDatabase, type TestDatabase } from '../test/support/database';
import * as accountsSchema from './accounts/schema';
import * as deploymentsSchema from './deployments/schema';
import * as developerSchema from './developer/schema';
import * as eventsSchema from './events/schema';
import { migrateDatabase } from './migrate';

/**
 * Replicas of a subgraph start at once and each migrates its database on boot: the migrations
 * must apply exactly once however many run them together, and running them again changes nothing.
 */

const tablesDeclared: Record<string, string[]> = {
  accounts: tableNames(accountsSchema),
  deployments: tableNames(deploymentsSchema),
  developer: tableNames(developerSchema),
  events: tableNames(eventsSchema),
};

function tableNames(schema: Record<string, unknown>): string[] {
  return Object.values(schema)
    .filter((value) => is(value, PgTable))
    .map((table) => getTableName(table as PgTable))
    .sort();
}

const databases: TestDatabase[] = [];
afterAll(() => Promise.all(databases.map((database) => database.drop())));

async function inspect(url: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tables = await client.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
    );
    const journal = await client.query(`SELECT to_regclass('drizzle.__drizzle_migrations') AS name`);
    const applied = journal.rows[0].name
      ? await client.query<{ hash: string; created_at: string }>(
          'SELECT hash, created_at FROM drizzle.__drizzle_migrations ORDER BY id',
        )
      : { rows: [] };
    return { tables: tables.rows.map((row) => row.table_name), applied: applied.rows };
  } finally {
    await client.end();
  }
}

describe.each(subgraphNames)('the %s migrations', (name) => {
  it('apply once on an empty database when five clients run them at once, and again later', async () => {
    expect(tablesDeclared[name]?.length).toBeGreaterThan(0);
    const { migrationsFolder } = await subgraphs[name].load();
    const journal = JSON.parse(readFileSync(join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as {
      entries: { tag: string; when: number }[];
    };
    const database = await createTestDatabase();
    databases.push(database);
    expect(await inspect(database.url)).toEqual({ tables: [], applied: [] });

    await Promise.all(Array.from({ length: 5 }, () => migrateDatabase(database.url, migrationsFolder)));
    const first = await inspect(database.url);
    await migrateDatabase(database.url, migrationsFolder);
    const second = await inspect(database.url);

    expect(first.tables).toEqual(tablesDeclared[name]);
    expect(first.applied.map((row) => Number(row.created_at))).toEqual(
      journal.entries.map((entry) => entry.when),
    );
    expect(new Set(first.applied.map((row) => row.hash)).size).toBe(journal.entries.length);
    expect(second).toEqual(first);
  });
});
