import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DEPLOYMENT_FIELDS, type DeploymentState, edgeGet, waitForDeployment } from './support/edge';
import { createOrganization, createUser, type TestUser } from './support/factories';
import { createGitRepository, type GitRepository } from './support/git-fixtures';
import { startTestSupergraph, type TestSupergraph } from './support/supergraph';

let supergraph: TestSupergraph;
let owner: TestUser;
let organizationId: string;
const repositories: GitRepository[] = [];

beforeAll(async () => {
  supergraph = await startTestSupergraph({}, { HEALTHCHECK_TIMEOUT_SECONDS: '10' });
  owner = await createUser(supergraph.databases, 'Ada Owner');
  ({ id: organizationId } = await createOrganization(supergraph.databases, [{ user: owner, role: 'OWNER' }]));
});

afterAll(async () => {
  await supergraph?.close();
  await Promise.all(repositories.map((repository) => repository.cleanup()));
});

async function repository(fixture: string, options?: Parameters<typeof createGitRepository>[1]) {
  const repo = await createGitRepository(fixture, options);
  repositories.push(repo);
  return repo;
}

async function createProject(slug: string, sourceUrl: string, extra: Record<string, unknown> = {}) {
  const { body } = await supergraph.query<{
    createProject: { project: { id: string; url: string } | null; userErrors: unknown[] };
  }>(
    `mutation ($input: CreateProjectInput!) {
      createProject(input: $input) { project { id url } userErrors { field message code } }
    }`,
    { input: { organizationId, name: slug, slug, sourceUrl, ...extra } },
    owner.headers,
  );
  expect(body.data?.createProject.userErrors, JSON.stringify(body)).toEqual([]);
  return body.data!.createProject.project!;
}

async function deploy(projectId: string, input: Record<string, unknown> = {}): Promise<DeploymentState> {
  const { body } = await supergraph.query<{
    createDeployment: { deployment: DeploymentState | null; userErrors: unknown[] };
  }>(
    `mutation ($input: CreateDeploymentInput!) {
      createDeployment(input: $input) { deployment { ${DEPLOYMENT_FIELDS} } userErrors { field message code } }
    }`,
    { input: { projectId, ...input } },
    owner.headers,
  );
  expect(body.data?.createDeployment.userErrors, JSON.stringify(body)).toEqual([]);
  return body.data!.createDeployment.deployment!;
}

describe('a Node app from a git repository', () => {
  test('builds, runs and answers at its own URL and at the production URL', async () => {
    const repo = await repository('node-server');
    const project = await createProject('node-app', repo.url);
    const queued = await deploy(project.id);
    expect(queued.status).toBe('QUEUED');

    const ready = await waitForDeployment(supergraph, owner.headers, queued.id);
    expect(ready).toMatchObject({
      status: 'READY',
      errorMessage: null,
      isProduction: true,
      commitSha: repo.sha,
    });
    expect(ready.events.map((e) => [e.step, e.outcome])).toEqual([
      ['SOURCE', 'SUCCEEDED'],
      ['INSTALL', 'SUCCEEDED'],
      ['BUILD', 'SUCCEEDED'],
      ['START', 'SUCCEEDED'],
      ['HEALTHCHECK', 'SUCCEEDED'],
      ['ROUTE', 'SUCCEEDED'],
    ]);

    const own = await edgeGet(ready.url);
    expect(own.status).toBe(200);
    expect(own.body).toContain('hello');
    expect(own.deploymentId).toBe(ready.id);
    const production = await edgeGet(project.url);
    expect(production).toMatchObject({ status: 200, deploymentId: ready.id });
  });
});

async function mutate<T>(query: string, input: Record<string, unknown>, headers = owner.headers): Promise<T> {
  const { body } = await supergraph.query<Record<string, T>>(query, { input }, headers);
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return Object.values(body.data!)[0]!;
}

async function setVariables(projectId: string, environment: string, variables: Record<string, string>) {
  const result = await mutate<{ userErrors: unknown[] }>(
    `mutation ($input: SetEnvironmentVariablesInput!) { setEnvironmentVariables(input: $input) { userErrors { field message } } }`,
    { projectId, environment, variables: Object.entries(variables).map(([key, value]) => ({ key, value })) },
  );
  expect(result.userErrors).toEqual([]);
}

/** Requests the URL over and over until stopped, keeping every status: what a visitor saw. */
function keepVisiting(url: string, concurrency = 4) {
  const seen: { status: number; deploymentId?: string }[] = [];
  let running = true;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      try {
        const response = await edgeGet(url);
        seen.push({ status: response.status, deploymentId: response.deploymentId });
      } catch {
        seen.push({ status: 0 });
      }
    }
  });
  return {
    seen,
    async stop() {
      running = false;
      await Promise.all(loops);
      return seen;
    },
  };
}

describe('production, previews, promotion and rollback', () => {
  test('the production URL follows promotions and rollbacks, answering every request throughout', async () => {
    const repo = await repository('node-server');
    const project = await createProject('switch-app', repo.url);
    const v1 = await waitForDeployment(supergraph, owner.headers, (await deploy(project.id)).id);
    expect(v1).toMatchObject({ status: 'READY', isProduction: true });

    // A preview with its own variables: reachable at its own URL, production untouched.
    await setVariables(project.id, 'preview', { GREETING: 'bonjour' });
    const preview = await waitForDeployment(
      supergraph,
      owner.headers,
      (await deploy(project.id, { environment: 'preview' })).id,
    );
    expect(preview).toMatchObject({ status: 'READY', isProduction: false });
    expect(preview.url).not.toBe(v1.url);
    expect((await edgeGet(preview.url)).body).toMatch(/^bonjour/);
    expect(await edgeGet(project.url)).toMatchObject({ status: 200, deploymentId: v1.id });

    const visits = keepVisiting(project.url);
    await new Promise((r) => setTimeout(r, 100));
    const promoted = await mutate<{ deployment: DeploymentState; userErrors: unknown[] }>(
      `mutation ($input: DeploymentIdInput!) { promoteDeployment(input: $input) { deployment { ${DEPLOYMENT_FIELDS} } userErrors { message } } }`,
      { deploymentId: preview.id },
    );
    expect(promoted).toMatchObject({ userErrors: [], deployment: { id: preview.id, isProduction: true } });
    // The switch is atomic: the very next request is answered by the promoted deployment.
    expect(await edgeGet(project.url)).toMatchObject({ status: 200, deploymentId: preview.id });
    await new Promise((r) => setTimeout(r, 100));

    const rolledBack = await mutate<{ deployment: DeploymentState; userErrors: unknown[] }>(
      `mutation ($input: RollbackProjectInput!) { rollbackProject(input: $input) { deployment { ${DEPLOYMENT_FIELDS} } userErrors { message } } }`,
      { projectId: project.id, deploymentId: v1.id },
    );
    expect(rolledBack).toMatchObject({ userErrors: [], deployment: { id: v1.id, isProduction: true } });
    expect(await edgeGet(project.url)).toMatchObject({ status: 200, deploymentId: v1.id });
    await new Promise((r) => setTimeout(r, 100));
    const seen = await visits.stop();

    expect(seen.length).toBeGreaterThan(20);
    expect(seen.filter((visit) => visit.status !== 200)).toEqual([]);
    expect(new Set(seen.map((visit) => visit.deploymentId))).toEqual(new Set([v1.id, preview.id]));

    // After a rollback, a new production deployment does not take over until promoted.
    const v3 = await waitForDeployment(supergraph, owner.headers, (await deploy(project.id)).id);
    expect(v3).toMatchObject({ status: 'READY', isProduction: false });
    expect(await edgeGet(project.url)).toMatchObject({ deploymentId: v1.id });
    const { body } = await supergraph.query<{
      project: { productionPinned: boolean; productionDeployment: { id: string } };
    }>(
      `query ($id: ID!) { project(id: $id) { productionPinned productionDeployment { id } } }`,
      { id: project.id },
      owner.headers,
    );
    expect(body.data?.project).toEqual({ productionPinned: true, productionDeployment: { id: v1.id } });
  });

  test('a project is found by its organization’s slug and its own, with fields from both subgraphs', async () => {
    const repo = await repository('static-site');
    const { body: org } = await supergraph.query<{ organization: { slug: string } }>(
      `query { viewerOrganizations(first: 5) { edges { node { id slug } } } }`,
      {},
      owner.headers,
    );
    const slug = (
      org.data as unknown as { viewerOrganizations: { edges: { node: { id: string; slug: string } }[] } }
    ).viewerOrganizations.edges.find((edge) => edge.node.id === organizationId)!.node.slug;
    const project = await createProject('by-slug', repo.url);
    const query = `query ($org: String!, $slug: String!) {
      projectBySlug(organizationSlug: $org, slug: $slug) { id slug organization { id slug } }
    }`;
    const found = await supergraph.query(query, { org: slug, slug: 'by-slug' }, owner.headers);
    expect(found.body).toEqual({
      data: {
        projectBySlug: { id: project.id, slug: 'by-slug', organization: { id: organizationId, slug } },
      },
    });
    const missing = await supergraph.query(query, { org: slug, slug: 'no-such-project' }, owner.headers);
    expect(missing.body.data).toEqual({ projectBySlug: null });
    expect(missing.body.errors).toBeUndefined();

    const stranger = await createUser(supergraph.databases, 'Eve Stranger');
    const hidden = await supergraph.query(query, { org: slug, slug: 'by-slug' }, stranger.headers);
    expect(hidden.body.data).toEqual({ projectBySlug: null });
  });
});

describe('deleting a project', () => {
  test('stops its deployments: REMOVED, its URLs answer 404, its slug is free again', async () => {
    const repo = await repository('node-server');
    const project = await createProject('doomed-app', repo.url);
    const ready = await waitForDeployment(supergraph, owner.headers, (await deploy(project.id)).id);
    expect((await edgeGet(ready.url)).status).toBe(200);

    const deleted = await mutate<{ deletedProjectId: string | null; userErrors: unknown[] }>(
      'mutation ($input: DeleteProjectInput!) { deleteProject(input: $input) { deletedProjectId userErrors { message } } }',
      { projectId: project.id },
    );
    expect(deleted).toEqual({ deletedProjectId: project.id, userErrors: [] });
    expect((await edgeGet(ready.url)).status).toBe(404);
    expect((await edgeGet(project.url)).status).toBe(404);
    const { body } = await supergraph.query(
      'query ($p: ID!, $d: ID!) { project(id: $p) { id } deployment(id: $d) { status } }',
      { p: project.id, d: ready.id },
      owner.headers,
    );
    // The deployment stays readable for the record; the project is gone.
    expect(body.data).toEqual({ project: null, deployment: { status: 'REMOVED' } });
    await createProject('doomed-app', repo.url);
  });
});
