/**
 * Composes the four benchmark subgraphs (bench/gateway/subgraphs.ts) in-process with
 * @apollo/composition into bench/gateway/supergraph.graphql, the one file all gateways serve.
 *
 * Run: `tsx bench/gateway/compose.ts` (the driver, run.ts, also regenerates it on every run).
 * BENCH_SUBGRAPH_PORT_BASE changes the subgraph URLs written into the supergraph.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { composeServices } from '@apollo/composition';
import { benchVariable } from '../common/options';
import { DEFAULT_SUBGRAPH_PORT_BASE, SUBGRAPHS, subgraphUrl } from './subgraphs';

export const SUPERGRAPH_PATH = join(import.meta.dirname, 'supergraph.graphql');

export function composeSupergraph(portBase = DEFAULT_SUBGRAPH_PORT_BASE): string {
  const result = composeServices(
    SUBGRAPHS.map((subgraph, index) => ({
      name: subgraph.name,
      typeDefs: subgraph.typeDefs,
      url: subgraphUrl(index, portBase),
    })),
  );
  if (result.errors) {
    throw new Error(
      `supergraph composition failed:\n${result.errors.map((error) => `  - ${error.message}`).join('\n')}`,
    );
  }
  return result.supergraphSdl;
}

/** Composes and writes the supergraph file; returns its path. */
export async function writeSupergraph(portBase = DEFAULT_SUBGRAPH_PORT_BASE): Promise<string> {
  await writeFile(SUPERGRAPH_PATH, composeSupergraph(portBase));
  return SUPERGRAPH_PATH;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const portBase = Number(benchVariable('BENCH_SUBGRAPH_PORT_BASE') ?? DEFAULT_SUBGRAPH_PORT_BASE);
  console.log(`wrote ${await writeSupergraph(portBase)}`);
}
