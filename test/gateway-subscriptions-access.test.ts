import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient as createSseClient } from 'graphql-sse';
import { CloseCode } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import { waitForDeployment } from './support/edge';
import { createOrganization, createUser, type TestUser } from './support/factories';
import { createGitRepository, type GitRepository } from './support/git-fixtures';
import {
  codesOf,
  createProjectAndDeployment,
  record,
  until,
  type WireError,
  wsClients,
} from './support/subscriptions';
import { startTestSupergraph, type TestSupergraph } from './support/supergraph';

/**
 * A subscription outlives the request that authorized it: when the follower's access changes
 * mid-stream (removed from the organization, signed out), what they follow must stop, through
 * the gateway, at once, and not when the socket happens to close.
 */

let supergraph: TestSupergraph;
let owner: TestUser;
/** Removed from the organization mid-stream. */
let removed: TestUser;
/** Signs out mid-stream. */
let leaving: TestUser;
/** Signs out mid-stream, following over SSE. */
let leavingSse: TestUser;
let organizationId: string;
let repo: GitRepository;
let deploymentId: string;
let clients: ReturnType<typeof wsClients>;

beforeAll(async () => {
  supergraph = await startTestSupergraph();
  clients = wsClients(supergraph.url);
  owner = await createUser(supergraph.databases, 'Olga Owner');
  removed = await createUser(supergraph.databases, 'Mo Member');
  leaving = await createUser(supergraph.databases, 'Lou Logout');
  leavingSse = await createUser(supergraph.databases, 'Sue Sse');
  ({ id: organizationId } = await createOrganization(supergraph.databases, [
    { user: owner, role: 'OWNER' },
    { user: removed, role: 'MEMBER' },
    { user: leaving, role: 'MEMBER' },
    { user: leavingSse, role: 'MEMBER' },
  ]));
  repo = await createGitRepository('node-server');
  ({
    deployment: { id: deploymentId },
  } = await createProjectAndDeployment(supergraph.url, owner, organizationId, 'guarded-app', repo.url));
  await waitForDeployment(supergraph, owner.headers, deploymentId, (status) => status === 'READY');
});

afterAll(async () => {
  await clients?.disposeAll();
  await supergraph?.close();
  await repo?.cleanup();
});

const hub = () => supergraph.gateway.manager.current.subscriptions;

const DEPLOYMENT = 'subscription ($id: ID!) { deploymentUpdated(id: $id) { id status isProduction } }';
const PROJECT = 'subscription ($id: ID!) { projectDeploymentsUpdated(projectId: $id) { id status } }';

interface DeploymentEvent {
  deploymentUpdated: { id: string; status: string; isProduction: boolean };
}
interface ProjectEvent {
  projectDeploymentsUpdated: { id: string; status: string };
}

describe('a follower removed from the organization', () => {
  test('their streams end with the subgraph’s refusal, and what the deployment does after never reaches them', async () => {
    // The build waits for this file: the deployment is still going when the member is removed,
    // and goes on only once the test says so.
    const go = join(mkdtempSync(join(tmpdir(), 'construct-access-')), 'go');
    const slow = await createProjectAndDeployment(
      supergraph.url,
      owner,
      organizationId,
      'slow-app',
      repo.url,
      {
        buildCommand: `while [ ! -e ${go} ]; do sleep 0.1; done; npm run build`,
      },
    );
    const member = removed;
    const socket = clients.open(member.headers.authorization);
    const deployment = record<DeploymentEvent>(socket, DEPLOYMENT, { id: slow.deployment.id });
    const project = record<ProjectEvent>(socket, PROJECT, { id: slow.projectId });
    const owners = clients.open(owner.headers.authorization);
    const ownersDeployment = record<DeploymentEvent>(owners, DEPLOYMENT, { id: slow.deployment.id });
    const ownersProject = record<ProjectEvent>(owners, PROJECT, { id: slow.projectId });
    await until(
      'the first events',
      () => deployment.values.length > 0 && ownersDeployment.values.length > 0,
      15_000,
      () => ({ deployment, ownersDeployment }),
    );
    expect(deployment.values[0]!.deploymentUpdated.status).not.toBe('READY');
    expect(project.ended).toBe(false);

    const removal = await supergraph.query<{ removeMember: { removedUserId: string | null } }>(
      'mutation ($input: RemoveMemberInput!) { removeMember(input: $input) { removedUserId userErrors { code message } } }',
      { input: { organizationId, userId: member.id } },
      owner.headers,
    );
    expect(removal.body.data?.removeMember.removedUserId, JSON.stringify(removal.body)).toBe(member.id);

    await until(
      'both streams to end',
      () => deployment.ended && project.ended,
      15_000,
      () => ({
        deployment,
        project,
      }),
    );
    for (const stream of [deployment, project]) {
      expect(stream.closed, 'the socket of a user still signed in stays open').toBeUndefined();
      expect(stream.completed).toBe(true);
      expect(codesOf(stream.errors)).toHaveLength(1);
      expect(['NOT_FOUND', 'FORBIDDEN']).toContain(codesOf(stream.errors)[0]);
    }
    const seen = { deployment: deployment.values.length, project: project.values.length };

    writeFileSync(go, '');
    await until(
      'the owner to see the deployment READY',
      () =>
        ownersDeployment.values.at(-1)?.deploymentUpdated.status === 'READY' &&
        ownersProject.values.at(-1)?.projectDeploymentsUpdated.status === 'READY',
      45_000,
      () => ({ deployment: ownersDeployment.values, project: ownersProject.values }),
    );
    expect(ownersDeployment.errors).toEqual([]);
    expect({ deployment: deployment.values.length, project: project.values.length }).toEqual(seen);
    ownersDeployment.dispose();
    ownersProject.dispose();
    await until('every upstream to close', () => hub().upstreamCount === 0, 10_000);
  }, 55_000);
});

describe('a follower whose session ends', () => {
  test('logOut closes their socket with 4403 and their upstream streams', async () => {
    const member = leaving;
    const upstreams = hub().upstreamCount;
    const socket = clients.open(member.headers.authorization);
    const stream = record<DeploymentEvent>(socket, DEPLOYMENT, { id: deploymentId });
    await until(
      'the member’s first event',
      () => stream.values.length > 0,
      15_000,
      () => stream,
    );
    expect(hub().upstreamCount).toBe(upstreams + 1);

    const loggedOut = await supergraph.query<{ logOut: { success: boolean } }>(
      'mutation { logOut { success userErrors { code message } } }',
      undefined,
      member.headers,
    );
    expect(loggedOut.body.data?.logOut.success, JSON.stringify(loggedOut.body)).toBe(true);

    await until(
      'the socket to close',
      () => stream.ended,
      15_000,
      () => stream,
    );
    expect(stream.closed?.code).toBe(CloseCode.Forbidden);
    await until('the member’s upstream to close', () => hub().upstreamCount === upstreams, 10_000);

    // The token is dead for a new socket too.
    const again = record(clients.open(member.headers.authorization), DEPLOYMENT, { id: deploymentId });
    await until(
      'the new socket to be refused',
      () => again.ended,
      10_000,
      () => again,
    );
    expect(again.closed?.code).toBe(CloseCode.Forbidden);
  });

  // Over SSE no close code can say it: the stream's last error is all the client learns. The hub
  // ends the stream with UNAUTHENTICATED (gateway/src/subscriptions.ts, `refresh`), but builds
  // that error as a plain object, which Yoga's masking turns into INTERNAL_SERVER_ERROR "Internal
  // server error." (same cause as the DOWNSTREAM_SERVICE_ERROR BUG test in
  // gateway-subscriptions-processes.test.ts). Repro: follow deploymentUpdated over SSE, logOut.
  test('logOut ends their SSE streams with UNAUTHENTICATED', async () => {
    const member = leavingSse;
    const upstreams = hub().upstreamCount;
    const client = createSseClient({ url: supergraph.url, headers: member.headers, retryAttempts: 0 });
    const stream = { values: [] as unknown[], errors: [] as WireError[], completed: false };
    const dispose = client.subscribe(
      { query: DEPLOYMENT, variables: { id: deploymentId } },
      {
        next: (result) => {
          if (result.errors) stream.errors.push(...(result.errors as unknown as WireError[]));
          if (result.data) stream.values.push(result.data);
        },
        error: (error) => stream.errors.push({ message: String(error) }),
        complete: () => {
          stream.completed = true;
        },
      },
    );
    onTestFinished(() => {
      dispose();
      client.dispose();
    });
    await until(
      'the member’s first event',
      () => stream.values.length > 0,
      15_000,
      () => stream,
    );

    const loggedOut = await supergraph.query<{ logOut: { success: boolean } }>(
      'mutation { logOut { success } }',
      undefined,
      member.headers,
    );
    expect(loggedOut.body.data?.logOut.success, JSON.stringify(loggedOut.body)).toBe(true);

    await until(
      'the stream to end',
      () => stream.completed,
      15_000,
      () => stream,
    );
    await until('the member’s upstream to close', () => hub().upstreamCount === upstreams, 10_000);
    expect(codesOf(stream.errors)).toEqual(['UNAUTHENTICATED']);
  });
});
