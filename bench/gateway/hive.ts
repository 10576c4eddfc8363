/**
 * Hive Gateway (@graphql-hive/gateway) serving the benchmark supergraph, for comparison.
 *
 *   tsx bench/gateway/hive.ts --supergraph bench/gateway/supergraph.graphql --port 4300 [--jit]
 *
 * Built on the gateway's runtime API rather than its CLI so that the settings are explicit: one
 * process (no cluster fork), no GraphiQL/Laboratory or landing page, no supergraph file polling, no
 * WebSocket server, default error masking, and nothing reported anywhere (no Hive token is given).
 * The HTTP server is plain node:http, which is what the CLI uses on Node.
 * --jit adds the graphql-jit executor plugin exactly as the CLI's `--jit` flag does; the public
 * gateways benchmark runs Hive with it, but it is off by default here (default settings).
 */
import { createServer } from 'node:http';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createGatewayRuntime, type GatewayPlugin, type LogLevel } from '@graphql-hive/gateway';
import { benchVariable } from '../common/options';
import { assertSingleGraphql } from './single-graphql';

assertSingleGraphql(['@graphql-hive/gateway', '@graphql-hive/gateway-runtime', '@graphql-mesh/plugin-jit']);

const { values } = parseArgs({
  options: {
    supergraph: { type: 'string' },
    port: { type: 'string' },
    jit: { type: 'boolean', default: false },
  },
});
if (!values.supergraph || !values.port) {
  throw new Error('usage: hive.ts --supergraph <file> --port <port> [--jit]');
}

const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error'];
const logLevel = LOG_LEVELS.find((level) => level === benchVariable('LOG_LEVEL')) ?? 'warn';

const plugins: GatewayPlugin[] = [];
if (values.jit) {
  // A dependency of @graphql-hive/gateway, loaded the same way its CLI loads it for --jit.
  const { useJIT } = await import('@graphql-mesh/plugin-jit');
  plugins.push(useJIT());
}

const runtime = createGatewayRuntime({
  supergraph: resolve(values.supergraph),
  graphiql: false,
  landingPage: false,
  logging: logLevel,
  plugins: () => plugins,
});

const server = createServer(runtime);
server.listen(Number(values.port), '127.0.0.1');

const stop = (): void => {
  server.closeAllConnections();
  server.close();
  void Promise.resolve(runtime.dispose()).finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
