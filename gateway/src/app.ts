import { resolve } from 'node:path';
import { Registry } from 'prom-client';
import { createServiceServer, type ServiceServer } from '../../subgraphs/common/http-server';
import { createLogger, type Logger } from '../../subgraphs/common/logger';
import { createGraphQLHandler } from '../../subgraphs/common/yoga';
import { readSupergraphConfig } from './composition';
import type { GatewayConfig } from './config';
import { useCsrfPrevention, useRequestLimits, useSupergraph } from './plugins';
import { SupergraphManager, type SupergraphSource } from './supergraph-manager';

export interface Gateway {
  service: ServiceServer;
  manager: SupergraphManager;
  logger: Logger;
  /** Listens on the configured port (or the one given) and resolves with the bound port. */
  listen(port?: number): Promise<number>;
  close(): Promise<void>;
}

/** The edge of the supergraph: one schema, limits, masking, and the operational endpoints. */
export async function createGateway(config: GatewayConfig): Promise<Gateway> {
  const logger = createLogger('gateway', config.logLevel);
  const source: SupergraphSource = config.composeFromSubgraphs
    ? { kind: 'subgraphs', subgraphs: readSupergraphConfig(resolve('supergraph.yaml')) }
    : { kind: 'file', path: resolve(config.supergraphPath), watch: config.watchSupergraph };
  const manager = new SupergraphManager(source, {
    logger,
    subgraphTimeoutMs: config.subgraphTimeoutMs,
    subgraphUrls: config.subgraphUrls,
  });
  await manager.start();

  const registry = new Registry();
  const yoga = createGraphQLHandler({
    schema: manager.current.schema,
    logger,
    registry,
    graphiql: config.graphiql && { title: 'Construct', shouldPersistHeaders: false },
    context: (request) => ({ requestId: request.headers.get('x-request-id') ?? crypto.randomUUID(), logger }),
    plugins: [useCsrfPrevention(), ...useRequestLimits(config), useSupergraph(manager)],
  });
  const service = createServiceServer({
    name: 'gateway',
    version: config.version,
    logger,
    registry,
    handler: yoga,
    maxBodyBytes: config.maxBodyBytes,
    shutdownGraceMs: config.shutdownGraceMs,
    readiness: () =>
      manager.current.dataSources.map((source) => ({ name: source.name, check: () => source.checkReady() })),
  });
  service.onClose(() => manager.close());

  return {
    service,
    manager,
    logger,
    listen: (port = config.port) => service.listen(port, config.host),
    close: () => service.close(),
  };
}
