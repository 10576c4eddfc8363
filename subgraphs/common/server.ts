import type { ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { Registry } from 'prom-client';
import { WebSocketServer } from 'ws';
import { createPool, resolveDatabaseUrl } from '../../db/connection';
import { migrateDatabase } from '../../db/migrate';
import type { SubgraphConfig } from './config';
import type { BaseContext } from './context';
import type { SubgraphDefinition } from './definition';
import { createServiceServer, requestIdOf, type ServiceServer } from './http-server';
import { createLogger, type Logger } from './logger';
import { createGraphQLHandler } from './yoga';

export interface RunningSubgraph {
  name: string;
  port: number;
  /** The GraphQL endpoint, e.g. http://127.0.0.1:4001/graphql. */
  url: string;
  service: ServiceServer;
  logger: Logger;
  close(): Promise<void>;
}

/** Subgraph requests come from the gateway: queries and entity batches, never uploads. */
const MAX_BODY_BYTES = 2 * 1024 * 1024;

/**
 * Boots one subgraph: its database (created if missing, migrated), Yoga over HTTP (SSE included),
 * graphql-ws on the same path, and the operational endpoints. Resolves once it listens.
 */
export async function startSubgraph(
  definition: SubgraphDefinition,
  config: SubgraphConfig,
  port: number,
): Promise<RunningSubgraph> {
  const name = `subgraph-${definition.name}`;
  const logger = createLogger(name, config.LOG_LEVEL);
  const databaseUrl = await resolveDatabaseUrl({
    subgraph: definition.name,
    subgraphDatabaseUrl: config.subgraphDatabaseUrl,
    databaseUrl: config.DATABASE_URL,
  });
  await migrateDatabase(databaseUrl, definition.migrationsFolder);
  const pool = createPool(databaseUrl, {
    applicationName: `construct-${definition.name}`,
    max: config.DATABASE_POOL_MAX,
    onError: (error) => logger.warn({ err: error }, 'idle database connection failed'),
  });
  const { context } = definition.setup({ pool, logger });

  const baseContext = (requestId: string): BaseContext => ({
    requestId,
    logger: logger.child({ requestId }),
  });
  const registry = new Registry();
  const yoga = createGraphQLHandler({
    schema: definition.schema,
    logger,
    registry,
    graphiql: config.NODE_ENV === 'development',
    context: (request) => context(baseContext(request.headers.get('x-request-id') ?? crypto.randomUUID())),
  });
  const service = createServiceServer({
    name,
    version: config.APP_VERSION,
    logger,
    registry,
    handler: yoga,
    maxBodyBytes: MAX_BODY_BYTES,
    shutdownGraceMs: config.SHUTDOWN_GRACE_MS,
    readiness: [{ name: 'database', check: async () => void (await pool.query('SELECT 1')) }],
  });

  // graphql-ws on /graphql, through the same Yoga plugins (and so the same context and masking).
  const wss = new WebSocketServer({ server: service.server, path: '/graphql', maxPayload: MAX_BODY_BYTES });
  type Enveloped = ReturnType<typeof yoga.getEnveloped>;
  type RootValue = { execute: Enveloped['execute']; subscribe: Enveloped['subscribe'] };
  useServer(
    {
      execute: (args) => (args.rootValue as RootValue).execute(args as ExecutionArgs),
      subscribe: (args) => (args.rootValue as RootValue).subscribe(args as ExecutionArgs),
      onSubscribe: async (ctx, _id, params) => {
        const requestId = requestIdOf(ctx.extra.request);
        const enveloped = yoga.getEnveloped({ req: ctx.extra.request, socket: ctx.extra.socket, params });
        const document = enveloped.parse(params.query);
        const errors = enveloped.validate(enveloped.schema, document);
        if (errors.length > 0) return errors;
        return {
          schema: enveloped.schema,
          document,
          operationName: params.operationName,
          variableValues: params.variables,
          contextValue: await context(baseContext(requestId)),
          rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe } satisfies RootValue,
        };
      },
    },
    wss,
  );

  service.onDrain(() => {
    for (const client of wss.clients) client.close(1001, 'Server shutting down');
  });
  service.onClose(async () => {
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    await pool.end();
  });

  const boundPort = await service.listen(port, config.HOST);
  const url = `http://127.0.0.1:${boundPort}/graphql`;
  logger.info({ url }, `${definition.name} subgraph ready`);
  return { name: definition.name, port: boundPort, url, service, logger, close: () => service.close() };
}
