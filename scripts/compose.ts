/**
 * `npm run compose`: prints every subgraph's SDL from its code into schema/<name>.graphql (the
 * files supergraph.yaml lists) and composes them into schema/supergraph.graphql.
 * `npm run compose:check`: the same in memory; fails if any checked-in file is stale.
 * `--root <dir>` reads supergraph.yaml and writes schema/ under another folder than the repository.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { printSubgraphSchema } from '@apollo/subgraph';
import { CompositionError, composeSupergraph, readSupergraphConfig } from '../gateway/src/composition';
import { isSubgraphName, subgraphs } from '../subgraphs/registry';

const { values: args } = parseArgs({
  options: {
    check: { type: 'boolean', default: false },
    /** Where supergraph.yaml and schema/ are (default: the repository); subgraph code is the repository's. */
    root: { type: 'string' },
  },
});
const check = args.check;
const root = args.root ? resolve(args.root) : resolve(import.meta.dirname, '..');
const listed = readSupergraphConfig(resolve(root, 'supergraph.yaml'));
const outputs = new Map<string, string>();

const sdls = await Promise.all(
  listed.map(async ({ name, url, file }) => {
    if (!isSubgraphName(name))
      throw new Error(`supergraph.yaml lists "${name}", which subgraphs/registry.ts does not know.`);
    const definition = await subgraphs[name].load();
    const sdl = `${printSubgraphSchema(definition.schema).trim()}\n`;
    outputs.set(resolve(root, file), sdl);
    return { name, url, sdl };
  }),
);

try {
  outputs.set(resolve(root, 'schema/supergraph.graphql'), `${composeSupergraph(sdls).trim()}\n`);
} catch (error) {
  if (!(error instanceof CompositionError)) throw error;
  console.error(error.message);
  process.exit(1);
}

const stale: string[] = [];
for (const [file, content] of outputs) {
  const current = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  if (current === content) continue;
  if (check) {
    stale.push(file.slice(root.length + 1));
  } else {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
    console.log(`wrote ${file.slice(root.length + 1)}`);
  }
}
if (stale.length > 0) {
  console.error(
    `Generated schema is out of date: ${stale.join(', ')}.\nRun \`npm run compose\` and commit the result.`,
  );
  process.exit(1);
}
if (check) console.log('schema/ is up to date.');
