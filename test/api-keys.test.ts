import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateApiKey } from '../subgraphs/common/api-key-format';
import { createOrganization, createProjects, createUser, type TestUser } from './support/factories';
import { createGitRepository, type GitRepository } from './support/git-fixtures';
import { startTestGateway, type TestGateway } from './support/processes';
import { codesOf, record, sleep, until, wsClients } from './support/subscriptions';
import {
  type GraphQLResponse,
  postGraphQL,
  startTestSupergraph,
  type TestSupergraph,
} from './support/supergraph';

/**
 * API keys at the gateway, through the real supergraph: a key made with `createApiKey` acts in
 * its one organization with the role of its scopes, never above its creator's role now, and
 * stops working (the same UNAUTHENTICATED whatever the reason) when revoked, expired, or its
 * creator leaves. The main gateway trusts a resolved key for a minute, so whatever takes effect
 * at once there can only be the pub/sub drop; a second gateway trusting keys for one second
 * shows the cache's own expiry, for changes nobody announced.
 */

const SHORT_CACHE_MS = 1_000;

let supergraph: TestSupergraph;
let shortCache: TestGateway;
let repo: GitRepository;
let owner: TestUser; // OWNER of A and of B
let admin: TestUser; // ADMIN of A, demoted and removed along the way
let outsider: TestUser; // OWNER of B only
let orgA: { id: string; slug: string };
let orgB: { id: string; slug: string };
let projectA: { id: string; slug: string };
let projectB: { id: string; slug: string };
let deployable: string;

interface CreatedKey {
  id: string;
  secret: string;
  headers: Record<string, string>;
}

const CREATE_KEY =
  'mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id prefix } secret userErrors { field message code } } }';
const READ_ORGANIZATION =
  'query ($slug: String!) { organization(slug: $slug) { id projects(first: 10) { edges { node { slug } } } } }';
const CREATE_PROJECT =
  'mutation ($input: CreateProjectInput!) { createProject(input: $input) { project { id slug } userErrors { field message code } } }';
const CREATE_DEPLOYMENT =
  'mutation ($input: CreateDeploymentInput!) { createDeployment(input: $input) { deployment { id status } userErrors { field message code } } }';
const CREATE_ENVIRONMENT =
  'mutation ($input: CreateEnvironmentInput!) { createEnvironment(input: $input) { environment { name } userErrors { field message code } } }';
const QUIET = 'subscription ($id: ID!) { projectDeploymentsUpdated(projectId: $id) { id status } }';

beforeAll(async () => {
  supergraph = await startTestSupergraph({ API_KEY_CACHE_MS: '60000' });
  shortCache = await startTestGateway(supergraph.supergraphPath, {
    API_KEY_CACHE_MS: String(SHORT_CACHE_MS),
  });
  repo = await createGitRepository('failing-build');
  [owner, admin, outsider] = await Promise.all([
    createUser(supergraph.databases, 'Olive Owner'),
    createUser(supergraph.databases, 'Ada Admin'),
    createUser(supergraph.databases, 'Oscar Outsider'),
  ]);
  orgA = await createOrganization(supergraph.databases, [
    { user: owner, role: 'OWNER' },
    { user: admin, role: 'ADMIN' },
  ]);
  orgB = await createOrganization(supergraph.databases, [
    { user: owner, role: 'OWNER' },
    { user: outsider, role: 'OWNER' },
  ]);
  projectA = (await createProjects(supergraph.databases, orgA.id, ['alpha-site']))[0]!;
  projectB = (await createProjects(supergraph.databases, orgB.id, ['bravo-site']))[0]!;
  // A project with a repository, so a deployment of it can be created (its build fails, later).
  const created = await supergraph.query<{ createProject: { project: { id: string } | null } }>(
    CREATE_PROJECT,
    { input: { organizationId: orgA.id, name: 'Deployable', slug: 'deployable', sourceUrl: repo.url } },
    owner.headers,
  );
  deployable = created.body.data!.createProject.project!.id;
});
afterAll(async () => {
  await shortCache?.close();
  await supergraph?.close();
  await repo?.cleanup();
});

async function createKey(
  creator: TestUser,
  organizationId: string,
  scopes: string[],
  expiresAt?: string,
): Promise<CreatedKey> {
  const { body } = await supergraph.query<{
    createApiKey: { apiKey: { id: string } | null; secret: string | null; userErrors: unknown[] };
  }>(CREATE_KEY, { input: { organizationId, name: 'test key', scopes, expiresAt } }, creator.headers);
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  const { apiKey, secret, userErrors } = body.data!.createApiKey;
  expect(userErrors).toEqual([]);
  return { id: apiKey!.id, secret: secret!, headers: { authorization: `Bearer ${secret}` } };
}

async function revokeKey(key: CreatedKey, by: TestUser = owner) {
  const { body } = await supergraph.query(
    'mutation ($input: RevokeApiKeyInput!) { revokeApiKey(input: $input) { userErrors { code } } }',
    { input: { id: key.id } },
    by.headers,
  );
  expect(body).toEqual({ data: { revokeApiKey: { userErrors: [] } } });
}

/** The organization's project slugs as the key reads them (null when it cannot see it). */
async function projectsSeen(headers: Record<string, string>, slug = orgA.slug, url = supergraph.url) {
  return postGraphQL<{ organization: { projects: { edges: { node: { slug: string } }[] } } | null }>(
    url,
    READ_ORGANIZATION,
    { slug },
    headers,
  );
}

function expectInvalidKey(response: GraphQLResponse<unknown>) {
  expect(response.status).toBe(401);
  expect(response.headers.get('www-authenticate')).toBe('Bearer');
  expect(response.body).toEqual({
    errors: [{ message: 'The API key is not valid.', extensions: { code: 'UNAUTHENTICATED' } }],
  });
}

async function createProjectAs(headers: Record<string, string>, slug: string) {
  return supergraph.query<{ createProject: { project: { slug: string } | null } }>(
    CREATE_PROJECT,
    { input: { organizationId: orgA.id, name: slug, slug } },
    headers,
  );
}

async function createEnvironmentAs(headers: Record<string, string>, name: string) {
  return supergraph.query<{ createEnvironment: { environment: { name: string } | null } }>(
    CREATE_ENVIRONMENT,
    { input: { projectId: projectA.id, name } },
    headers,
  );
}

describe('a key acts in its organization with the role of its scopes', () => {
  test('a READ_ONLY key reads its organization’s projects, and cannot create projects or deployments', async () => {
    const key = await createKey(owner, orgA.id, ['READ_ONLY']);
    const read = await projectsSeen(key.headers);
    expect(read.body.errors).toBeUndefined();
    const slugs = read.body.data!.organization!.projects.edges.map((edge) => edge.node.slug);
    expect(slugs).toEqual(expect.arrayContaining(['alpha-site', 'deployable']));
    expect(slugs).not.toContain('bravo-site');

    const project = await createProjectAs(key.headers, 'read-only-attempt');
    expect(codesOf(project.body.errors ?? [])).toEqual(['FORBIDDEN']);
    const deployment = await supergraph.query(
      CREATE_DEPLOYMENT,
      { input: { projectId: deployable } },
      key.headers,
    );
    expect(codesOf(deployment.body.errors ?? [])).toEqual(['FORBIDDEN']);
  });

  test('a DEPLOY key creates a deployment, recorded as its creator’s', async () => {
    const key = await createKey(owner, orgA.id, ['DEPLOY']);
    const { body } = await supergraph.query<{
      createDeployment: { deployment: { id: string; status: string } | null; userErrors: unknown[] };
    }>(CREATE_DEPLOYMENT, { input: { projectId: deployable } }, key.headers);
    expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
    expect(body.data!.createDeployment.userErrors).toEqual([]);
    const deploymentId = body.data!.createDeployment.deployment!.id;
    const read = await supergraph.query<{ deployment: { creator: { id: string } | null } | null }>(
      'query ($id: ID!) { deployment(id: $id) { creator { id } } }',
      { id: deploymentId },
      owner.headers,
    );
    expect(read.body.data?.deployment?.creator?.id).toBe(owner.id);
    // DEPLOY acts as a MEMBER: what takes ADMIN stays out of reach.
    expect(codesOf((await createEnvironmentAs(key.headers, 'deploy-key-env')).body.errors ?? [])).toEqual([
      'FORBIDDEN',
    ]);
  });

  test('a key never sees another organization, not even one its creator owns', async () => {
    const key = await createKey(owner, orgA.id, ['ADMIN']);
    expect((await projectsSeen(owner.headers, orgB.slug)).body.data?.organization).not.toBeNull();

    expect((await projectsSeen(key.headers, orgB.slug)).body).toEqual({ data: { organization: null } });
    const project = await supergraph.query(
      'query ($id: ID!) { project(id: $id) { slug } }',
      { id: projectB.id },
      key.headers,
    );
    expect(project.body.data).toEqual({ project: null });
    const created = await supergraph.query<{
      createProject: { project: unknown; userErrors: { code: string }[] };
    }>(
      CREATE_PROJECT,
      { input: { organizationId: orgB.id, name: 'Intrusion', slug: 'intrusion' } },
      key.headers,
    );
    expect(created.body.data?.createProject.project ?? null).toBeNull();
    expect(created.body.data?.createProject.userErrors.map((error) => error.code)).toEqual(['NOT_FOUND']);
  });
});

describe('a key never outranks its creator', () => {
  test('an ADMIN key acts as its creator’s role as it changes: ADMIN, then MEMBER, then nothing', async () => {
    const key = await createKey(admin, orgA.id, ['ADMIN']);
    expect((await createEnvironmentAs(key.headers, 'while-admin')).body.errors).toBeUndefined();

    const demoted = await supergraph.query(
      'mutation ($input: ChangeMemberRoleInput!) { changeMemberRole(input: $input) { userErrors { code } } }',
      { input: { organizationId: orgA.id, userId: admin.id, role: 'MEMBER' } },
      owner.headers,
    );
    expect(demoted.body.errors).toBeUndefined();
    // The gateway caches the key for a minute: only the creator's change of access, heard at
    // once, explains the lower role on the very next request.
    expect(codesOf((await createEnvironmentAs(key.headers, 'after-demotion')).body.errors ?? [])).toEqual([
      'FORBIDDEN',
    ]);
    const asMember = await createProjectAs(key.headers, 'by-demoted-key');
    expect(asMember.body.errors).toBeUndefined();
    expect(asMember.body.data?.createProject.project).toEqual({
      id: expect.any(String),
      slug: 'by-demoted-key',
    });

    const removed = await supergraph.query(
      'mutation ($input: RemoveMemberInput!) { removeMember(input: $input) { userErrors { code } } }',
      { input: { organizationId: orgA.id, userId: admin.id } },
      owner.headers,
    );
    expect(removed.body.errors).toBeUndefined();
    expectInvalidKey(await projectsSeen(key.headers));
  });
});

describe('a key that is no longer valid', () => {
  test('stops at once when revoked, on the next request (the revocation is heard, not waited out)', async () => {
    const key = await createKey(owner, orgA.id, ['READ_ONLY']);
    expect((await projectsSeen(key.headers)).status).toBe(200);
    await revokeKey(key);
    expectInvalidKey(await projectsSeen(key.headers));
  });

  test('stops within API_KEY_CACHE_MS when revoked where no gateway hears of it', async () => {
    const key = await createKey(owner, orgA.id, ['READ_ONLY']);
    expect((await projectsSeen(key.headers, orgA.slug, shortCache.url)).status).toBe(200);
    expect((await projectsSeen(key.headers)).status).toBe(200);
    // Revoked in the database, as a developer replica would leave it when its announcement is lost.
    const client = new pg.Client({ connectionString: supergraph.databases.developer });
    await client.connect();
    try {
      await client.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [key.id]);
    } finally {
      await client.end();
    }
    // Nothing was announced: the minute-long cache still vouches for it…
    expect((await projectsSeen(key.headers)).status).toBe(200);
    // …and the one-second cache lets go of it once its second is over.
    const revokedAt = Date.now();
    let response = await projectsSeen(key.headers, orgA.slug, shortCache.url);
    while (response.status === 200 && Date.now() - revokedAt < SHORT_CACHE_MS + 2_000) {
      await sleep(100);
      response = await projectsSeen(key.headers, orgA.slug, shortCache.url);
    }
    expectInvalidKey(response);
    expect(Date.now() - revokedAt).toBeLessThan(SHORT_CACHE_MS + 1_000);
  });

  test('stops when it expires, though the gateway cached it for longer', async () => {
    const expiresAt = new Date(Date.now() + 2_000);
    const key = await createKey(owner, orgA.id, ['READ_ONLY'], expiresAt.toISOString());
    expect((await projectsSeen(key.headers)).status).toBe(200);
    await sleep(Math.max(0, expiresAt.getTime() - Date.now()) + 100);
    expectInvalidKey(await projectsSeen(key.headers));
  });

  test('malformed, unknown, wrong checksum and revoked keys get the identical answer', async () => {
    const revoked = await createKey(owner, orgA.id, ['READ_ONLY']);
    await revokeKey(revoked);
    const real = (await createKey(owner, orgA.id, ['READ_ONLY'])).secret;
    const lastChar = real.at(-1) === 'A' ? 'B' : 'A';
    const tokens = {
      malformed: 'cst_not-a-key',
      truncated: real.slice(0, -1),
      wrongChecksum: `${real.slice(0, -1)}${lastChar}`,
      unknown: generateApiKey().secret,
      revoked: revoked.secret,
    };
    for (const [what, token] of Object.entries(tokens)) {
      const response = await projectsSeen({ authorization: `Bearer ${token}` });
      expect(response.status, what).toBe(401);
      expectInvalidKey(response);
    }
  });
});

describe('when the key cannot be checked', () => {
  test('a developer subgraph that is down is not the caller’s fault: INTERNAL_SERVER_ERROR, not UNAUTHENTICATED', async () => {
    const key = await createKey(owner, orgA.id, ['READ_ONLY']);
    const gateway = await startTestGateway(supergraph.supergraphPath, {
      // Nothing listens there.
      SUBGRAPH_DEVELOPER_URL: 'http://127.0.0.1:1/graphql',
    });
    try {
      const response = await projectsSeen(key.headers, orgA.slug, gateway.url);
      expect(response.body).toEqual({
        errors: [
          {
            message: 'Sign-in cannot be checked right now; retry shortly.',
            extensions: { code: 'INTERNAL_SERVER_ERROR' },
          },
        ],
      });
      expect(response.headers.get('www-authenticate')).toBeNull();
      // An access token does not depend on the developer subgraph.
      expect((await projectsSeen(owner.headers, orgA.slug, gateway.url)).body.errors).toBeUndefined();
    } finally {
      await gateway.close();
    }
  });
});

describe('a key’s subscriptions', () => {
  test('a WebSocket held by a key follows its organization only, and closes with 4403 when the key is revoked', async () => {
    const key = await createKey(owner, orgA.id, ['READ_ONLY']);
    const clients = wsClients(supergraph.url);
    try {
      const hub = () => supergraph.gateway.manager.current.subscriptions;
      const upstreams = hub().upstreamCount;
      const stream = record<{ projectDeploymentsUpdated: { id: string } }>(
        clients.open(key.headers.authorization),
        QUIET,
        { id: deployable },
      );
      await until('the key’s stream to open upstream', () => hub().upstreamCount > upstreams, 10_000);
      // A key of another organization asking for the same stream shares nothing with this one.
      const stranger = await createKey(owner, orgB.id, ['READ_ONLY']);
      const strangerStream = record<{ projectDeploymentsUpdated: { id: string } }>(
        clients.open(stranger.headers.authorization),
        QUIET,
        { id: deployable },
      );
      const deployed = await supergraph.query<{ createDeployment: { deployment: { id: string } } }>(
        CREATE_DEPLOYMENT,
        { input: { projectId: deployable } },
        owner.headers,
      );
      const deploymentId = deployed.body.data!.createDeployment.deployment.id;
      await until(
        'the key’s stream to see the new deployment',
        () => stream.values.some((value) => value.projectDeploymentsUpdated.id === deploymentId),
        15_000,
        () => stream,
      );

      expect(strangerStream.values).toEqual([]);
      strangerStream.dispose();

      await revokeKey(key);
      await until(
        'the key’s socket to close',
        () => stream.closed !== undefined,
        10_000,
        () => stream,
      );
      expect(stream.closed?.code).toBe(4403);
      await until('its upstream stream to close', () => hub().upstreamCount === upstreams, 10_000);
    } finally {
      await clients.disposeAll();
    }
  });
});
