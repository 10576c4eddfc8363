/**
 * Generates the SQL migrations of every subgraph from its drizzle tables
 * (`npm run db:generate`; `-- --name add_x` names the migration).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { subgraphNames } from '../subgraphs/registry';

const nameIndex = process.argv.indexOf('--name');
const name = nameIndex > 0 ? ['--name', process.argv[nameIndex + 1] ?? 'migration'] : [];

for (const subgraph of subgraphNames) {
  const schema = `db/${subgraph}/schema.ts`;
  if (!existsSync(schema)) continue;
  execFileSync(
    'npx',
    [
      'drizzle-kit',
      'generate',
      '--dialect',
      'postgresql',
      '--schema',
      schema,
      '--out',
      `db/${subgraph}/migrations`,
      ...name,
    ],
    { stdio: 'inherit' },
  );
}
