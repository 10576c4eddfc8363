import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../subgraphs/common/caller';
import { gatewayHeaders } from './support/credentials';
import { createOrganization, createProjects, createUser, type TestUser } from './support/factories';
import { postGraphQL, startTestSupergraph, type TestSupergraph } from './support/supergraph';

/**
 * Tenant isolation for accounts' teams data: two organizations, and for Organization,
 * Membership, Invitation and User.memberships, by root field, nested field and `_entities` sent
 * straight to the accounts subgraph (with a credential for a user of the other organization,
 * and without one), the other organization's data never comes back, and no mutation reaches it.
 */

let sut: TestSupergraph;
let alice: TestUser; // OWNER of A
let bob: TestUser; // OWNER of B
let carol: TestUser; // MEMBER of A, ADMIN of B
let orgA: { id: string; slug: string; name: string };
let orgB: { id: string; slug: string; name: string };
let projectA: { id: string };
let projectB: { id: string };
let invitationB: string;

/** Strings of B that must never show up in an answer to someone outside B. */
let secretsOfB: string[];

beforeAll(async () => {
  sut = await startTestSupergraph();
  alice = await createUser(sut.databases, 'Alice');
  bob = await createUser(sut.databases, 'Bob');
  carol = await createUser(sut.databases, 'Carol');
  orgA = await createOrganization(
    sut.databases,
    [
      { user: alice, role: 'OWNER' },
      { user: carol, role: 'MEMBER' },
    ],
    { slug: 'alpha-team', name: 'Alpha Team' },
  );
  orgB = await createOrganization(
    sut.databases,
    [
      { user: bob, role: 'OWNER' },
      { user: carol, role: 'ADMIN' },
    ],
    { slug: 'bravo-team', name: 'Bravo Team' },
  );
  projectA = (await createProjects(sut.databases, orgA.id, ['alpha-site']))[0]!;
  projectB = (await createProjects(sut.databases, orgB.id, ['bravo-site']))[0]!;
  const invited = await sut.query<{ inviteMember: { invitation: { id: string } } }>(
    'mutation ($input: InviteMemberInput!) { inviteMember(input: $input) { invitation { id } userErrors { code } } }',
    { input: { organizationId: orgB.id, email: 'bravo-secret-invitee@example.test', role: 'MEMBER' } },
    bob.headers,
  );
  invitationB = invited.body.data!.inviteMember.invitation.id;
  secretsOfB = [orgB.id, orgB.slug, orgB.name, 'bravo-secret-invitee', invitationB, 'bravo-site'];
});
afterAll(() => sut?.close());

function expectNothingOfB(body: unknown) {
  const text = JSON.stringify(body);
  for (const secret of secretsOfB) expect(text, `leaked ${secret}`).not.toContain(secret);
}

const ORGANIZATION_FIELDS =
  'id slug name personal createdAt viewerRole members { edges { node { role user { id } } } } invitations { edges { node { id email } } }';

const asUser = (user: TestUser, memberships: Record<string, 'OWNER' | 'ADMIN' | 'MEMBER'>): Caller => ({
  kind: 'user',
  userId: user.id,
  sessionId: user.sessionId,
  memberships,
});

describe('through the gateway', () => {
  it('by root field: a member sees their organization, nobody else sees it, anonymous sees none', async () => {
    const own = await sut.query(
      `{ organization(slug: "alpha-team") { ${ORGANIZATION_FIELDS} } }`,
      undefined,
      alice.headers,
    );
    expect(own.body.errors).toBeUndefined();
    expect(own.body.data?.organization).toMatchObject({ id: orgA.id, viewerRole: 'OWNER' });

    for (const [user, slug] of [
      [alice, 'bravo-team'],
      [bob, 'alpha-team'],
      [undefined, 'alpha-team'],
      [undefined, 'bravo-team'],
    ] as const) {
      const response = await sut.query(
        `{ organization(slug: "${slug}") { ${ORGANIZATION_FIELDS} } }`,
        undefined,
        user?.headers,
      );
      expect(response.body).toEqual({ data: { organization: null } });
    }
  });

  it('by the list of the caller’s organizations', async () => {
    const response = await sut.query<{ viewerOrganizations: { edges: { node: { id: string } }[] } }>(
      `{ viewerOrganizations { edges { node { ${ORGANIZATION_FIELDS} } } } }`,
      undefined,
      alice.headers,
    );
    expect(response.body.data?.viewerOrganizations.edges.map((e) => e.node.id)).toEqual([orgA.id]);
    expectNothingOfB(response.body);
  });

  it('by nested fields: a shared member’s memberships, the viewer’s own, and a project’s organization', async () => {
    const members = await sut.query(
      `{ organization(slug: "alpha-team") { members { edges { node { user { id memberships { edges { node { role organization { ${ORGANIZATION_FIELDS} } } } } } } } } } }`,
      undefined,
      alice.headers,
    );
    expect(members.body.errors).toBeUndefined();
    expectNothingOfB(members.body);

    const viewer = await sut.query<{
      viewer: { memberships: { edges: { node: { organization: { id: string } } }[] } };
    }>(
      `{ viewer { id memberships { edges { node { role organization { ${ORGANIZATION_FIELDS} } } } } } }`,
      undefined,
      alice.headers,
    );
    expect(viewer.body.data?.viewer.memberships.edges.map((e) => e.node.organization.id)).toEqual([orgA.id]);
    expectNothingOfB(viewer.body);

    // Carol sees both, with her role in each: the positive control.
    const carolsView = await sut.query<{
      viewer: { memberships: { edges: { node: { role: string; organization: { id: string } } }[] } };
    }>(
      '{ viewer { memberships { edges { node { role organization { id } } } } } }',
      undefined,
      carol.headers,
    );
    expect(
      carolsView.body.data?.viewer.memberships.edges.map((e) => [e.node.organization.id, e.node.role]),
    ).toEqual([
      [orgA.id, 'MEMBER'],
      [orgB.id, 'ADMIN'],
    ]);

    for (const project of [projectA, projectB]) {
      const response = await sut.query(
        `{ project(id: "${project.id}") { slug organization { ${ORGANIZATION_FIELDS} } } }`,
        undefined,
        alice.headers,
      );
      expectNothingOfB(response.body);
    }
  });

  it('by mutations: nothing reaches the other organization, by any ID', async () => {
    const attempts: [string, Record<string, unknown>][] = [
      ['updateOrganization', { organizationId: orgB.id, name: 'Taken over', slug: 'taken-over' }],
      ['deleteOrganization', { organizationId: orgB.id }],
      ['inviteMember', { organizationId: orgB.id, email: 'spy@example.test', role: 'OWNER' }],
      ['changeMemberRole', { organizationId: orgB.id, userId: carol.id, role: 'VIEWER' }],
      ['changeMemberRole', { organizationId: orgB.id, userId: alice.id, role: 'OWNER' }],
      ['removeMember', { organizationId: orgB.id, userId: bob.id }],
      ['revokeInvitation', { invitationId: invitationB }],
      ['leaveOrganization', { organizationId: orgB.id }],
    ];
    for (const [name, input] of attempts) {
      const inputType = `${name[0]!.toUpperCase()}${name.slice(1)}Input`;
      const response = await sut.query<Record<string, { userErrors: { code: string }[] }>>(
        `mutation ($input: ${inputType}!) { ${name}(input: $input) { userErrors { field code } } }`,
        { input },
        alice.headers,
      );
      expect(response.body.errors, name).toBeUndefined();
      expect(response.body.data?.[name]?.userErrors, name).toMatchObject([{ code: 'NOT_FOUND' }]);
    }

    const b = await sut.query<{ organization: Record<string, unknown> }>(
      '{ organization(slug: "bravo-team") { name members { edges { node { role user { id } } } } invitations { edges { node { id } } } } }',
      undefined,
      bob.headers,
    );
    expect(b.body.data?.organization).toEqual({
      name: 'Bravo Team',
      members: {
        edges: [
          { node: { role: 'OWNER', user: { id: bob.id } } },
          { node: { role: 'ADMIN', user: { id: carol.id } } },
        ].sort((x, y) => (x.node.user.id < y.node.user.id ? -1 : 1)),
      },
      invitations: { edges: [{ node: { id: invitationB } }] },
    });
  });

  it('a role in one organization gives nothing in another', async () => {
    // Carol is ADMIN of B but only MEMBER of A.
    const response = await sut.query<{ inviteMember: unknown }>(
      'mutation ($input: InviteMemberInput!) { inviteMember(input: $input) { invitation { id } userErrors { code } } }',
      { input: { organizationId: orgA.id, email: 'friend-of-carol@example.test', role: 'MEMBER' } },
      carol.headers,
    );
    expect(response.body.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    const invitations = await sut.query(
      '{ organization(slug: "alpha-team") { invitations { edges { node { id } } } } }',
      undefined,
      carol.headers,
    );
    expect(invitations.body.data).toEqual({ organization: { invitations: null } });
    expect(invitations.body.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
  });
});

describe('_entities sent straight to the accounts subgraph', () => {
  const ENTITIES = `query ($representations: [_Any!]!) {
    _entities(representations: $representations) {
      ... on Organization { ${ORGANIZATION_FIELDS} }
      ... on User { id memberships { edges { node { role organization { ${ORGANIZATION_FIELDS} } } } } }
    }
  }`;
  const entities = (representations: unknown[], headers: Record<string, string>) =>
    postGraphQL<{ _entities: unknown[] }>(sut.subgraphs.accounts.url, ENTITIES, { representations }, headers);

  it('with a credential for a member of the other organization, return nothing of it', async () => {
    const headers = await gatewayHeaders('accounts', asUser(alice, { [orgA.id]: 'OWNER' }));
    const response = await entities(
      [
        { __typename: 'Organization', id: orgA.id },
        { __typename: 'Organization', id: orgB.id },
        { __typename: 'User', id: bob.id },
        { __typename: 'User', id: carol.id },
        { __typename: 'User', id: alice.id },
      ],
      headers,
    );
    expect(response.status).toBe(200);
    expect(response.body.errors).toBeUndefined();
    const [a, b, bobUser, carolUser, aliceUser] = response.body.data!._entities as Record<string, unknown>[];
    expect(a).toMatchObject({ id: orgA.id, viewerRole: 'OWNER' });
    expect(b).toBeNull();
    expect(bobUser).toEqual({ id: bob.id, memberships: null });
    expect(carolUser).toEqual({ id: carol.id, memberships: null });
    expect(aliceUser).toMatchObject({
      id: alice.id,
      memberships: { edges: [{ node: { organization: { id: orgA.id } } }] },
    });
    expectNothingOfB(response.body);
  });

  it('with an anonymous credential, return no organization', async () => {
    const response = await entities(
      [
        { __typename: 'Organization', id: orgA.id },
        { __typename: 'Organization', id: orgB.id },
      ],
      await gatewayHeaders('accounts'),
    );
    expect(response.body.data?._entities).toEqual([null, null]);
  });

  it('with a credential for the organization’s member, return it (the control)', async () => {
    const headers = await gatewayHeaders('accounts', asUser(bob, { [orgB.id]: 'OWNER' }));
    const response = await entities([{ __typename: 'Organization', id: orgB.id }], headers);
    expect(response.body.data?._entities).toMatchObject([
      { id: orgB.id, slug: 'bravo-team', invitations: { edges: [{ node: { id: invitationB } }] } },
    ]);
  });

  it('without a credential, answer 401 and no data', async () => {
    const response = await entities([{ __typename: 'Organization', id: orgB.id }], {});
    expect(response.status).toBe(401);
    expect(response.body.data).toBeUndefined();
    expect(response.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expectNothingOfB(response.body);
  });
});
