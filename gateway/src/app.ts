import { resolve } from 'node:path';
import { Registry } from 'prom-client';
import type { Caller } from '../../subgraphs/common/caller';
import { CredentialMinter } from '../../subgraphs/common/credential';
import { createServiceServer, type ServiceServer } from '../../subgraphs/common/http-server';
import { importKeyPair, loadOrCreateKeyPair } from '../../subgraphs/common/keys';
import { createLogger, type Logger } from '../../subgraphs/common/logger';
import { createEventBus } from '../../subgraphs/common/pubsub';
import { createGraphQLHandler } from '../../subgraphs/common/yoga';
import { type AccessChange, affects } from './access-change';
import { Authenticator } from './auth';
import { readSupergraphConfig } from './composition';
import type { GatewayConfig } from './config';
import type { GatewayRequestContext } from './datasource';
import { useCsrfPrevention, useRequestLimits, useSupergraph } from './plugins';
import { createRateLimiter } from './rate-limits';
import { SupergraphManager, type SupergraphSource } from './supergraph-manager';
import { serveWebSockets } from './websocket';

export interface Gateway {
  service: ServiceServer;
  /** WebSocket clients connected now. */
  readonly webSocketCount: number;
  manager: SupergraphManager;
  logger: Logger;
  /** Listens on the configured port (or the one given) and resolves with the bound port. */
  listen(port?: number): Promise<number>;
  close(): Promise<void>;
}

/** The edge of the supergraph: authentication, one schema, limits, masking, operational endpoints. */
export async function createGateway(config: GatewayConfig): Promise<Gateway> {
  const logger = createLogger('gateway', config.LOG_LEVEL);
  const signingKey = config.GATEWAY_PRIVATE_KEY
    ? await importKeyPair(config.GATEWAY_PRIVATE_KEY)
    : await loadOrCreateKeyPair(config.KEYS_DIR, 'gateway');
  const credentials = new CredentialMinter(signingKey);
  const events = createEventBus(config.REDIS_URL, (error, operation) =>
    logger.warn({ err: error, operation }, 'Redis pub/sub failed; the message is lost'),
  );

  const source: SupergraphSource = config.SUPERGRAPH_FROM_SUBGRAPHS
    ? { kind: 'subgraphs', subgraphs: readSupergraphConfig(resolve('supergraph.yaml')) }
    : { kind: 'file', path: resolve(config.SUPERGRAPH_PATH), watch: config.SUPERGRAPH_WATCH };
  let authenticator: Authenticator | undefined;
  const manager = new SupergraphManager(source, {
    logger,
    credentials,
    // A subgraph's answer says whose access it changed: dropped here at once, with or without Redis.
    onAccessChanged: ({ userIds, apiKeyIds }) => {
      if (userIds.length > 0) authenticator?.forget(userIds);
      if (apiKeyIds.length > 0) authenticator?.forgetApiKeys(apiKeyIds);
    },
    subgraphTimeoutMs: config.SUBGRAPH_TIMEOUT_MS,
    subgraphUrls: config.SUBGRAPH_URLS,
  });
  await manager.start();
  authenticator = new Authenticator(
    config,
    (name) => manager.current.dataSources.find((s) => s.name === name),
    events,
    logger,
  );
  const rateLimiter = config.RATE_LIMITS_ENABLED
    ? await createRateLimiter(config, config.REDIS_URL, logger)
    : undefined;

  const registry = new Registry();
  const yoga = createGraphQLHandler<GatewayRequestContext>({
    schema: manager.current.schema,
    logger,
    registry,
    graphiql: config.GRAPHIQL && { title: 'Construct', shouldPersistHeaders: false },
    context: async (request, req) => {
      const requestId = request.headers.get('x-request-id') ?? crypto.randomUUID();
      const userAgent = request.headers.get('user-agent')?.slice(0, 512) ?? undefined;
      return { requestId, userAgent, caller: await authenticator!.authenticate(request, req, requestId) };
    },
    // Rate limits count an operation once it is valid and its caller known, and before the
    // supergraph plugin runs it.
    plugins: [
      useCsrfPrevention(),
      ...useRequestLimits(config),
      ...(rateLimiter ? [rateLimiter.plugin] : []),
      useSupergraph(manager),
    ],
  });
  const service = createServiceServer({
    name: 'gateway',
    version: config.APP_VERSION,
    logger,
    registry,
    handler: yoga,
    maxBodyBytes: config.MAX_BODY_BYTES,
    shutdownGraceMs: config.SHUTDOWN_GRACE_MS,
    readiness: () => [
      ...manager.current.dataSources.map((source) => ({
        name: source.name,
        check: () => source.checkReady(),
      })),
      ...(config.REDIS_URL ? [{ name: 'redis', check: () => events.check() }] : []),
    ],
  });
  const sockets = serveWebSockets({
    server: service.server,
    yoga,
    authenticator,
    logger,
    maxSubscriptionsPerConnection: config.MAX_SUBSCRIPTIONS_PER_CONNECTION,
    maxPayloadBytes: config.MAX_BODY_BYTES,
    keepAliveMs: config.WS_KEEPALIVE_MS,
  });
  // Streams outlive the request that authenticated them: when a caller's access changes, their
  // sockets and subscriptions are checked again (a revoked session or API key ends them).
  authenticator.onAccessChanged((change: AccessChange) => {
    const affected = (caller: Caller) => affects(change, caller);
    void sockets.accessChanged(affected);
    void manager.current.subscriptions
      .refresh(affected, (caller) => authenticator!.currentCaller(caller))
      .catch((error) => logger.warn({ err: error }, 'could not re-check subscriptions'));
  });
  service.onDrain(() => {
    manager.current.subscriptions.endAll('The gateway is shutting down; subscribe again.', 'SHUTTING_DOWN');
    sockets.drain();
  });
  service.onClose(async () => {
    await sockets.close();
    authenticator?.close();
    await rateLimiter?.close();
    await manager.close();
    await events.close();
  });

  return {
    service,
    get webSocketCount() {
      return sockets.connectionCount;
    },
    manager,
    logger,
    listen: (port = config.GATEWAY_PORT) => service.listen(port, config.HOST),
    close: () => service.close(),
  };
}
