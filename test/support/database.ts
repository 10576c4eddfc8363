import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { dropDatabase, ensureDatabase, withDatabase } from '../../db/connection';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/**
 * A fresh database: cloned from the subgraph's migrated template, or empty (for tests of the
 * migrations themselves) when no subgraph is named.
 */
export async function createTestDatabase(subgraph?: string): Promise<TestDatabase> {
  const serverUrl = inject('databaseServerUrl');
  const template = subgraph ? inject('templates')[subgraph] : undefined;
  if (subgraph && !template) throw new Error(`No template database for subgraph ${subgraph}`);
  const name = `construct_test_${subgraph ?? 'empty'}_${randomBytes(6).toString('hex')}`;
  await ensureDatabase(serverUrl, name, template);
  return { url: withDatabase(serverUrl, name), drop: () => dropDatabase(serverUrl, name) };
}
