import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GraphQLSchema } from 'graphql';
import type pg from 'pg';
import type { Settings, SubgraphConfig } from './config';
import type { Logger } from './logger';
import type { EventBus } from './pubsub';

/** An HTTP endpoint a subgraph serves beside GraphQL (a JWKS, an upload URL, `/internal/events`). */
export type Route = (req: IncomingMessage, res: ServerResponse) => unknown;

/** What the kit hands a subgraph's `setup`, once its settings parsed and its database migrated. */
export interface SubgraphResources<S> {
  pool: pg.Pool;
  /** The process logger; lines written while serving a request carry its id by themselves. */
  logger: Logger;
  /**
   * Pub/sub shared with the other processes (Redis when configured). Publishing
   * `caller-access-changed` or `api-key-changed` while serving a request also reports it to
   * the gateway in that request's response (see `server.ts`).
   */
  events: EventBus;
  /** What the kit read for every subgraph (NODE_ENV, KEYS_DIR, EVENTS_URL, …). */
  config: SubgraphConfig;
  /** The subgraph's own settings, as its definition declared them. */
  settings: S;
}

/** What a subgraph's `setup` builds: its services, its per-request loaders, its routes. */
export interface SubgraphRuntime<Services, Loaders> {
  /** Built once: every resolver reaches the domain through these, with the caller first. */
  services: Services;
  /** Fresh DataLoaders for one operation (and for each event of a subscription). */
  loaders(): Loaders;
  /** Endpoints by path (or prefix, for keys ending in '/'), served without a gateway credential. */
  routes?: Record<string, Route>;
  /** Runs once the server listens, with its port (to build URLs that point back at it). */
  listening?(port: number): void;
  /** Runs at shutdown, after the server drained and before the pool closes. */
  close?(): Promise<void>;
}

/**
 * A subgraph, as `subgraphs/<name>/index.ts` declares it: its schema, its migrations, its
 * settings, and how to build its runtime. The kit (`startSubgraph`) parses the settings first,
 * then migrates the database, then calls `setup`.
 */
export interface SubgraphDefinition<S = unknown, Services = unknown, Loaders = unknown> {
  name: string;
  schema: GraphQLSchema;
  /** Folder of the drizzle-kit SQL migrations of its database. */
  migrationsFolder: string;
  /** Its own variables (besides the kit's), read before anything else happens. */
  settings: Settings<S>;
  setup(resources: SubgraphResources<S>): Promise<SubgraphRuntime<Services, Loaders>>;
}

/** Keeps a definition's types while checking it against the kit's contract. */
export function defineSubgraph<S, Services, Loaders>(
  definition: SubgraphDefinition<S, Services, Loaders>,
): SubgraphDefinition<S, Services, Loaders> {
  return definition;
}
