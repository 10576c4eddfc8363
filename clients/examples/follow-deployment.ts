/**
 * Follows a deployment to READY with Apollo Client, as a dashboard or a CLI would: queries and
 * mutations over HTTP, the subscription over graphql-ws, both through the gateway.
 *
 *   CONSTRUCT_TOKEN=<access token> npx tsx clients/examples/follow-deployment.ts <deployment id>
 *
 * CONSTRUCT_URL defaults to http://localhost:4000/graphql (what `npm start` serves).
 */
import { ApolloClient, gql, HttpLink, InMemoryCache, split } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const url = process.env.CONSTRUCT_URL ?? 'http://localhost:4000/graphql';
const token = process.env.CONSTRUCT_TOKEN;
const deploymentId = process.argv[2];
if (!token || !deploymentId) {
  console.error(
    'Usage: CONSTRUCT_TOKEN=<access token> tsx clients/examples/follow-deployment.ts <deployment id>',
  );
  process.exit(2);
}
const authorization = `Bearer ${token}`;

const ws = createClient({
  url: url.replace(/^http/, 'ws'),
  webSocketImpl: WebSocket,
  connectionParams: { authorization },
});
const client = new ApolloClient({
  cache: new InMemoryCache(),
  link: split(
    ({ query }) => {
      const definition = getMainDefinition(query);
      return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
    },
    new GraphQLWsLink(ws),
    new HttpLink({ uri: url, headers: { authorization } }),
  ),
});

const FOLLOW = gql`
  subscription Follow($id: ID!) {
    deploymentUpdated(id: $id) {
      id
      status
      url
      errorMessage
      project { id name organization { id slug } }
      creator { id name }
    }
  }
`;

type Followed = {
  deploymentUpdated: {
    status: string;
    url: string;
    errorMessage: string | null;
    project: { name: string; organization: { slug: string } | null } | null;
    creator: { name: string } | null;
  };
};

const done = new Set(['READY', 'ERROR', 'CANCELED', 'CRASHED', 'REMOVED']);
const subscription = client
  .subscribe<Followed>({ query: FOLLOW, variables: { id: deploymentId } })
  .subscribe({
    next: ({ data, error }) => {
      if (error) console.error(error.message);
      const d = data?.deploymentUpdated;
      if (!d) return;
      console.log(
        `${new Date().toISOString()} ${d.status.padEnd(9)} ${d.project?.organization?.slug}/${d.project?.name} by ${d.creator?.name}`,
      );
      if (done.has(d.status)) {
        console.log(d.status === 'READY' ? `Open ${d.url}` : `Ended: ${d.errorMessage ?? d.status}`);
        subscription.unsubscribe();
        void ws.dispose();
      }
    },
    error: (error) => {
      console.error(error);
      process.exitCode = 1;
      void ws.dispose();
    },
  });
