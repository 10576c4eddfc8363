import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GraphQLSchema } from 'graphql';
import type pg from 'pg';
import type { SubgraphConfig } from './config';
import type { BaseContext } from './context';
import type { Logger } from './logger';
import type { EventBus } from './pubsub';

/** An HTTP endpoint a subgraph serves beside GraphQL (a JWKS, a development mailbox). */
export type Route = (req: IncomingMessage, res: ServerResponse) => unknown;

export interface SubgraphResources {
  pool: pg.Pool;
  logger: Logger;
  events: EventBus;
  config: SubgraphConfig;
}

export interface SubgraphRuntime {
  /** Adds the subgraph's storage, loaders and services to the kit's per-request context. */
  context(base: BaseContext): BaseContext;
  /** Public endpoints by path (or prefix, for keys ending in '/'), served without a gateway credential. */
  routes?: Record<string, Route>;
  /** Runs once the server listens, with its port (to build URLs that point back at it). */
  listening?(port: number): void;
  /** Runs at shutdown, after the server drained and before the pool closes. */
  close?(): Promise<void>;
}

/** What a subgraph hands the kit: its schema, its migrations, and how to build its runtime. */
export interface SubgraphDefinition {
  name: string;
  schema: GraphQLSchema;
  /** Folder of the drizzle-kit SQL migrations of its database. */
  migrationsFolder: string;
  /** Builds the process-wide services (keys, storage, jobs) once the database is migrated. */
  setup(resources: SubgraphResources): SubgraphRuntime | Promise<SubgraphRuntime>;
}
