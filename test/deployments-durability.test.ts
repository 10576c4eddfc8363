import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { findFreePort } from '../subgraphs/common/net';
import { createTestDatabase, type TestDatabase } from './support/database';
import { processesMatching } from './support/deployments';
import { DEPLOYMENT_FIELDS, type DeploymentState, edgeGet } from './support/edge';
import { createOrganization, createUser, type TestUser } from './support/factories';
import { createGitRepository, type GitRepository } from './support/git-fixtures';
import {
  type ChildSubgraph,
  spawnSubgraph,
  startTestGateway,
  type TestGateway,
  writeTestSupergraph,
} from './support/processes';
import { postGraphQL } from './support/supergraph';

/**
 * The deployments subgraph as a process of its own, killed (SIGKILL: no goodbye) in the middle
 * of a build and started again on the same disk: no deployment stays stuck, nothing it ran
 * survives as an orphan, and production comes back by itself.
 */

const databases: TestDatabase[] = [];
let accounts: ChildSubgraph;
let deployments: ChildSubgraph;
let gateway: TestGateway;
let owner: TestUser;
let organizationId: string;
let repo: GitRepository;

beforeAll(async () => {
  const accountsDb = await createTestDatabase('accounts');
  const deploymentsDb = await createTestDatabase('deployments');
  databases.push(accountsDb, deploymentsDb);
  [accounts, deployments] = await Promise.all([
    spawnSubgraph('accounts', { databaseUrl: accountsDb.url }),
    // A fixed edge port, as a server has: URLs handed out before the restart still work after it.
    spawnSubgraph('deployments', {
      databaseUrl: deploymentsDb.url,
      env: { EDGE_PORT: String(await findFreePort()) },
    }),
  ]);
  gateway = await startTestGateway(
    await writeTestSupergraph({ accounts: accounts.url, deployments: deployments.url }),
  );
  const db = { accounts: accountsDb.url, deployments: deploymentsDb.url };
  owner = await createUser(db, 'Rita Restart');
  ({ id: organizationId } = await createOrganization(db, [{ user: owner, role: 'OWNER' }]));
  repo = await createGitRepository('node-server');
});

afterAll(async () => {
  await gateway?.close();
  await Promise.all([accounts?.kill(), deployments?.kill('SIGTERM')]);
  await Promise.all(databases.map((database) => database.drop()));
  await repo?.cleanup();
});

async function graphql<T>(query: string, variables: Record<string, unknown> = {}) {
  const { body } = await postGraphQL<T>(gateway.url, query, variables, owner.headers);
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data!;
}

async function deployment(id: string) {
  return (
    await graphql<{ deployment: DeploymentState & { logs: { edges: { node: { message: string } }[] } } }>(
      `query ($id: ID!) { deployment(id: $id) { ${DEPLOYMENT_FIELDS} logs(first: 100) { edges { node { message } } } } }`,
      { id },
    )
  ).deployment;
}

async function waitFor(id: string, done: (d: DeploymentState) => boolean, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const current = await deployment(id);
    if (done(current)) return current;
    if (Date.now() > deadline) throw new Error(`deployment still ${current.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a restart of the deployments subgraph', () => {
  test('mid-build: the build starts over and ends READY, with no process of the first run left', async () => {
    // A marker unique to this run, so the check cannot see another test's processes.
    const marker = `construct-durability-${Date.now()}`;
    const flag = join(tmpdir(), `${marker}.started`);
    const { createProject } = await graphql<{ createProject: { project: { id: string; url: string } } }>(
      `mutation ($input: CreateProjectInput!) { createProject(input: $input) { project { id url } } }`,
      {
        input: {
          organizationId,
          name: 'Durable',
          slug: 'durable',
          sourceUrl: repo.url,
          // The first run hangs (it would outlive the test if nothing killed it); the second builds.
          buildCommand: `if [ -e ${flag} ]; then npm run build; else touch ${flag}; sleep 60; fi # ${marker}`,
        },
      },
    );
    const { createDeployment } = await graphql<{ createDeployment: { deployment: { id: string } } }>(
      `mutation ($input: CreateDeploymentInput!) { createDeployment(input: $input) { deployment { id } } }`,
      { input: { projectId: createProject.project.id } },
    );
    const id = createDeployment.deployment.id;
    await waitFor(id, (d) => d.events.some((e) => e.step === 'BUILD' && e.outcome === 'RUNNING'));
    expect(processesMatching(marker)).not.toEqual([]);

    await deployments.kill('SIGKILL');
    await deployments.restart();

    const ready = await waitFor(id, (d) => d.status === 'READY' || d.status === 'ERROR');
    expect(ready.status).toBe('READY');
    expect(ready.logs.edges.map((e) => e.node.message)).toContainEqual(
      expect.stringMatching(/interrupted.*starting over \(attempt 2\)/),
    );
    expect((await edgeGet(createProject.project.url)).status).toBe(200);
    // The first run's build was killed with its subgraph's restart, not left running beside the second.
    expect(processesMatching(marker)).toEqual([]);
  });

  test('when READY: production is running again after the restart, answering at the same URL', async () => {
    const { project } = await graphql<{
      project: { id: string; url: string; productionDeployment: { id: string } };
    }>(
      `query { project: projectBySlug(organizationSlug: "${await organizationSlug()}", slug: "durable") { id url productionDeployment { id } } }`,
    );
    expect((await edgeGet(project.url)).deploymentId).toBe(project.productionDeployment.id);

    await deployments.kill('SIGKILL');
    await deployments.restart();

    const deadline = Date.now() + 30_000;
    let answer = await edgeGet(project.url).catch(() => null);
    while (answer?.status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      answer = await edgeGet(project.url).catch(() => null);
    }
    expect(answer).toMatchObject({ status: 200, deploymentId: project.productionDeployment.id });
    expect((await deployment(project.productionDeployment.id)).status).toBe('READY');
  });
});

async function organizationSlug(): Promise<string> {
  const { viewerOrganizations } = await graphql<{
    viewerOrganizations: { edges: { node: { id: string; slug: string } }[] };
  }>('{ viewerOrganizations(first: 10) { edges { node { id slug } } } }');
  return viewerOrganizations.edges.find((edge) => edge.node.id === organizationId)!.node.slug;
}
