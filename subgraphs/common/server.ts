import type { ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { Plugin } from 'graphql-yoga';
import { Registry } from 'prom-client';
import { WebSocketServer } from 'ws';
import { createPool, resolveDatabaseUrl } from '../../db/connection';
import { migrateDatabase } from '../../db/migrate';
import type { Caller } from './caller';
import { readEnvironment, type SubgraphConfig, subgraphSettings } from './config';
import type { SubgraphContext } from './context';
import { CREDENTIAL_HEADER, CredentialVerifier, QUOTA_HEADER, USER_AGENT_HEADER } from './credential';
import type { SubgraphDefinition } from './definition';
import { errorResponseBody } from './errors';
import { createServiceServer, type ServiceServer } from './http-server';
import { importPublicKey, loadOrCreateKeyPair } from './keys';
import { createLogger, type Logger, requestScope } from './logger';
import { createEventBus, type EventBus } from './pubsub';
import { parseQuota } from './quota';
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

/** The gateway's public key: given in production, the development key pair's otherwise. */
export async function gatewayPublicKey(config: SubgraphConfig): Promise<CryptoKey> {
  if (config.GATEWAY_PUBLIC_KEY) return importPublicKey(config.GATEWAY_PUBLIC_KEY);
  return (await loadOrCreateKeyPair(config.KEYS_DIR, 'gateway')).publicKey;
}

const unauthenticated = () =>
  new Response(
    JSON.stringify(
      errorResponseBody(
        'UNAUTHENTICATED',
        'This service answers the Construct gateway only; send your request to the gateway.',
      ),
    ),
    { status: 401, headers: { 'content-type': 'application/json; charset=utf-8' } },
  );

/**
 * No GraphQL without a credential the gateway signed for this subgraph: `_entities` and
 * `_service` included, so a leaked port is no way around authorization.
 */
function useGatewayCredential(verifier: CredentialVerifier, callers: WeakMap<Request, Caller>): Plugin {
  return {
    async onRequest({ request, endResponse }) {
      try {
        callers.set(request, await verifier.verify(request.headers.get(CREDENTIAL_HEADER)));
      } catch {
        endResponse(unauthenticated());
      }
    },
  };
}

/**
 * The bus the subgraph publishes on: messages go out as usual, and the users and API keys whose
 * access a request changed are also noted in that request's scope, for its response.
 */
function reporting(events: EventBus): EventBus {
  const publish: EventBus['pubsub']['publish'] = (topic, ...args) => {
    const scope = requestScope.getStore();
    if (scope && topic === 'caller-access-changed') {
      scope.accessChanged ??= new Set();
      scope.accessChanged.add(args[0] as string);
    }
    if (scope && topic === 'api-key-changed') {
      scope.apiKeysChanged ??= new Set();
      scope.apiKeysChanged.add(args[0] as string);
    }
    events.pubsub.publish(topic, ...args);
  };
  return { ...events, pubsub: { ...events.pubsub, publish } };
}

/**
 * Tells the gateway, in the response's `extensions.callerAccessChanged`, whose roles or
 * sessions the request changed. The gateway drops what it cached for them before its next
 * request, in every topology: pub/sub reaches other gateway replicas only with Redis, and a
 * user's own next request must never see their access as it was.
 */
function useAccessChangeReport(): Plugin {
  return {
    onExecute() {
      return {
        onExecuteDone({ result, setResult }) {
          const scope = requestScope.getStore();
          const accessChanged = scope?.accessChanged ?? new Set();
          const apiKeysChanged = scope?.apiKeysChanged ?? new Set();
          if ((accessChanged.size === 0 && apiKeysChanged.size === 0) || Symbol.asyncIterator in result)
            return;
          setResult({
            ...result,
            extensions: {
              ...result.extensions,
              ...(accessChanged.size > 0 ? { callerAccessChanged: [...accessChanged] } : {}),
              ...(apiKeysChanged.size > 0 ? { apiKeysChanged: [...apiKeysChanged] } : {}),
            },
          });
        },
      };
    },
  };
}

export interface StartOptions {
  /** The environment to read settings from (`readEnvironment()`: the process's, with `.env`). */
  env?: NodeJS.ProcessEnv;
  /** Where to listen unless PORT says otherwise (the registry's port; 0: any free port). */
  port: number;
}

/**
 * Boots one subgraph: its database (created if missing, migrated), Yoga over HTTP (SSE included),
 * graphql-ws on the same path, and the operational endpoints. Resolves once it listens.
 */
export async function startSubgraph<S, Services, Loaders>(
  definition: SubgraphDefinition<S, Services, Loaders>,
  options: StartOptions,
): Promise<RunningSubgraph> {
  // Settings first: a typo in a variable fails here, before the database is touched.
  const env = readEnvironment(options.env);
  const config = subgraphSettings(definition.name).parse(env);
  const settings = definition.settings.parse(env);
  const name = `subgraph-${definition.name}`;
  const logger = createLogger(name, config.LOG_LEVEL);
  const databaseUrl = await resolveDatabaseUrl({
    subgraph: definition.name,
    subgraphDatabaseUrl: config.SUBGRAPH_DATABASE_URL,
    databaseUrl: config.DATABASE_URL,
  });
  await migrateDatabase(databaseUrl, definition.migrationsFolder);
  const pool = createPool(databaseUrl, {
    applicationName: `construct-${definition.name}`,
    max: config.DATABASE_POOL_MAX,
    onError: (error) => logger.warn({ err: error }, 'idle database connection failed'),
  });
  const bus = createEventBus(config.REDIS_URL, (error, operation) =>
    logger.warn({ err: error, operation }, 'Redis pub/sub failed; the message is lost'),
  );
  const verifier = new CredentialVerifier(await gatewayPublicKey(config), definition.name);
  const runtime = await definition.setup({ pool, logger, events: reporting(bus), config, settings });

  const callers = new WeakMap<Request, Caller>();
  const contextOf = (caller: Caller): SubgraphContext<Services, Loaders> => ({
    caller,
    loaders: runtime.loaders(),
    services: runtime.services,
  });
  const registry = new Registry();
  const yoga = createGraphQLHandler({
    schema: definition.schema,
    logger,
    registry,
    // Subgraphs answer the gateway only: a browser could not send the credential anyway.
    graphiql: false,
    context: (request) =>
      contextOf({
        ...callers.get(request)!,
        userAgent: request.headers.get(USER_AGENT_HEADER) ?? undefined,
        quota: parseQuota(request.headers.get(QUOTA_HEADER)),
      }),
    plugins: [useGatewayCredential(verifier, callers), useAccessChangeReport()],
  });
  const service = createServiceServer({
    name,
    version: config.APP_VERSION,
    logger,
    registry,
    handler: yoga,
    routes: runtime.routes,
    maxBodyBytes: MAX_BODY_BYTES,
    shutdownGraceMs: config.SHUTDOWN_GRACE_MS,
    readiness: [
      { name: 'database', check: async () => void (await pool.query('SELECT 1')) },
      ...(config.REDIS_URL ? [{ name: 'redis', check: () => bus.check() }] : []),
    ],
  });

  // graphql-ws on /graphql, through the same Yoga plugins (and so the same context and masking).
  // The credential comes with the upgrade request; a socket without one is closed at once.
  const wss = new WebSocketServer({ server: service.server, path: '/graphql', maxPayload: MAX_BODY_BYTES });
  type Enveloped = ReturnType<typeof yoga.getEnveloped>;
  type RootValue = { execute: Enveloped['execute']; subscribe: Enveloped['subscribe'] };
  useServer<Record<string, unknown>, { caller?: Caller }>(
    {
      onConnect: async (ctx) => {
        try {
          const header = ctx.extra.request.headers[CREDENTIAL_HEADER];
          ctx.extra.caller = await verifier.verify(Array.isArray(header) ? header[0] : header);
          return true;
        } catch {
          return false;
        }
      },
      execute: (args) => (args.rootValue as RootValue).execute(args as ExecutionArgs),
      subscribe: (args) => (args.rootValue as RootValue).subscribe(args as ExecutionArgs),
      onSubscribe: async (ctx, _id, params) => {
        const enveloped = yoga.getEnveloped({ req: ctx.extra.request, socket: ctx.extra.socket, params });
        const document = enveloped.parse(params.query);
        const errors = enveloped.validate(enveloped.schema, document);
        if (errors.length > 0) return errors;
        return {
          schema: enveloped.schema,
          document,
          operationName: params.operationName,
          variableValues: params.variables,
          contextValue: contextOf(ctx.extra.caller!),
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
    await runtime.close?.();
    await bus.close();
    await pool.end();
  });

  const boundPort = await service.listen(config.PORT ?? options.port, config.HOST);
  runtime.listening?.(boundPort);
  const url = `http://127.0.0.1:${boundPort}/graphql`;
  logger.info({ url }, `${definition.name} subgraph ready`);
  return { name: definition.name, port: boundPort, url, service, logger, close: () => service.close() };
}
