import { ApolloClient, gql, HttpLink, InMemoryCache, split } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient } from 'graphql-ws';
import type { Subscription } from 'rxjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import type { LogLine } from './support/deployments';
import { createOrganization, createUser, type TestUser } from './support/factories';
import { createGitRepository, type GitRepository } from './support/git-fixtures';
import { codesOf, createProjectAndDeployment, until, type WireError, wsUrlOf } from './support/subscriptions';
import { startTestSupergraph, type TestSupergraph } from './support/supergraph';

/**
 * The gateway's subscriptions as the client libraries applications use see them: Apollo
 * Client (HTTP for operations, graphql-ws for subscriptions) and graphql-sse (one HTTP stream
 * per subscription). Every event carries fields of both subgraphs.
 */

let supergraph: TestSupergraph;
let owner: TestUser;
let organization: { id: string; slug: string; name: string };
let repo: GitRepository;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  supergraph = await startTestSupergraph();
  owner = await createUser(supergraph.databases, 'Ada Apollo');
  organization = await createOrganization(supergraph.databases, [{ user: owner, role: 'OWNER' }], {
    name: 'Client Co',
  });
  repo = await createGitRepository('node-server');
});

afterAll(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  await supergraph?.close();
  await repo?.cleanup();
});

const FOLLOW = /* GraphQL */ `
  subscription Follow($id: ID!) {
    deploymentUpdated(id: $id) {
      id
      status
      project { name organization { slug } }
      creator { name }
    }
  }
`;

interface Followed {
  deploymentUpdated: {
    id: string;
    status: string;
    project: { name: string; organization: { slug: string } };
    creator: { name: string };
  };
}

/** What every payload of FOLLOW must say, whatever the status: the cross-subgraph fields. */
const followedShape = (projectName: string) => ({
  deploymentUpdated: expect.objectContaining({
    project: expect.objectContaining({
      name: projectName,
      organization: expect.objectContaining({ slug: organization.slug }),
    }),
    creator: expect.objectContaining({ name: 'Ada Apollo' }),
  }),
});

/** Statuses in the order seen, repeats folded: the path a dashboard shows. */
const pathOf = (values: Followed[]) =>
  values.map((v) => v.deploymentUpdated.status).filter((status, i, all) => status !== all[i - 1]);

function apolloClient(authorization: string) {
  const wsClient = createWsClient({
    url: wsUrlOf(supergraph.url),
    webSocketImpl: WebSocket,
    connectionParams: { authorization },
    retryAttempts: 0,
  });
  const link = split(
    ({ query }) => {
      const definition = getMainDefinition(query);
      return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
    },
    new GraphQLWsLink(wsClient),
    new HttpLink({ uri: supergraph.url, headers: { authorization } }),
  );
  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  cleanups.push(() => {
    client.stop();
    return wsClient.dispose();
  });
  return client;
}

describe('Apollo Client over HTTP and graphql-ws', () => {
  test('creates a deployment over HTTP, then follows it and its logs to READY over the socket', async () => {
    const client = apolloClient(owner.headers.authorization!);
    const project = await client.mutate<{ createProject: { project: { id: string } } }>({
      mutation: gql`
        mutation CreateProject($input: CreateProjectInput!) {
          createProject(input: $input) { project { id } userErrors { code message } }
        }
      `,
      variables: {
        input: {
          organizationId: organization.id,
          name: 'apollo-app',
          slug: 'apollo-app',
          sourceUrl: repo.url,
        },
      },
    });
    const deployment = await client.mutate<{ createDeployment: { deployment: { id: string } } }>({
      mutation: gql`
        mutation Deploy($input: CreateDeploymentInput!) {
          createDeployment(input: $input) { deployment { id status } userErrors { code message } }
        }
      `,
      variables: { input: { projectId: project.data!.createProject.project.id } },
    });
    const id = deployment.data!.createDeployment.deployment.id;

    const followed: Followed[] = [];
    const lines: LogLine[] = [];
    const errors: unknown[] = [];
    const subscriptions: Subscription[] = [
      client.subscribe<Followed>({ query: gql(FOLLOW), variables: { id } }).subscribe({
        next: ({ data, error }) => {
          if (error) errors.push(error);
          if (data) followed.push(data as Followed);
        },
        error: (error) => errors.push(error),
      }),
      client
        .subscribe<{ deploymentLogs: LogLine }>({
          query: gql`
            subscription Logs($id: ID!) {
              deploymentLogs(deploymentId: $id, fromStart: true) { sequence type stream message }
            }
          `,
          variables: { id },
        })
        .subscribe({
          next: ({ data, error }) => {
            if (error) errors.push(error);
            if (data) lines.push((data as { deploymentLogs: LogLine }).deploymentLogs);
          },
          error: (error) => errors.push(error),
        }),
    ];
    cleanups.push(() => {
      for (const subscription of subscriptions) subscription.unsubscribe();
    });

    const built = (line: LogLine) => line.type === 'BUILD' && line.message.includes('wrote build-info.json');
    await until(
      'READY and the build output line',
      () => followed.at(-1)?.deploymentUpdated.status === 'READY' && lines.some(built),
      45_000,
      () => ({ statuses: pathOf(followed), lines: lines.length, errors }),
    );
    expect(errors).toEqual([]);
    for (const value of followed) expect(value).toEqual(followedShape('apollo-app'));
    expect(followed.every((value) => value.deploymentUpdated.id === id)).toBe(true);
    const statuses = pathOf(followed);
    expect(['QUEUED', 'BUILDING', 'DEPLOYING', 'READY'].slice(-statuses.length)).toEqual(statuses);
    // The earlier lines came from storage and the later ones live: one numbering, no hole, no repeat.
    expect(lines.map((line) => line.sequence)).toEqual(lines.map((_, i) => i + 1));
    expect(lines.find(built)).toMatchObject({ type: 'BUILD', stream: 'STDOUT' });
  }, 50_000);
});

describe('graphql-sse in distinct connections mode', () => {
  function sseClient(headers: Record<string, string> = {}) {
    const client = createSseClient({
      url: supergraph.url,
      headers,
      singleConnection: false,
      retryAttempts: 0,
    });
    cleanups.push(() => client.dispose());
    return client;
  }

  function recordSse<T>(
    client: ReturnType<typeof sseClient>,
    query: string,
    variables: Record<string, unknown>,
  ) {
    const recorded = { values: [] as T[], errors: [] as unknown[], completed: false };
    const dispose = client.subscribe<T>(
      { query, variables },
      {
        next: (result) => {
          if (result.errors) recorded.errors.push(...result.errors);
          if (result.data) recorded.values.push(result.data as T);
        },
        error: (error) => recorded.errors.push(error),
        complete: () => {
          recorded.completed = true;
        },
      },
    );
    cleanups.push(dispose);
    return recorded;
  }

  let deploymentId: string;
  beforeAll(async () => {
    ({
      deployment: { id: deploymentId },
    } = await createProjectAndDeployment(supergraph.url, owner, organization.id, 'sse-app', repo.url));
  });

  test('follows a deployment to READY, every event with fields from accounts and deployments', async () => {
    const stream = recordSse<Followed>(sseClient(owner.headers), FOLLOW, { id: deploymentId });
    await until(
      'READY over SSE',
      () => stream.values.at(-1)?.deploymentUpdated.status === 'READY',
      45_000,
      () => ({ statuses: pathOf(stream.values), errors: stream.errors }),
    );
    expect(stream.errors).toEqual([]);
    for (const value of stream.values) expect(value).toEqual(followedShape('sse-app'));
    const statuses = pathOf(stream.values);
    expect(['QUEUED', 'BUILDING', 'DEPLOYING', 'READY'].slice(-statuses.length)).toEqual(statuses);
  }, 50_000);

  test('without a token: an UNAUTHENTICATED error, and the stream ends', async () => {
    const stream = recordSse<Followed>(sseClient(), FOLLOW, { id: deploymentId });
    await until('the stream to end', () => stream.completed || stream.errors.length > 0, 15_000);
    await until(
      'the stream to complete',
      () => stream.completed,
      5_000,
      () => stream.errors,
    );
    expect(stream.values).toEqual([]);
    expect(codesOf(stream.errors as WireError[])).toEqual(['UNAUTHENTICATED']);
  });
});
