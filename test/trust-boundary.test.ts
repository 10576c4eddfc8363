import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { generateKeyPair, SignJWT } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memberships, sessions } from '../db/accounts/schema';
import { CREDENTIAL_HEADER } from '../subgraphs/common/credential';
import { loadOrCreateKeyPair } from '../subgraphs/common/keys';
import { createEventBus } from '../subgraphs/common/pubsub';
import { gatewayHeaders } from './support/credentials';
import { createOrganization, createProjects, createUser, type TestUser } from './support/factories';
import { postGraphQL, startTestSupergraph, type TestSupergraph } from './support/supergraph';

/**
 * The trust boundary: subgraphs answer the gateway's signed credentials only, the gateway
 * answers valid access tokens only, and no query shape lets a member of one organization
 * read another organization's projects.
 */

let sut: TestSupergraph;
let alice: TestUser; // member of A
let bob: TestUser; // member of B
let orgA: { id: string; slug: string };
let orgB: { id: string; slug: string };
let projectA: { id: string };
let projectB: { id: string };

beforeAll(async () => {
  sut = await startTestSupergraph();
  alice = await createUser(sut.databases, 'Alice');
  bob = await createUser(sut.databases, 'Bob');
  orgA = await createOrganization(sut.databases, [{ user: alice, role: 'OWNER' }], { slug: 'org-a' });
  orgB = await createOrganization(sut.databases, [{ user: bob, role: 'OWNER' }], { slug: 'org-b' });
  projectA = (await createProjects(sut.databases, orgA.id, ['alpha']))[0]!;
  projectB = (await createProjects(sut.databases, orgB.id, ['bravo']))[0]!;
});
afterAll(() => sut?.close());

const ENTITIES = `query ($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on Project { id slug }
    ... on Organization { id projects { edges { node { slug } } } }
  }
}`;

async function signCredential(
  key: CryptoKey,
  subgraph: string,
  options: { expiresAt?: number; issuer?: string } = {},
) {
  return new SignJWT({
    caller: { kind: 'user', userId: alice.id, sessionId: alice.sessionId, memberships: {} },
  })
    .setProtectedHeader({ alg: 'EdDSA' })
    .setIssuer(options.issuer ?? 'construct-gateway')
    .setAudience(`construct:${subgraph}`)
    .setIssuedAt()
    .setExpirationTime(options.expiresAt ?? Math.floor(Date.now() / 1000) + 60)
    .sign(key);
}

describe('a subgraph reached directly', () => {
  const direct = (
    subgraph: 'accounts' | 'deployments',
    query: string,
    headers: Record<string, string> = {},
  ) => postGraphQL(sut.subgraphs[subgraph].url, query, { representations: [] }, headers);

  it.each([
    ['a plain query', '{ __typename }'],
    ['_service', '{ _service { sdl } }'],
    ['_entities', ENTITIES],
  ])('refuses %s without a gateway credential, with 401 UNAUTHENTICATED', async (_, query) => {
    for (const subgraph of ['accounts', 'deployments'] as const) {
      const response = await direct(subgraph, query);
      expect(response.status).toBe(401);
      expect(response.body.data).toBeUndefined();
      expect(response.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    }
  });

  it('refuses a credential signed by any key but the gateway’s', async () => {
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const response = await direct('deployments', ENTITIES, {
      [CREDENTIAL_HEADER]: await signCredential(privateKey, 'deployments'),
    });
    expect(response.status).toBe(401);
  });

  it('refuses the gateway’s credential for another subgraph, an expired one, and a foreign issuer', async () => {
    const { privateKey } = await loadOrCreateKeyPair('.data/keys', 'gateway');
    const forAccounts = await direct('deployments', '{ __typename }', await gatewayHeaders('accounts'));
    expect(forAccounts.status).toBe(401);
    const expired = await direct('deployments', '{ __typename }', {
      [CREDENTIAL_HEADER]: await signCredential(privateKey, 'deployments', {
        expiresAt: Math.floor(Date.now() / 1000) - 5,
      }),
    });
    expect(expired.status).toBe(401);
    const foreign = await direct('deployments', '{ __typename }', {
      [CREDENTIAL_HEADER]: await signCredential(privateKey, 'deployments', { issuer: 'someone-else' }),
    });
    expect(foreign.status).toBe(401);
    const valid = await direct('deployments', '{ __typename }', await gatewayHeaders('deployments'));
    expect(valid.status).toBe(200);
  });

  it('answers _entities with nothing of an organization the credential’s caller is not a member of', async () => {
    const asAlice = await gatewayHeaders('deployments', {
      kind: 'user',
      userId: alice.id,
      sessionId: alice.sessionId,
      memberships: { [orgA.id]: 'OWNER' },
    });
    const response = await postGraphQL<{ _entities: unknown[] }>(
      sut.subgraphs.deployments.url,
      ENTITIES,
      {
        representations: [
          { __typename: 'Project', id: projectA.id },
          { __typename: 'Project', id: projectB.id },
          { __typename: 'Organization', id: orgB.id },
        ],
      },
      asAlice,
    );
    expect(response.body.data?._entities[0]).toEqual({ id: projectA.id, slug: 'alpha' });
    expect(response.body.data?._entities[1]).toBeNull();
    expect(response.body.data?._entities[2]).toEqual({ id: orgB.id, projects: null });
    expect(JSON.stringify(response.body)).not.toContain('bravo');
    expect(response.body.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
  });
});

describe('the gateway', () => {
  it.each([
    ['a malformed Authorization header', 'Token abc'],
    ['a token that is not a JWT', 'Bearer not-a-jwt'],
  ])('answers %s with 401 UNAUTHENTICATED', async (_, authorization) => {
    const response = await sut.query('{ __typename }', undefined, { authorization });
    expect(response.status).toBe(401);
    expect(response.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('refuses an access token signed by another key, for another audience, or expired', async () => {
    const { privateKey: stranger } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const accountsKey = await loadOrCreateKeyPair('.data/keys', 'access-token');
    const token = (key: CryptoKey, audience: string, expiresAt: number) =>
      new SignJWT({ sid: alice.sessionId })
        .setProtectedHeader({ alg: 'EdDSA', kid: accountsKey.kid })
        .setIssuer('construct-accounts')
        .setAudience(audience)
        .setSubject(alice.id)
        .setExpirationTime(expiresAt)
        .sign(key);
    const inAMinute = Math.floor(Date.now() / 1000) + 60;
    for (const bad of [
      await token(stranger, 'construct', inAMinute),
      await token(accountsKey.privateKey, 'another-api', inAMinute),
      await token(accountsKey.privateKey, 'construct', Math.floor(Date.now() / 1000) - 60),
    ]) {
      const response = await sut.query('{ __typename }', undefined, { authorization: `Bearer ${bad}` });
      expect(response.status).toBe(401);
      expect(response.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    }
    const good = await token(accountsKey.privateKey, 'construct', inAMinute);
    expect((await sut.query('{ __typename }', undefined, { authorization: `Bearer ${good}` })).status).toBe(
      200,
    );
  });

  it('stops honouring a token as soon as its session is revoked', async () => {
    const carol = await createUser(sut.databases, 'Carol');
    expect((await sut.query('{ __typename }', undefined, carol.headers)).status).toBe(200);
    await withAccountsDb((db) =>
      db.update(sessions).set({ revokedAt: new Date() }).where(eq(sessions.id, carol.sessionId)),
    );
    createEventBus(undefined).pubsub.publish('caller-access-changed', carol.id);
    const response = await sut.query('{ __typename }', undefined, carol.headers);
    expect(response.status).toBe(401);
    expect(response.body.errors?.[0]?.message).toMatch(/session has ended/);
  });
});

describe('tenant isolation through the gateway', () => {
  const projectQuery = (id: string) => `{ project(id: "${id}") { slug organization { slug } } }`;

  it('shows a member the projects of their organization by every path', async () => {
    const root = await sut.query(projectQuery(projectA.id), undefined, alice.headers);
    expect(root.body).toEqual({ data: { project: { slug: 'alpha', organization: { slug: 'org-a' } } } });
    const nested = await sut.query(
      `{ organization(slug: "org-a") { projects { edges { node { slug } } } } }`,
      undefined,
      alice.headers,
    );
    expect(nested.body.data).toEqual({
      organization: { projects: { edges: [{ node: { slug: 'alpha' } }] } },
    });
  });

  it('never shows another organization’s project, by root field or nested field', async () => {
    const root = await sut.query(projectQuery(projectB.id), undefined, alice.headers);
    expect(root.body).toEqual({ data: { project: null } });
    const anonymous = await sut.query(projectQuery(projectA.id));
    expect(anonymous.body).toEqual({ data: { project: null } });
    const nested = await sut.query(
      `{ organization(slug: "org-b") { projects { edges { node { slug } } } } }`,
      undefined,
      alice.headers,
    );
    expect(JSON.stringify(nested.body)).not.toContain('bravo');
  });

  it('lets no one create a project in an organization they do not belong to, or above their role', async () => {
    const create = (user: TestUser | undefined, organizationId: string, slug: string) =>
      sut.query<{ createProject: { project: unknown; userErrors: { field: string[]; code: string }[] } }>(
        'mutation ($input: CreateProjectInput!) { createProject(input: $input) { project { id } userErrors { field code } } }',
        { input: { organizationId, name: slug, slug } },
        user?.headers,
      );

    const outsider = await create(alice, orgB.id, 'intruder');
    expect(outsider.body.data?.createProject).toEqual({
      project: null,
      userErrors: [{ field: ['input', 'organizationId'], code: 'NOT_FOUND' }],
    });

    const anonymous = await create(undefined, orgA.id, 'anonymous');
    expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

    const viewer = await createUser(sut.databases, 'Viewer');
    await addMember(orgA.id, viewer, 'VIEWER');
    const asViewer = await create(viewer, orgA.id, 'viewer-made');
    expect(asViewer.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const read = await sut.query(projectQuery(projectA.id), undefined, viewer.headers);
    expect(read.body.data).toEqual({ project: { slug: 'alpha', organization: { slug: 'org-a' } } });
  });

  it('cuts a removed member off at once', async () => {
    const dave = await createUser(sut.databases, 'Dave');
    await addMember(orgA.id, dave, 'MEMBER');
    expect((await sut.query(projectQuery(projectA.id), undefined, dave.headers)).body.data).toMatchObject({
      project: { slug: 'alpha' },
    });
    await withAccountsDb((db) => db.delete(memberships).where(eq(memberships.userId, dave.id)));
    createEventBus(undefined).pubsub.publish('caller-access-changed', dave.id);
    expect((await sut.query(projectQuery(projectA.id), undefined, dave.headers)).body).toEqual({
      data: { project: null },
    });
  });
});

async function withAccountsDb<T>(work: (db: ReturnType<typeof drizzle>) => Promise<T>): Promise<T> {
  const pool = new pg.Pool({ connectionString: sut.databases.accounts, max: 1 });
  try {
    return await work(drizzle({ client: pool }));
  } finally {
    await pool.end();
  }
}

async function addMember(organizationId: string, user: TestUser, role: 'MEMBER' | 'VIEWER') {
  await withAccountsDb((db) => db.insert(memberships).values({ organizationId, userId: user.id, role }));
  createEventBus(undefined).pubsub.publish('caller-access-changed', user.id);
}
