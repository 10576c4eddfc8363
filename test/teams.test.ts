import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../subgraphs/common/caller';
import { createOrganization, createProjects, createUser, type TestUser } from './support/factories';
import {
  mutate as runMutation,
  startTestSupergraph,
  type TestSupergraph,
  USER_ERRORS,
  type UserErrorData,
} from './support/supergraph';

/**
 * Teams through the real gateway: organizations, invitations, roles and members, the last-owner
 * rule under concurrency, and how fast a change of access reaches the gateway.
 */

let sut: TestSupergraph;
beforeAll(async () => {
  sut = await startTestSupergraph();
});
afterAll(() => sut?.close());

type Payload = Record<string, unknown> & { userErrors: UserErrorData[] };

/** Runs mutation `name` with `input` as `user`; returns its payload and the errors. */
const mutate = (user: TestUser | undefined, name: string, input: Record<string, unknown>, selection = '') =>
  runMutation(sut.query, user, name, input, selection);

async function readOrganization<T = Record<string, unknown>>(
  user: TestUser | undefined,
  slug: string,
  selection: string,
) {
  const response = await sut.query<{ organization: T | null }>(
    `query ($slug: String!) { organization(slug: $slug) { ${selection} } }`,
    { slug },
    user?.headers,
  );
  return { organization: response.body.data?.organization ?? null, errors: response.body.errors ?? [] };
}

const uniqueSlug = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

async function withAccountsDb<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: sut.databases.accounts });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function ownersOf(organizationId: string): Promise<string[]> {
  return withAccountsDb(async (client) => {
    const { rows } = await client.query<{ user_id: string }>(
      `SELECT user_id FROM memberships WHERE organization_id = $1 AND role = 'OWNER' ORDER BY user_id`,
      [organizationId],
    );
    return rows.map((r) => r.user_id);
  });
}

/** The token of the newest invitation emailed to `email`, read from the development mailbox over HTTP. */
async function invitationToken(email: string): Promise<string> {
  const { messages } = await mailbox(email);
  const text = messages.at(-1)?.text ?? '';
  const token = /\/invitations\/accept\?token=([A-Za-z0-9_-]+)/.exec(text)?.[1];
  if (!token) throw new Error(`no invitation in the mailbox of ${email}:\n${text}`);
  return token;
}

async function mailbox(
  email: string,
): Promise<{ messages: { to: string; subject: string; text: string }[] }> {
  const origin = new URL(sut.subgraphs.accounts.url).origin;
  const response = await fetch(`${origin}/dev/mailbox?to=${encodeURIComponent(email)}`);
  expect(response.status).toBe(200);
  return (await response.json()) as { messages: { to: string; subject: string; text: string }[] };
}

/** An organization made through the factory, with an owner and members in the given roles. */
async function team(roles: Role[] = []) {
  const owner = await createUser(sut.databases, 'Owner');
  const members = await Promise.all(roles.map((role) => createUser(sut.databases, `A ${role}`)));
  const organization = await createOrganization(sut.databases, [
    { user: owner, role: 'OWNER' },
    ...members.map((user, i) => ({ user, role: roles[i]! })),
  ]);
  return { owner, members, organization };
}

async function invite(by: TestUser, organizationId: string, email: string, role: Role = 'MEMBER') {
  const result = await mutate(
    by,
    'inviteMember',
    { organizationId, email, role },
    'invitation { id email role status }',
  );
  expect(result.errors).toEqual([]);
  expect(result.payload?.userErrors).toEqual([]);
  return { invitation: result.payload!.invitation as { id: string }, token: await invitationToken(email) };
}

describe('the team journey, through the gateway', () => {
  it('creates an organization, invites, accepts, changes a role and removes the member', async () => {
    const owner = await createUser(sut.databases, 'Olivia Owner');
    const invitee = await createUser(sut.databases, 'Ian Invitee');
    const slug = uniqueSlug('journey');

    const created = await mutate(
      owner,
      'createOrganization',
      { name: 'Journey', slug: slug.toUpperCase() },
      'organization { id slug name personal viewerRole members { edges { node { role user { id } } } } }',
    );
    expect(created.errors).toEqual([]);
    const organization = created.payload!.organization as { id: string };
    expect(created.payload).toEqual({
      organization: {
        id: expect.stringMatching(/^org_/),
        slug,
        name: 'Journey',
        personal: false,
        viewerRole: 'OWNER',
        members: { edges: [{ node: { role: 'OWNER', user: { id: owner.id } } }] },
      },
      userErrors: [],
    });
    // The next request already knows the creator's new role, and strangers see nothing.
    expect((await readOrganization(owner, slug, 'viewerRole')).organization).toEqual({ viewerRole: 'OWNER' });
    expect((await readOrganization(invitee, slug, 'id')).organization).toBeNull();

    const invited = await mutate(
      owner,
      'inviteMember',
      { organizationId: organization.id, email: invitee.email.toUpperCase(), role: 'MEMBER' },
      'invitation { id email role status invitedBy { id } organization { slug } expiresAt }',
    );
    expect(invited.payload).toMatchObject({
      invitation: {
        id: expect.stringMatching(/^inv_/),
        email: invitee.email,
        role: 'MEMBER',
        status: 'PENDING',
        invitedBy: { id: owner.id },
        organization: { slug },
      },
      userErrors: [],
    });
    const expiresAt = Date.parse((invited.payload!.invitation as { expiresAt: string }).expiresAt);
    expect(expiresAt - Date.now()).toBeGreaterThan(7 * 86_400_000 - 60_000);
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(7 * 86_400_000);

    const { messages } = await mailbox(invitee.email);
    expect(messages).toHaveLength(1);
    expect(messages[0]!.subject).toContain('Journey');
    expect(messages[0]!.text).toContain('http://localhost:3000/invitations/accept?token=');
    const token = await invitationToken(invitee.email);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const pending = await readOrganization<{ invitations: { edges: { node: { email: string } }[] } }>(
      owner,
      slug,
      'invitations { edges { node { email } } }',
    );
    expect(pending.organization?.invitations.edges).toEqual([{ node: { email: invitee.email } }]);

    const accepted = await mutate(
      invitee,
      'acceptInvitation',
      { token },
      'membership { role user { id } organization { slug viewerRole } }',
    );
    expect(accepted.payload).toEqual({
      membership: { role: 'MEMBER', user: { id: invitee.id }, organization: { slug, viewerRole: 'MEMBER' } },
      userErrors: [],
    });
    const asMember = await readOrganization<{ viewerRole: string; members: { edges: unknown[] } }>(
      invitee,
      slug,
      'viewerRole members { edges { node { role user { id } } } }',
    );
    expect(asMember.organization).toEqual({
      viewerRole: 'MEMBER',
      members: {
        edges: [
          { node: { role: 'OWNER', user: { id: owner.id } } },
          { node: { role: 'MEMBER', user: { id: invitee.id } } },
        ],
      },
    });
    expect((await readOrganization(owner, slug, 'invitations { edges { cursor } }')).organization).toEqual({
      invitations: { edges: [] },
    });

    const promoted = await mutate(
      owner,
      'changeMemberRole',
      { organizationId: organization.id, userId: invitee.id, role: 'ADMIN' },
      'membership { role user { id } }',
    );
    expect(promoted.payload).toEqual({
      membership: { role: 'ADMIN', user: { id: invitee.id } },
      userErrors: [],
    });
    expect((await readOrganization(invitee, slug, 'viewerRole')).organization).toEqual({
      viewerRole: 'ADMIN',
    });

    const removed = await mutate(
      owner,
      'removeMember',
      { organizationId: organization.id, userId: invitee.id },
      'removedUserId organization { members { edges { node { user { id } } } } }',
    );
    expect(removed.payload).toEqual({
      removedUserId: invitee.id,
      organization: { members: { edges: [{ node: { user: { id: owner.id } } }] } },
      userErrors: [],
    });
    expect((await readOrganization(invitee, slug, 'id')).organization).toBeNull();
  });

  it('updates and deletes an organization; the members of a deleted one lose it at once', async () => {
    const { owner, members, organization } = await team(['MEMBER']);
    const member = members[0]!;
    expect((await readOrganization(member, organization.slug, 'id')).organization).not.toBeNull();

    const slug = uniqueSlug('renamed');
    const updated = await mutate(
      owner,
      'updateOrganization',
      { organizationId: organization.id, name: '  Renamed ', slug },
      'organization { name slug }',
    );
    expect(updated.payload).toEqual({ organization: { name: 'Renamed', slug }, userErrors: [] });
    const partial = await mutate(
      owner,
      'updateOrganization',
      { organizationId: organization.id, name: 'Only the name', slug: null },
      'organization { name slug }',
    );
    expect(partial.payload).toEqual({ organization: { name: 'Only the name', slug }, userErrors: [] });

    const deleted = await mutate(
      owner,
      'deleteOrganization',
      { organizationId: organization.id },
      'deletedOrganizationId',
    );
    expect(deleted.payload).toEqual({ deletedOrganizationId: organization.id, userErrors: [] });
    expect((await readOrganization(member, slug, 'id')).organization).toBeNull();
    expect((await readOrganization(owner, slug, 'id')).organization).toBeNull();
    const again = await mutate(
      owner,
      'deleteOrganization',
      { organizationId: organization.id },
      'deletedOrganizationId',
    );
    expect(again.payload?.userErrors).toMatchObject([
      { field: ['input', 'organizationId'], code: 'NOT_FOUND' },
    ]);
  });

  it('lists the caller’s organizations and, for the user themself only, their memberships', async () => {
    const { owner, members, organization } = await team(['VIEWER']);
    const viewer = members[0]!;
    const other = await createOrganization(sut.databases, [{ user: viewer, role: 'BILLING' }]);

    const listed = await sut.query<{
      viewerOrganizations: { edges: { node: { id: string; viewerRole: string } }[] };
    }>('{ viewerOrganizations(first: 10) { edges { node { id viewerRole } } } }', undefined, viewer.headers);
    expect(listed.body.data?.viewerOrganizations.edges.map((e) => e.node)).toEqual([
      { id: organization.id, viewerRole: 'VIEWER' },
      { id: other.id, viewerRole: 'BILLING' },
    ]);
    const paged = await sut.query<{
      viewerOrganizations: { edges: unknown[]; pageInfo: { hasNextPage: boolean } };
    }>(
      '{ viewerOrganizations(first: 1) { edges { cursor } pageInfo { hasNextPage } } }',
      undefined,
      viewer.headers,
    );
    expect(paged.body.data?.viewerOrganizations).toMatchObject({
      edges: [{}],
      pageInfo: { hasNextPage: true },
    });
    const anonymous = await sut.query('{ viewerOrganizations { edges { cursor } } }');
    expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

    // Membership lists through the members of a shared organization: one's own, never another's.
    const nested = await readOrganization<{
      members: {
        edges: { node: { user: { id: string; memberships: { edges: { node: unknown }[] } | null } } }[];
      };
    }>(
      viewer,
      organization.slug,
      'members { edges { node { user { id memberships { edges { node { role organization { id } } } } } } } }',
    );
    const byUser = Object.fromEntries(
      nested.organization!.members.edges.map((e) => [e.node.user.id, e.node.user.memberships]),
    );
    expect(byUser[owner.id]).toBeNull();
    expect(byUser[viewer.id]?.edges.map((e) => e.node)).toEqual([
      { role: 'VIEWER', organization: { id: organization.id } },
      { role: 'BILLING', organization: { id: other.id } },
    ]);
  });
});

describe('the last owner', () => {
  it('cannot be demoted, removed, or leave; a second owner can', async () => {
    const { owner, members, organization } = await team(['ADMIN']);
    const admin = members[0]!;
    const organizationId = organization.id;

    const demote = await mutate(
      owner,
      'changeMemberRole',
      { organizationId, userId: owner.id, role: 'ADMIN' },
      'membership { role }',
    );
    expect(demote.payload).toEqual({
      membership: null,
      userErrors: [
        {
          field: ['input', 'role'],
          message: expect.stringContaining('at least one owner'),
          code: 'CONFLICT',
        },
      ],
    });
    const remove = await mutate(owner, 'removeMember', { organizationId, userId: owner.id }, 'removedUserId');
    expect(remove.payload?.userErrors).toMatchObject([{ field: ['input', 'userId'], code: 'CONFLICT' }]);
    const leave = await mutate(owner, 'leaveOrganization', { organizationId }, 'leftOrganizationId');
    expect(leave.payload?.userErrors).toMatchObject([
      { field: ['input', 'organizationId'], code: 'CONFLICT' },
    ]);
    expect(await ownersOf(organizationId)).toEqual([owner.id]);

    // With a second owner, the first may step down.
    const promoted = await mutate(
      owner,
      'changeMemberRole',
      { organizationId, userId: admin.id, role: 'OWNER' },
      'membership { role }',
    );
    expect(promoted.payload).toEqual({ membership: { role: 'OWNER' }, userErrors: [] });
    const left = await mutate(owner, 'leaveOrganization', { organizationId }, 'leftOrganizationId');
    expect(left.payload).toEqual({ leftOrganizationId: organizationId, userErrors: [] });
    expect(await ownersOf(organizationId)).toEqual([admin.id]);
    expect((await readOrganization(owner, organization.slug, 'id')).organization).toBeNull();
    const lastLeave = await mutate(admin, 'leaveOrganization', { organizationId }, 'leftOrganizationId');
    expect(lastLeave.payload?.userErrors).toMatchObject([{ code: 'CONFLICT' }]);
  });

  it('survives two owners demoting themselves at the same moment: exactly one succeeds', async () => {
    for (let round = 0; round < 5; round++) {
      const { owner, members, organization } = await team(['OWNER']);
      const organizationId = organization.id;
      const results = await Promise.all(
        [owner, members[0]!].map((user) =>
          mutate(
            user,
            'changeMemberRole',
            { organizationId, userId: user.id, role: 'MEMBER' },
            'membership { role }',
          ),
        ),
      );
      const succeeded = results.filter((r) => r.payload?.userErrors.length === 0);
      const refused = results.filter((r) => r.payload?.userErrors.length !== 0);
      expect(succeeded).toHaveLength(1);
      expect(refused[0]!.payload?.userErrors).toMatchObject([{ code: 'CONFLICT' }]);
      expect(await ownersOf(organizationId)).toHaveLength(1);
    }
  });

  it('survives two owners demoting each other at the same moment: exactly one succeeds', async () => {
    for (let round = 0; round < 5; round++) {
      const { owner, members, organization } = await team(['OWNER']);
      const other = members[0]!;
      const organizationId = organization.id;
      const results = await Promise.all([
        mutate(
          owner,
          'changeMemberRole',
          { organizationId, userId: other.id, role: 'ADMIN' },
          'membership { role }',
        ),
        mutate(
          other,
          'changeMemberRole',
          { organizationId, userId: owner.id, role: 'ADMIN' },
          'membership { role }',
        ),
      ]);
      const succeeded = results.filter((r) => r.payload?.userErrors.length === 0);
      expect(succeeded).toHaveLength(1);
      // The loser is an ADMIN by the time its turn comes: changing an OWNER is above its role.
      const loser = results.find((r) => r !== succeeded[0])!;
      expect(loser.codes).toEqual(['FORBIDDEN']);
      expect(await ownersOf(organizationId)).toHaveLength(1);
    }
  });

  it('survives an owner removed while the other leaves: one owner stays', async () => {
    for (let round = 0; round < 3; round++) {
      const { owner, members, organization } = await team(['OWNER']);
      const other = members[0]!;
      const organizationId = organization.id;
      await Promise.all([
        mutate(owner, 'removeMember', { organizationId, userId: other.id }, 'removedUserId'),
        mutate(other, 'leaveOrganization', { organizationId }, 'leftOrganizationId'),
        mutate(owner, 'leaveOrganization', { organizationId }, 'leftOrganizationId'),
      ]);
      expect(await ownersOf(organizationId)).toHaveLength(1);
    }
  });

  it('keeps a personal organization: it cannot be deleted or left', async () => {
    const { owner, organization } = await team();
    await withAccountsDb((client) =>
      client.query('UPDATE organizations SET personal = true WHERE id = $1', [organization.id]),
    );
    const deleted = await mutate(
      owner,
      'deleteOrganization',
      { organizationId: organization.id },
      'deletedOrganizationId',
    );
    expect(deleted.payload).toEqual({
      deletedOrganizationId: null,
      userErrors: [{ field: ['input', 'organizationId'], message: expect.any(String), code: 'CONFLICT' }],
    });
    const left = await mutate(
      owner,
      'leaveOrganization',
      { organizationId: organization.id },
      'leftOrganizationId',
    );
    expect(left.payload?.userErrors).toMatchObject([{ code: 'CONFLICT' }]);
    const invited = await mutate(owner, 'inviteMember', {
      organizationId: organization.id,
      email: 'friend@example.test',
      role: 'MEMBER',
    });
    expect(invited.payload?.userErrors).toMatchObject([
      { field: ['input', 'organizationId'], code: 'CONFLICT' },
    ]);
    expect((await readOrganization(owner, organization.slug, 'personal')).organization).toEqual({
      personal: true,
    });
  });
});

describe('roles, enforced on every mutation', () => {
  /** Which roles may run each operation against a MEMBER target (or the organization itself). */
  const allowed: Record<string, Role[]> = {
    updateOrganization: ['OWNER', 'ADMIN'],
    inviteMember: ['OWNER', 'ADMIN'],
    revokeInvitation: ['OWNER', 'ADMIN'],
    changeMemberRole: ['OWNER', 'ADMIN'],
    removeMember: ['OWNER', 'ADMIN'],
    deleteOrganization: ['OWNER'],
  };
  const roles: Role[] = ['OWNER', 'ADMIN', 'MEMBER', 'VIEWER', 'BILLING'];

  it.each(roles)('lets a %s do what its role allows, and refuses the rest with FORBIDDEN', async (role) => {
    const { owner, members, organization } = await team([role, 'MEMBER']);
    const [actor, target] = members as [TestUser, TestUser];
    const organizationId = organization.id;
    const { invitation } = await invite(
      owner,
      organizationId,
      `${randomBytes(4).toString('hex')}@example.test`,
      'VIEWER',
    );

    const attempts: Record<string, () => ReturnType<typeof mutate>> = {
      updateOrganization: () =>
        mutate(actor, 'updateOrganization', { organizationId, name: `By ${role}` }, 'organization { name }'),
      inviteMember: () =>
        mutate(
          actor,
          'inviteMember',
          { organizationId, email: `${randomBytes(4).toString('hex')}@example.test`, role: 'VIEWER' },
          'invitation { id }',
        ),
      revokeInvitation: () =>
        mutate(actor, 'revokeInvitation', { invitationId: invitation.id }, 'invitation { status }'),
      changeMemberRole: () =>
        mutate(
          actor,
          'changeMemberRole',
          { organizationId, userId: target.id, role: 'VIEWER' },
          'membership { role }',
        ),
      removeMember: () =>
        mutate(actor, 'removeMember', { organizationId, userId: target.id }, 'removedUserId'),
      // Last: it takes everything else with it.
      deleteOrganization: () =>
        mutate(actor, 'deleteOrganization', { organizationId }, 'deletedOrganizationId'),
    };
    for (const [operation, attempt] of Object.entries(attempts)) {
      const result = await attempt();
      if (allowed[operation]!.includes(role)) {
        expect(result.errors, `${role} ${operation}`).toEqual([]);
        expect(result.payload?.userErrors, `${role} ${operation}`).toEqual([]);
      } else {
        expect(result.codes, `${role} ${operation}`).toEqual(['FORBIDDEN']);
        expect(result.payload, `${role} ${operation}`).toBeNull();
      }
    }
  });

  it.each(
    roles,
  )('shows a %s the organization, and its members and invitations as its role allows', async (role) => {
    const { members, organization } = await team([role]);
    const actor = members[0]!;
    const read = await readOrganization<Record<string, unknown>>(
      actor,
      organization.slug,
      'id viewerRole members { edges { node { role } } } invitations { edges { cursor } }',
    );
    expect(read.organization).toMatchObject({ id: organization.id, viewerRole: role });
    const seesMembers = role !== 'BILLING';
    const seesInvitations = role === 'OWNER' || role === 'ADMIN';
    expect(read.organization?.members === null).toBe(!seesMembers);
    expect(read.organization?.invitations === null).toBe(!seesInvitations);
    const refused = read.errors.map((e) => `${e.path?.at(-1)}:${e.extensions?.code}`).sort();
    expect(refused).toEqual(
      [
        ...(seesMembers ? [] : ['members:FORBIDDEN']),
        ...(seesInvitations ? [] : ['invitations:FORBIDDEN']),
      ].sort(),
    );
  });

  it('never lets anyone grant, change or remove a role above their own', async () => {
    const { owner, members, organization } = await team(['ADMIN', 'ADMIN', 'MEMBER']);
    const [admin, otherAdmin, member] = members as [TestUser, TestUser, TestUser];
    const organizationId = organization.id;
    const email = `${randomBytes(4).toString('hex')}@example.test`;

    const forbidden = [
      await mutate(admin, 'inviteMember', { organizationId, email, role: 'OWNER' }, 'invitation { id }'),
      await mutate(
        admin,
        'changeMemberRole',
        { organizationId, userId: member.id, role: 'OWNER' },
        'membership { role }',
      ),
      await mutate(
        admin,
        'changeMemberRole',
        { organizationId, userId: owner.id, role: 'ADMIN' },
        'membership { role }',
      ),
      await mutate(admin, 'removeMember', { organizationId, userId: owner.id }, 'removedUserId'),
      await mutate(
        admin,
        'changeMemberRole',
        { organizationId, userId: admin.id, role: 'OWNER' },
        'membership { role }',
      ),
    ];
    for (const result of forbidden) expect(result.codes).toEqual(['FORBIDDEN']);
    expect(await ownersOf(organizationId)).toEqual([owner.id]);

    // Up to their own role, an ADMIN may: invite an ADMIN, demote another ADMIN, grant BILLING.
    const allowedResults = [
      await mutate(admin, 'inviteMember', { organizationId, email, role: 'ADMIN' }, 'invitation { id }'),
      await mutate(
        admin,
        'changeMemberRole',
        { organizationId, userId: otherAdmin.id, role: 'MEMBER' },
        'membership { role }',
      ),
      await mutate(
        admin,
        'changeMemberRole',
        { organizationId, userId: member.id, role: 'BILLING' },
        'membership { role }',
      ),
      // And an OWNER grants OWNER.
      await mutate(
        owner,
        'changeMemberRole',
        { organizationId, userId: member.id, role: 'OWNER' },
        'membership { role }',
      ),
    ];
    for (const result of allowedResults) {
      expect(result.errors).toEqual([]);
      expect(result.payload?.userErrors).toEqual([]);
    }
    expect((await ownersOf(organizationId)).sort()).toEqual([owner.id, member.id].sort());
  });

  it('answers NOT_FOUND to a non-member and UNAUTHENTICATED to an anonymous caller, for every mutation', async () => {
    const { members, organization } = await team(['MEMBER']);
    const target = members[0]!;
    const stranger = await createUser(sut.databases, 'Stranger');
    const organizationId = organization.id;
    const calls: [string, Record<string, unknown>, string, string[]][] = [
      [
        'updateOrganization',
        { organizationId, name: 'Mine now' },
        'organization { id }',
        ['input', 'organizationId'],
      ],
      ['deleteOrganization', { organizationId }, 'deletedOrganizationId', ['input', 'organizationId']],
      [
        'inviteMember',
        { organizationId, email: 'x@example.test', role: 'VIEWER' },
        'invitation { id }',
        ['input', 'organizationId'],
      ],
      [
        'changeMemberRole',
        { organizationId, userId: target.id, role: 'VIEWER' },
        'membership { role }',
        ['input', 'organizationId'],
      ],
      ['removeMember', { organizationId, userId: target.id }, 'removedUserId', ['input', 'organizationId']],
      ['leaveOrganization', { organizationId }, 'leftOrganizationId', ['input', 'organizationId']],
      [
        'revokeInvitation',
        { invitationId: 'inv_00000000000000000000000000' },
        'invitation { id }',
        ['input', 'invitationId'],
      ],
    ];
    for (const [name, input, selection, field] of calls) {
      const outsider = await mutate(stranger, name, input, selection);
      expect(outsider.errors, name).toEqual([]);
      expect(outsider.payload?.userErrors, name).toEqual([
        { field, message: expect.stringMatching(/^No such/), code: 'NOT_FOUND' },
      ]);
      const anonymous = await mutate(undefined, name, input, selection);
      expect(anonymous.codes, name).toEqual(['UNAUTHENTICATED']);
    }
    const create = await mutate(
      undefined,
      'createOrganization',
      { name: 'Anon', slug: uniqueSlug('anon') },
      'organization { id }',
    );
    expect(create.codes).toEqual(['UNAUTHENTICATED']);
    expect((await readOrganization(target, organization.slug, 'name')).organization).toEqual({
      name: organization.slug,
    });
  });
});

describe('bad input', () => {
  it('returns invalid and taken names and slugs as userErrors on the field', async () => {
    const user = await createUser(sut.databases);
    const invalid = await mutate(
      user,
      'createOrganization',
      { name: ' ', slug: 'Not A Slug!' },
      'organization { id }',
    );
    expect(invalid.payload).toEqual({
      organization: null,
      userErrors: [
        { field: ['input', 'name'], message: 'Must not be blank.', code: 'INVALID' },
        { field: ['input', 'slug'], message: expect.stringContaining('lowercase'), code: 'INVALID' },
      ],
    });
    const slug = uniqueSlug('taken');
    const first = await mutate(user, 'createOrganization', { name: 'First', slug }, 'organization { id }');
    expect(first.payload?.userErrors).toEqual([]);
    const taken = await mutate(
      user,
      'createOrganization',
      { name: 'Second', slug: slug.toUpperCase() },
      'organization { id }',
    );
    expect(taken.payload).toEqual({
      organization: null,
      userErrors: [{ field: ['input', 'slug'], message: 'This slug is taken.', code: 'TAKEN' }],
    });

    const organizationId = (first.payload!.organization as { id: string }).id;
    const other = await mutate(
      user,
      'createOrganization',
      { name: 'Other', slug: uniqueSlug('other') },
      'organization { id }',
    );
    const otherId = (other.payload!.organization as { id: string }).id;
    const takenOnUpdate = await mutate(
      user,
      'updateOrganization',
      { organizationId: otherId, slug },
      'organization { id }',
    );
    expect(takenOnUpdate.payload?.userErrors).toEqual([
      { field: ['input', 'slug'], message: 'This slug is taken.', code: 'TAKEN' },
    ]);
    const badUpdate = await mutate(
      user,
      'updateOrganization',
      { organizationId, name: 'x'.repeat(101), slug: '-no-' },
      'organization { id }',
    );
    expect(badUpdate.payload?.userErrors).toMatchObject([
      { field: ['input', 'name'], code: 'INVALID' },
      { field: ['input', 'slug'], code: 'INVALID' },
    ]);
  });

  it('refuses a malformed email, a member’s email, and an unknown member', async () => {
    const { owner, members, organization } = await team(['MEMBER']);
    const organizationId = organization.id;
    const malformed = await mutate(
      owner,
      'inviteMember',
      { organizationId, email: 'not-an-email', role: 'MEMBER' },
      'invitation { id }',
    );
    expect(malformed.payload).toEqual({
      invitation: null,
      userErrors: [{ field: ['input', 'email'], message: 'Enter a valid email address.', code: 'INVALID' }],
    });
    const member = await mutate(
      owner,
      'inviteMember',
      { organizationId, email: members[0]!.email.toUpperCase(), role: 'MEMBER' },
      'invitation { id }',
    );
    expect(member.payload?.userErrors).toMatchObject([{ field: ['input', 'email'], code: 'CONFLICT' }]);
    const stranger = await createUser(sut.databases);
    const unknown = await mutate(
      owner,
      'removeMember',
      { organizationId, userId: stranger.id },
      'removedUserId',
    );
    expect(unknown.payload?.userErrors).toMatchObject([{ field: ['input', 'userId'], code: 'NOT_FOUND' }]);
    const badRole = await sut.query(
      'mutation { inviteMember(input: { organizationId: "x", email: "a@example.test", role: SUPREME }) { userErrors { code } } }',
      undefined,
      owner.headers,
    );
    expect(badRole.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });
});

describe('invitations', () => {
  it('work once: a used token is refused, and the token is stored only as its hash', async () => {
    const { owner, organization } = await team();
    const invitee = await createUser(sut.databases);
    const { invitation, token } = await invite(owner, organization.id, invitee.email);
    const stored = await withAccountsDb(async (client) => {
      const { rows } = await client.query<{ token_hash: string }>(
        'SELECT token_hash FROM invitations WHERE id = $1',
        [invitation.id],
      );
      return rows[0]!.token_hash;
    });
    expect(stored).toBe(createHash('sha256').update(token).digest('hex'));

    const first = await mutate(invitee, 'acceptInvitation', { token }, 'membership { role }');
    expect(first.payload).toEqual({ membership: { role: 'MEMBER' }, userErrors: [] });
    const again = await mutate(invitee, 'acceptInvitation', { token }, 'membership { role }');
    expect(again.payload).toEqual({
      membership: null,
      userErrors: [
        { field: ['input', 'token'], message: 'This invitation has already been used.', code: 'CONFLICT' },
      ],
    });
  });

  it('are refused once expired', async () => {
    const { owner, organization } = await team();
    const invitee = await createUser(sut.databases);
    const { invitation, token } = await invite(owner, organization.id, invitee.email);
    await withAccountsDb((client) =>
      client.query(`UPDATE invitations SET expires_at = now() - interval '1 minute' WHERE id = $1`, [
        invitation.id,
      ]),
    );
    const expired = await mutate(invitee, 'acceptInvitation', { token }, 'membership { role }');
    expect(expired.payload?.userErrors).toEqual([
      { field: ['input', 'token'], message: expect.stringContaining('expired'), code: 'CONFLICT' },
    ]);
    expect((await readOrganization(invitee, organization.slug, 'id')).organization).toBeNull();
    expect(
      (await readOrganization(owner, organization.slug, 'invitations { edges { cursor } }')).organization,
    ).toEqual({
      invitations: { edges: [] },
    });
  });

  it('are accepted only by the account with the invited email, whatever its case', async () => {
    const { owner, organization } = await team();
    const invitee = await createUser(sut.databases);
    const intruder = await createUser(sut.databases);
    const { token } = await invite(owner, organization.id, invitee.email.toUpperCase(), 'VIEWER');
    const wrong = await mutate(intruder, 'acceptInvitation', { token }, 'membership { role }');
    expect(wrong.payload?.userErrors).toEqual([
      {
        field: ['input', 'token'],
        message: expect.stringContaining('another email address'),
        code: 'FORBIDDEN',
      },
    ]);
    expect((await readOrganization(intruder, organization.slug, 'id')).organization).toBeNull();
    const anonymous = await mutate(undefined, 'acceptInvitation', { token }, 'membership { role }');
    expect(anonymous.codes).toEqual(['UNAUTHENTICATED']);
    const right = await mutate(invitee, 'acceptInvitation', { token }, 'membership { role }');
    expect(right.payload).toEqual({ membership: { role: 'VIEWER' }, userErrors: [] });
  });

  it('are refused once revoked or replaced, and when the token is malformed or unknown', async () => {
    const { owner, organization } = await team();
    const invitee = await createUser(sut.databases);
    const first = await invite(owner, organization.id, invitee.email);
    const second = await invite(owner, organization.id, invitee.email, 'ADMIN');
    const replaced = await mutate(invitee, 'acceptInvitation', { token: first.token }, 'membership { role }');
    expect(replaced.payload?.userErrors).toMatchObject([
      { code: 'CONFLICT', message: expect.stringContaining('revoked') },
    ]);

    const revoked = await mutate(
      owner,
      'revokeInvitation',
      { invitationId: second.invitation.id },
      'invitation { status }',
    );
    expect(revoked.payload).toEqual({ invitation: { status: 'REVOKED' }, userErrors: [] });
    const revokedAgain = await mutate(
      owner,
      'revokeInvitation',
      { invitationId: second.invitation.id },
      'invitation { status }',
    );
    expect(revokedAgain.payload?.userErrors).toMatchObject([
      { field: ['input', 'invitationId'], code: 'CONFLICT' },
    ]);
    const afterRevoke = await mutate(
      invitee,
      'acceptInvitation',
      { token: second.token },
      'membership { role }',
    );
    expect(afterRevoke.payload?.userErrors).toMatchObject([
      { code: 'CONFLICT', message: expect.stringContaining('revoked') },
    ]);

    const malformed = await mutate(invitee, 'acceptInvitation', { token: 'abc' }, 'membership { role }');
    expect(malformed.payload?.userErrors).toMatchObject([{ field: ['input', 'token'], code: 'INVALID' }]);
    const unknown = await mutate(
      invitee,
      'acceptInvitation',
      { token: randomBytes(32).toString('base64url') },
      'membership { role }',
    );
    expect(unknown.payload?.userErrors).toMatchObject([{ field: ['input', 'token'], code: 'NOT_FOUND' }]);
    expect((await readOrganization(invitee, organization.slug, 'id')).organization).toBeNull();
  });
});

describe('a change of access reaches the gateway at once', () => {
  it('cuts a removed member off from the organization and its projects on the next request', async () => {
    const { owner, members, organization } = await team(['MEMBER']);
    const member = members[0]!;
    const [project] = await createProjects(sut.databases, organization.id, ['cut-off']);
    const projectQuery = `{ project(id: "${project!.id}") { slug organization { slug } } }`;
    // Warm the gateway's cache of the member's roles.
    expect((await sut.query(projectQuery, undefined, member.headers)).body.data).toEqual({
      project: { slug: 'cut-off', organization: { slug: organization.slug } },
    });
    expect((await readOrganization(member, organization.slug, 'viewerRole')).organization).toEqual({
      viewerRole: 'MEMBER',
    });

    const removed = await mutate(
      owner,
      'removeMember',
      { organizationId: organization.id, userId: member.id },
      'removedUserId',
    );
    expect(removed.payload?.userErrors).toEqual([]);

    expect((await readOrganization(member, organization.slug, 'id')).organization).toBeNull();
    expect((await sut.query(projectQuery, undefined, member.headers)).body).toEqual({
      data: { project: null },
    });
  });

  it('gives a promoted member their new powers on the next request, and takes them back as fast', async () => {
    const { owner, members, organization } = await team(['VIEWER']);
    const viewer = members[0]!;
    const invitations = () => readOrganization(viewer, organization.slug, 'invitations { edges { cursor } }');
    expect((await invitations()).errors.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    await mutate(owner, 'changeMemberRole', {
      organizationId: organization.id,
      userId: viewer.id,
      role: 'ADMIN',
    });
    expect((await invitations()).organization).toEqual({ invitations: { edges: [] } });
    await mutate(owner, 'changeMemberRole', {
      organizationId: organization.id,
      userId: viewer.id,
      role: 'VIEWER',
    });
    expect((await invitations()).errors.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
  });

  it('lets a member who just left read nothing more of the organization, even in the same response', async () => {
    const { members, organization } = await team(['MEMBER']);
    const member = members[0]!;
    const response = await sut.query<{ leaveOrganization: Payload; organization: unknown }>(
      `mutation ($input: LeaveOrganizationInput!) { leaveOrganization(input: $input) { leftOrganizationId ${USER_ERRORS} } }`,
      { input: { organizationId: organization.id } },
      member.headers,
    );
    expect(response.body.data?.leaveOrganization).toEqual({
      leftOrganizationId: organization.id,
      userErrors: [],
    });
    expect((await readOrganization(member, organization.slug, 'id')).organization).toBeNull();
  });
});
