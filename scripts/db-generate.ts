/**
 * Generates the SQL migrations of every subgraph from its drizzle tables
 * (`npm run db:generate`; `-- --name add_x` names the migration). With `--check`
 * (`npm run db:check`, in CI) it generates into a copy instead and fails if that added a
 * migration: the tables changed and nobody generated the migration that makes them.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { subgraphNames } from '../subgraphs/registry';

const { values } = parseArgs({
  options: { name: { type: 'string' }, check: { type: 'boolean', default: false } },
});

function generate(schema: string, out: string, quiet: boolean) {
  // drizzle-kit reads `--out` relative to the working directory, absolute paths included.
  const output = execFileSync(
    'npx',
    [
      'drizzle-kit',
      'generate',
      '--dialect',
      'postgresql',
      '--schema',
      schema,
      '--out',
      relative(process.cwd(), out),
      ...(values.name ? ['--name', values.name] : []),
    ],
    { stdio: quiet ? 'pipe' : 'inherit', encoding: 'utf8' },
  );
  // It reports some failures (an unreadable snapshot) on stdout and exits 0 all the same.
  if (quiet && /Error/.test(output)) throw new Error(`drizzle-kit generate failed for ${schema}:\n${output}`);
}

const sqlFiles = (folder: string) => readdirSync(folder).filter((file) => file.endsWith('.sql'));

const stale: string[] = [];
for (const subgraph of subgraphNames) {
  const schema = `db/${subgraph}/schema.ts`;
  const migrations = `db/${subgraph}/migrations`;
  if (!existsSync(schema)) continue;
  if (!values.check) {
    generate(schema, migrations, false);
    continue;
  }
  const copy = join(mkdtempSync(join(tmpdir(), `construct-db-check-${subgraph}-`)), 'migrations');
  try {
    cpSync(migrations, copy, { recursive: true });
    generate(schema, copy, true);
    const added = sqlFiles(copy).filter((file) => !sqlFiles(migrations).includes(file));
    if (added.length > 0) stale.push(`${subgraph}: ${schema} has changes no migration makes`);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

if (stale.length > 0) {
  console.error(
    `Migrations are out of date:\n  ${stale.join('\n  ')}\nRun \`npm run db:generate -- --name <what>\`.`,
  );
  process.exit(1);
}
if (values.check) console.log('Migrations match the tables.');
