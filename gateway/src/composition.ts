import { readFileSync } from 'node:fs';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

export interface SubgraphSdl {
  name: string;
  url: string;
  sdl: string;
}

export class CompositionError extends Error {
  constructor(readonly problems: string[]) {
    super(`Composition failed:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'CompositionError';
  }
}

/**
 * Composes subgraph SDLs into a supergraph with Apollo's own composition library (what rover
 * runs), in-process. Errors name the subgraph and the coordinate at fault.
 */
export function composeSupergraph(subgraphs: SubgraphSdl[]): string {
  const problems: string[] = [];
  const services = subgraphs.map(({ name, url, sdl }) => {
    try {
      return { name, url, typeDefs: parse(sdl) };
    } catch (error) {
      problems.push(`[${name}] the schema does not parse: ${(error as Error).message}`);
      return undefined;
    }
  });
  if (problems.length > 0) throw new CompositionError(problems);
  const result = composeServices(services.filter((s) => s !== undefined));
  if (result.errors) {
    throw new CompositionError(
      result.errors.map((error) => {
        const code = (error.extensions?.code as string | undefined) ?? 'COMPOSITION_ERROR';
        return `${code}: ${error.message}`;
      }),
    );
  }
  return result.supergraphSdl;
}

const supergraphConfig = z.object({
  subgraphs: z.record(z.string(), z.object({ routing_url: z.url(), schema: z.object({ file: z.string() }) })),
});

/** The subgraphs listed in a rover-format supergraph.yaml: name, routing URL and SDL file. */
export function readSupergraphConfig(path: string): { name: string; url: string; file: string }[] {
  const config = supergraphConfig.parse(parseYaml(readFileSync(path, 'utf8')));
  return Object.entries(config.subgraphs).map(([name, entry]) => ({
    name,
    url: entry.routing_url,
    file: entry.schema.file,
  }));
}
