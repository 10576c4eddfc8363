/**
 * Hive Gateway (@graphql-hive/gateway) serving the subscription benchmark's supergraph: the baseline.
 *
 *   tsx bench/subscriptions/hive.ts --supergraph bench/subscriptions/supergraph.graphql --port 4500
 *
 * The runtime API, set up as bench/gateway/hive.ts does (one process, no GraphiQL or landing page,
 * nothing reported anywhere), plus what subscriptions need, as Hive's documentation describes it:
 *   - upstream: `transportEntries['*.http'].options.subscriptions = { kind: 'ws', location: '/graphql' }`,
 *     so subscriptions go to the subgraphs over graphql-ws (@graphql-mesh/transport-ws) while
 *     queries and entity fetches stay on HTTP;
 *   - downstream: graphql-ws on /graphql with `getGraphQLWSOptions`, wired the way the gateway's
 *     own CLI wires it on Node (a `ws` WebSocketServer on the HTTP server, `useServer` from
 *     graphql-ws/use/ws, the upgrade request handed over as a fetch `Request`).
 */
import { createServer } from 'node:http';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createGatewayRuntime, getGraphQLWSOptions, type LogLevel } from '@graphql-hive/gateway';
import { type Extra, useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { benchVariable } from '../common/options';
import { assertSingleGraphql } from '../gateway/single-graphql';

assertSingleGraphql(['@graphql-hive/gateway', '@graphql-hive/gateway-runtime', 'graphql-ws']);

const { values } = parseArgs({
  options: {
    supergraph: { type: 'string' },
    port: { type: 'string' },
  },
});
if (!values.supergraph || !values.port) {
  throw new Error('usage: hive.ts --supergraph <file> --port <port>');
}

const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error'];
const logLevel = LOG_LEVELS.find((level) => level === benchVariable('LOG_LEVEL')) ?? 'warn';

const runtime = createGatewayRuntime({
  supergraph: resolve(values.supergraph),
  graphiql: false,
  landingPage: false,
  logging: logLevel,
  transportEntries: {
    '*.http': {
      options: {
        subscriptions: { kind: 'ws', location: '/graphql' },
      },
    },
  },
});

const server = createServer(runtime);
const wss = new WebSocketServer({ server, path: runtime.graphqlEndpoint });
const origin = `http://127.0.0.1:${values.port}`;
const sockets = useServer(
  getGraphQLWSOptions<Record<string, unknown>, Extra>(runtime, (ctx) => {
    const request = ctx.extra.request;
    const headers = new runtime.fetchAPI.Headers();
    for (const [name, value] of Object.entries(request.headers)) {
      if (typeof value === 'string') headers.set(name, value);
      else if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    }
    return {
      req: request,
      socket: ctx.extra.socket,
      request: new runtime.fetchAPI.Request(new URL(request.url ?? '/graphql', origin), { headers }),
    };
  }),
  wss,
);
server.listen(Number(values.port), '127.0.0.1');

const stop = (): void => {
  for (const client of wss.clients) client.terminate();
  server.closeAllConnections();
  server.close();
  void Promise.allSettled([sockets.dispose(), runtime.dispose()]).finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
