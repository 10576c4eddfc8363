import { type Client, createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { DEPLOYMENT_FIELDS, type DeploymentState } from './support/edge';
import { createOrganization, createUser, type TestUser } from './support/factories';
import { createGitRepository, type GitRepository } from './support/git-fixtures';
import { startTestSupergraph, type TestSupergraph } from './support/supergraph';

/**
 * Subscriptions through the gateway over graphql-ws: the stream comes from the subgraph that
 * owns the field, and every event is completed with fields of the other subgraphs.
 */

let supergraph: TestSupergraph;
let owner: TestUser;
let organization: { id: string; slug: string; name: string };
let repo: GitRepository;
const clients: Client[] = [];

beforeAll(async () => {
  supergraph = await startTestSupergraph();
  owner = await createUser(supergraph.databases, 'Grace Follower');
  organization = await createOrganization(supergraph.databases, [{ user: owner, role: 'OWNER' }], {
    name: 'Follow Co',
  });
  repo = await createGitRepository('node-server');
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.dispose()));
  await supergraph?.close();
  await repo?.cleanup();
});

function gatewayClient(
  authorization?: string,
  extra: Partial<Parameters<typeof createClient>[0]> = {},
): Client {
  const client = createClient({
    url: supergraph.url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: authorization ? { authorization } : {},
    retryAttempts: 0,
    ...extra,
  });
  clients.push(client);
  return client;
}

function collect<T>(client: Client, query: string, variables: Record<string, unknown> = {}) {
  const values: T[] = [];
  const errors: unknown[] = [];
  let completed = false;
  const dispose = client.subscribe<T>(
    { query, variables },
    {
      next: (result) => {
        if (result.errors) errors.push(...result.errors);
        if (result.data) values.push(result.data as T);
      },
      error: (error) => errors.push(error),
      complete: () => {
        completed = true;
      },
    },
  );
  return {
    values,
    errors,
    dispose,
    get completed() {
      return completed;
    },
  };
}

async function until(condition: () => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function newDeployment(slug: string): Promise<DeploymentState> {
  const { body } = await supergraph.query<{ createProject: { project: { id: string } } }>(
    'mutation ($input: CreateProjectInput!) { createProject(input: $input) { project { id } } }',
    { input: { organizationId: organization.id, name: slug, slug, sourceUrl: repo.url } },
    owner.headers,
  );
  const created = await supergraph.query<{ createDeployment: { deployment: DeploymentState } }>(
    `mutation ($input: CreateDeploymentInput!) { createDeployment(input: $input) { deployment { ${DEPLOYMENT_FIELDS} } } }`,
    { input: { projectId: body.data!.createProject.project.id } },
    owner.headers,
  );
  return created.body.data!.createDeployment.deployment;
}

const FOLLOW = `subscription ($id: ID!) {
  deploymentUpdated(id: $id) {
    status
    project { name organization { slug name } }
    creator { name email }
  }
}`;

interface Followed {
  deploymentUpdated: {
    status: string;
    project: { name: string; organization: { slug: string; name: string } };
    creator: { name: string; email: string };
  };
}

describe('deploymentUpdated through the gateway', () => {
  test('follows a deployment to READY with fields from accounts and deployments in every payload', async () => {
    const deployment = await newDeployment('followed-app');
    const client = gatewayClient(owner.headers.authorization);
    const stream = collect<Followed>(client, FOLLOW, { id: deployment.id });
    await until(() => stream.values.some((v) => v.deploymentUpdated.status === 'READY'));
    expect(stream.errors).toEqual([]);
    for (const value of stream.values) {
      expect(value.deploymentUpdated).toMatchObject({
        project: { name: 'followed-app', organization: { slug: organization.slug, name: 'Follow Co' } },
        creator: { name: 'Grace Follower', email: owner.email },
      });
    }
    const statuses = stream.values
      .map((v) => v.deploymentUpdated.status)
      .filter((s, i, all) => s !== all[i - 1]);
    expect(['QUEUED', 'BUILDING', 'DEPLOYING', 'READY'].slice(-statuses.length)).toEqual(statuses);
    stream.dispose();
  });
});
