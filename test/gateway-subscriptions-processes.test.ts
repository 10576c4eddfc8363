import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database';
import { createOrganization, createUser, type TestUser } from './support/factories';
import { createGitRepository, type GitRepository } from './support/git-fixtures';
import {
  type ChildSubgraph,
  spawnSubgraph,
  startTestGateway,
  type TestGateway,
  writeTestSupergraph,
} from './support/processes';
import {
  codesOf,
  createProjectAndDeployment,
  record,
  until,
  waitForStatus,
  wsClients,
} from './support/subscriptions';
import { postGraphQL } from './support/supergraph';

/**
 * Subscriptions when the subgraphs are processes of their own, with no pub/sub between them
 * and the gateway: the owning subgraph dies under a stream, and a follower loses access
 * through a mutation of another process.
 */

const databases: TestDatabase[] = [];
let accounts: ChildSubgraph;
let deployments: ChildSubgraph;
let gateway: TestGateway;
let owner: TestUser;
let member: TestUser;
let organizationId: string;
let repo: GitRepository;
/** A deployment whose build failed: it exists and runs nothing that a killed subgraph would orphan. */
let deploymentId: string;
let clients: ReturnType<typeof wsClients>;

beforeAll(async () => {
  const accountsDb = await createTestDatabase('accounts');
  const deploymentsDb = await createTestDatabase('deployments');
  databases.push(accountsDb, deploymentsDb);
  // No Redis even where the test run has one: nothing but responses tells the gateway.
  const env = { REDIS_URL: '' };
  [accounts, deployments] = await Promise.all([
    spawnSubgraph('accounts', { databaseUrl: accountsDb.url, env }),
    spawnSubgraph('deployments', { databaseUrl: deploymentsDb.url, env }),
  ]);
  gateway = await startTestGateway(
    await writeTestSupergraph({ accounts: accounts.url, deployments: deployments.url }),
  );
  clients = wsClients(gateway.url);
  const db = { accounts: accountsDb.url, deployments: deploymentsDb.url };
  owner = await createUser(db, 'Kim Kill');
  member = await createUser(db, 'Remy Removed');
  ({ id: organizationId } = await createOrganization(db, [
    { user: owner, role: 'OWNER' },
    { user: member, role: 'MEMBER' },
  ]));
  repo = await createGitRepository('failing-build');
  ({
    deployment: { id: deploymentId },
  } = await createProjectAndDeployment(gateway.url, owner, organizationId, 'doomed-app', repo.url));
  await waitForStatus(gateway.url, owner, deploymentId, ['ERROR']);
});

afterAll(async () => {
  await clients?.disposeAll();
  await gateway?.close();
  await Promise.all([accounts?.kill(), deployments?.kill('SIGTERM')]);
  await Promise.all(databases.map((database) => database.drop()));
  await repo?.cleanup();
});

const hub = () => gateway.gateway.manager.current.subscriptions;
const STATUS = 'subscription ($id: ID!) { deploymentUpdated(id: $id) { id status creator { name } } }';

interface Status {
  deploymentUpdated: { id: string; status: string; creator: { name: string } };
}

describe('the owning subgraph killed mid-stream', () => {
  // gateway/src/subscriptions.ts builds the errors that end a stream (`ending()`, and
  // `upstreamFailure()` for a subgraph's `error` message) as plain objects, not GraphQLErrors.
  // The result goes out through Yoga, whose error masking (maskError in
  // subgraphs/common/yoga.ts) treats anything that is not a GraphQLError as a bug: it logs
  // "unexpected error" and replaces it with { message: "Internal server error.", code:
  // INTERNAL_SERVER_ERROR }. So DOWNSTREAM_SERVICE_ERROR never reaches the client, and neither do
  // SHUTTING_DOWN, SCHEMA_RELOADED nor the UNAUTHENTICATED of a session that ended (over SSE,
  // where no close code says it instead). Repro: follow deploymentUpdated, SIGKILL the
  // deployments process: the stream ends with INTERNAL_SERVER_ERROR. Fix: `new GraphQLError(...)`.
  test('the subscriber gets DOWNSTREAM_SERVICE_ERROR and the stream completes', async () => {
    const stream = record<Status>(clients.open(owner.headers.authorization), STATUS, { id: deploymentId });
    await until(
      'the first event',
      () => stream.values.length > 0,
      15_000,
      () => stream,
    );
    expect(stream.values[0]!.deploymentUpdated).toEqual({
      id: deploymentId,
      status: 'ERROR',
      creator: { name: 'Kim Kill' },
    });
    expect(hub().upstreamCount).toBe(1);

    await deployments.kill('SIGKILL');
    await until(
      'the stream to end',
      () => stream.ended,
      15_000,
      () => stream,
    );
    expect(stream.closed, 'the client’s socket outlives the subgraph').toBeUndefined();
    expect(stream.completed).toBe(true);
    expect(stream.errors).toHaveLength(1);
    expect(hub().upstreamCount).toBe(0);
    expect(stream.errors[0]!.extensions).toMatchObject({
      code: 'DOWNSTREAM_SERVICE_ERROR',
      serviceName: 'deployments',
    });
  }, 30_000);

  test('once the subgraph is back, a new subscription follows again', async () => {
    if (!deployments.running) await deployments.restart();
    const again = record<Status>(clients.open(owner.headers.authorization), STATUS, { id: deploymentId });
    await until(
      'an event after the restart',
      () => again.values.length > 0 || again.ended,
      20_000,
      () => again,
    );
    expect(again.errors).toEqual([]);
    expect(again.values[0]!.deploymentUpdated.status).toBe('ERROR');
    again.dispose();
  }, 30_000);
});

describe('access changed by another process', () => {
  test('a member removed through the gateway loses their stream, with no pub/sub to tell the gateway', async () => {
    if (!deployments.running) await deployments.restart();
    const stream = record<Status>(clients.open(member.headers.authorization), STATUS, { id: deploymentId });
    await until(
      'the member’s first event',
      () => stream.values.length > 0,
      15_000,
      () => stream,
    );

    const removal = await postGraphQL<{ removeMember: { removedUserId: string | null } }>(
      gateway.url,
      'mutation ($input: RemoveMemberInput!) { removeMember(input: $input) { removedUserId } }',
      { input: { organizationId, userId: member.id } },
      owner.headers,
    );
    expect(removal.body.data?.removeMember.removedUserId, JSON.stringify(removal.body)).toBe(member.id);

    await until(
      'the stream to end',
      () => stream.ended,
      15_000,
      () => stream,
    );
    expect(stream.completed).toBe(true);
    expect(['NOT_FOUND', 'FORBIDDEN']).toContain(codesOf(stream.errors)[0]);
  });
});
