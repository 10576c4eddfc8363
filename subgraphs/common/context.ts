import type { Caller } from './caller';

/**
 * What every service method takes first: who is asking, as the gateway vouched for them, and
 * the loaders of the operation they ask in (so reads batch and repeat nothing). The GraphQL
 * context is one, so a resolver hands its context over as it is.
 */
export interface Scope<Loaders> {
  readonly caller: Caller;
  readonly loaders: Loaders;
}

/** A subgraph's GraphQL context: the caller, the operation's loaders, and the services. Nothing else. */
export interface SubgraphContext<Services, Loaders> extends Scope<Loaders> {
  readonly services: Services;
}

/**
 * Forgets what the loaders cached, so the next reads see the database as it is now: a
 * subscription's context lives as long as the subscription, and each event must be read fresh.
 */
export function renewLoaders(loaders: object): void {
  for (const loader of Object.values(loaders)) {
    if (loader && typeof (loader as { clearAll?: unknown }).clearAll === 'function') {
      (loader as { clearAll(): void }).clearAll();
    }
  }
}
