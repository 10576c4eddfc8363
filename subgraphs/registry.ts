import type { SubgraphDefinition } from './common/definition';

/**
 * Every subgraph of the supergraph, with its development port. Only processes that host or
 * compose subgraphs (scripts, tests) read this; subgraphs never import one another.
 */
export const subgraphs = {
  accounts: { port: 4001, load: () => import('./accounts/index').then((m) => m.accounts) },
  deployments: { port: 4002, load: () => import('./deployments/index').then((m) => m.deployments) },
  developer: { port: 4005, load: () => import('./developer/index').then((m) => m.developer) },
  events: { port: 4006, load: () => import('./events/index').then((m) => m.events) },
} satisfies Record<string, { port: number; load: () => Promise<SubgraphDefinition> }>;

export type SubgraphName = keyof typeof subgraphs;
export const subgraphNames = Object.keys(subgraphs) as SubgraphName[];

export function isSubgraphName(name: string): name is SubgraphName {
  return Object.hasOwn(subgraphs, name);
}
