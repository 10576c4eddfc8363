/**
 * Composes the two subscription-benchmark subgraphs (subgraphs.ts) with @apollo/composition into
 * bench/subscriptions/.results/supergraph.graphql, the one file both gateways serve.
 *
 * Run: `tsx bench/subscriptions/compose.ts` (run.ts also regenerates it on every run).
 * BENCH_SUBGRAPH_PORT_BASE changes the subgraph URLs written into the supergraph.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { composeServices } from '@apollo/composition';
import { benchVariable } from '../common/options';
import { DEFAULT_SUBGRAPH_PORT_BASE, subgraphUrls } from './model';
import { DEPLOYMENTS_TYPE_DEFS, USERS_TYPE_DEFS } from './subgraphs';

// Regenerated on every run and git-ignored with the results: it is part of what a run measured.
export const SUPERGRAPH_PATH = join(import.meta.dirname, '.results', 'supergraph.graphql');

export function composeSupergraph(portBase = DEFAULT_SUBGRAPH_PORT_BASE): string {
  const urls = subgraphUrls(portBase);
  const result = composeServices([
    { name: 'deployments', typeDefs: DEPLOYMENTS_TYPE_DEFS, url: urls.deployments },
    { name: 'users', typeDefs: USERS_TYPE_DEFS, url: urls.users },
  ]);
  if (result.errors) {
    throw new Error(
      `supergraph composition failed:\n${result.errors.map((error) => `  - ${error.message}`).join('\n')}`,
    );
  }
  return result.supergraphSdl;
}

/** Composes and writes the supergraph file; returns its path. */
export async function writeSupergraph(portBase = DEFAULT_SUBGRAPH_PORT_BASE): Promise<string> {
  await mkdir(dirname(SUPERGRAPH_PATH), { recursive: true });
  await writeFile(SUPERGRAPH_PATH, composeSupergraph(portBase));
  return SUPERGRAPH_PATH;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const portBase = Number(benchVariable('BENCH_SUBGRAPH_PORT_BASE') ?? DEFAULT_SUBGRAPH_PORT_BASE);
  console.log(`wrote ${await writeSupergraph(portBase)}`);
}
