import type { GraphQLSchema } from 'graphql';
import type pg from 'pg';
import type { BaseContext } from './context';
import type { Logger } from './logger';

/** What a subgraph hands the kit: its schema, its migrations, and how to build its context. */
export interface SubgraphDefinition {
  name: string;
  schema: GraphQLSchema;
  /** Folder of the drizzle-kit SQL migrations of its database. */
  migrationsFolder: string;
  /** Builds the process-wide services on the database pool; returns the per-request context factory. */
  setup(resources: { pool: pg.Pool; logger: Logger }): {
    context(base: BaseContext): BaseContext;
  };
}
