/**
 * Stock @apollo/gateway behind graphql-yoga, for comparison: the reference JavaScript
 * implementation of federation query planning and execution, with nothing tuned.
 *
 *   tsx bench/gateway/stock.ts --supergraph bench/gateway/supergraph.graphql --port 4300
 *
 * `new ApolloGateway({ supergraphSdl })` with its default RemoteGraphQLDataSource, wired into yoga
 * with @envelop/apollo-federation's useApolloFederation plugin. No GraphiQL or landing page; run
 * with NODE_ENV=production. Nothing is reported to Apollo (no APOLLO_KEY).
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { ApolloGateway } from '@apollo/gateway';
import { useApolloFederation } from '@envelop/apollo-federation';
import { createYoga } from 'graphql-yoga';
import { assertSingleGraphql } from './single-graphql';

assertSingleGraphql(['@apollo/gateway', '@envelop/apollo-federation', 'graphql-yoga']);

const { values } = parseArgs({
  options: {
    supergraph: { type: 'string' },
    port: { type: 'string' },
  },
});
if (!values.supergraph || !values.port) {
  throw new Error('usage: stock.ts --supergraph <file> --port <port>');
}

const gateway = new ApolloGateway({ supergraphSdl: await readFile(values.supergraph, 'utf8') });
// Load before building yoga: the plugin takes the schema from an already loaded gateway.
await gateway.load();

const yoga = createYoga({
  plugins: [useApolloFederation({ gateway })],
  graphiql: false,
  landingPage: false,
  logging: 'warn',
});

const server = createServer(yoga);
server.listen(Number(values.port), '127.0.0.1');

const stop = (): void => {
  server.closeAllConnections();
  server.close();
  void gateway.stop().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
