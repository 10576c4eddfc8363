import { describe, expect, it } from 'vitest';
import { organizationWith, type Person, signUp, useAccounts } from '../../../test/support/accounts';
import { anonymousCaller, apiKeyCaller, queuedEvents } from '../../../test/support/services';
import type { Role } from '../../common/caller';

const testbed = useAccounts();

const members = () => testbed.services.members;

/** An organization with an owner and one member in each of `roles`, and their scopes in it. */
async function team(...roles: Role[]) {
  const owner = await signUp(testbed);
  const people = await Promise.all(roles.map(() => signUp(testbed)));
  const organization = await organizationWith(
    testbed,
    owner,
    people.map((person, i) => [person, roles[i]!]),
  );
  const as = (person: Person, role: Role) => testbed.scope(person.caller({ [organization.id]: role }));
  return { organization, owner, people, as };
}

async function roleOf(organizationId: string, userId: string): Promise<Role | undefined> {
  const { rows } = await testbed.pool.query(
    'SELECT role FROM memberships WHERE organization_id = $1 AND user_id = $2',
    [organizationId, userId],
  );
  return rows[0]?.role;
}

describe('changing roles', () => {
  it('lets an ADMIN change roles up to ADMIN, and queues member.role_changed', async () => {
    const { organization, people, as } = await team('ADMIN', 'VIEWER');
    const [admin, viewer] = people as [Person, Person];
    const changed = await members().changeRole(as(admin, 'ADMIN'), {
      organizationId: organization.id,
      userId: viewer.user.id,
      role: 'MEMBER',
    });
    expect(changed.userErrors).toEqual([]);
    expect(changed.membership).toMatchObject({ userId: viewer.user.id, role: 'MEMBER' });
    expect(await roleOf(organization.id, viewer.user.id)).toBe('MEMBER');
    expect(await queuedEvents(testbed, 'member.role_changed', viewer.user.id)).toMatchObject([
      { organizationId: organization.id, payload: { previousRole: 'VIEWER', role: 'MEMBER' } },
    ]);
  });

  it('keeps OWNER out of an ADMIN’s reach, both to grant and to take away', async () => {
    const { organization, owner, people, as } = await team('ADMIN', 'MEMBER');
    const [admin, member] = people as [Person, Person];
    await expect(
      members().changeRole(as(admin, 'ADMIN'), {
        organizationId: organization.id,
        userId: member.user.id,
        role: 'OWNER',
      }),
    ).rejects.toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    await expect(
      members().changeRole(as(admin, 'ADMIN'), {
        organizationId: organization.id,
        userId: owner.user.id,
        role: 'VIEWER',
      }),
    ).rejects.toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    expect(await roleOf(organization.id, member.user.id)).toBe('MEMBER');
    expect(await roleOf(organization.id, owner.user.id)).toBe('OWNER');
  });

  it('refuses members below ADMIN, and answers a non-member as if there were no organization', async () => {
    const { organization, people, as } = await team('MEMBER', 'VIEWER');
    const [member, viewer] = people as [Person, Person];
    await expect(
      members().changeRole(as(member, 'MEMBER'), {
        organizationId: organization.id,
        userId: viewer.user.id,
        role: 'MEMBER',
      }),
    ).rejects.toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    const stranger = await signUp(testbed);
    const refused = await members().changeRole(testbed.scope(stranger.caller()), {
      organizationId: organization.id,
      userId: viewer.user.id,
      role: 'ADMIN',
    });
    expect(refused.userErrors).toMatchObject([{ field: ['input', 'organizationId'], code: 'NOT_FOUND' }]);
  });

  it('keeps the last owner an owner, until another one is made', async () => {
    const { organization, owner, people, as } = await team('ADMIN');
    const scope = as(owner, 'OWNER');
    const demoted = await members().changeRole(scope, {
      organizationId: organization.id,
      userId: owner.user.id,
      role: 'ADMIN',
    });
    expect(demoted.userErrors).toMatchObject([{ field: ['input', 'role'], code: 'CONFLICT' }]);
    const left = await members().leave(scope, { organizationId: organization.id });
    expect(left.userErrors).toMatchObject([{ code: 'CONFLICT' }]);

    const promoted = await members().changeRole(scope, {
      organizationId: organization.id,
      userId: people[0]!.user.id,
      role: 'OWNER',
    });
    expect(promoted.userErrors).toEqual([]);
    const stepDown = await members().changeRole(scope, {
      organizationId: organization.id,
      userId: owner.user.id,
      role: 'ADMIN',
    });
    expect(stepDown.userErrors).toEqual([]);
    // This request reads the organization with the role it just gave its caller.
    expect(testbed.services.organizations.viewerRole(scope, organization.id)).toBe('ADMIN');
  });

  it('is not for API keys, whatever their scope', async () => {
    const { organization, people } = await team('VIEWER');
    const key = testbed.scope(apiKeyCaller(organization.id, 'ADMIN'));
    await expect(
      members().changeRole(key, {
        organizationId: organization.id,
        userId: people[0]!.user.id,
        role: 'ADMIN',
      }),
    ).rejects.toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    await expect(
      members().remove(key, { organizationId: organization.id, userId: people[0]!.user.id }),
    ).rejects.toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    expect(await roleOf(organization.id, people[0]!.user.id)).toBe('VIEWER');
  });
});

describe('removing and leaving', () => {
  it('removes a member within reach, and says what it removed', async () => {
    const { organization, owner, people, as } = await team('ADMIN', 'MEMBER', 'ADMIN');
    const [admin, member, otherAdmin] = people as [Person, Person, Person];
    const removed = await members().remove(as(admin, 'ADMIN'), {
      organizationId: organization.id,
      userId: member.user.id,
    });
    expect(removed).toMatchObject({
      removedUserId: member.user.id,
      organization: { id: organization.id },
      userErrors: [],
    });
    expect(await roleOf(organization.id, member.user.id)).toBeUndefined();
    expect(await queuedEvents(testbed, 'member.removed', member.user.id)).toMatchObject([
      { payload: { role: 'MEMBER', reason: 'REMOVED' } },
    ]);
    const peer = await members().remove(as(admin, 'ADMIN'), {
      organizationId: organization.id,
      userId: otherAdmin.user.id,
    });
    expect(peer.removedUserId).toBe(otherAdmin.user.id);
    const gone = await members().remove(as(admin, 'ADMIN'), {
      organizationId: organization.id,
      userId: member.user.id,
    });
    expect(gone.userErrors).toMatchObject([{ field: ['input', 'userId'], code: 'NOT_FOUND' }]);
    // Not even the last owner removes themself: the organization would be left without one.
    const lastOwner = await members().remove(as(owner, 'OWNER'), {
      organizationId: organization.id,
      userId: owner.user.id,
    });
    expect(lastOwner.userErrors).toMatchObject([{ field: ['input', 'userId'], code: 'CONFLICT' }]);
    expect(await roleOf(organization.id, owner.user.id)).toBe('OWNER');
  });

  it('lets a member leave, but nobody leave their personal organization', async () => {
    const { organization, people, as } = await team('VIEWER');
    const [viewer] = people as [Person];
    const scope = as(viewer, 'VIEWER');
    expect(await members().leave(scope, { organizationId: organization.id })).toEqual({
      leftOrganizationId: organization.id,
      userErrors: [],
    });
    expect(testbed.services.organizations.viewerRole(scope, organization.id)).toBeNull();
    expect(await queuedEvents(testbed, 'member.removed', viewer.user.id)).toMatchObject([
      { payload: { reason: 'LEFT' } },
    ]);

    const personal = await members().leave(testbed.scope(viewer.caller()), {
      organizationId: viewer.personalOrganizationId,
    });
    expect(personal.userErrors).toMatchObject([{ field: ['input', 'organizationId'], code: 'CONFLICT' }]);
  });
});

describe('reading members', () => {
  it('shows the members from VIEWER up, and a user’s memberships to that user only', async () => {
    const { organization, owner, people, as } = await team('VIEWER', 'BILLING');
    const [viewer, billing] = people as [Person, Person];
    const listed = await members().ofOrganization(as(viewer, 'VIEWER'), organization.id, { first: 10 });
    expect(listed.edges.map((edge) => edge.node.userId).sort()).toEqual(
      [owner.user.id, viewer.user.id, billing.user.id].sort(),
    );
    expect(() => members().ofOrganization(as(billing, 'BILLING'), organization.id, { first: 10 })).toThrow(
      expect.objectContaining({ extensions: { code: 'FORBIDDEN' } }),
    );
    expect(() =>
      members().ofOrganization(testbed.scope(anonymousCaller), organization.id, { first: 10 }),
    ).toThrow(expect.objectContaining({ extensions: { code: 'UNAUTHENTICATED' } }));

    const own = await members().ofUser(as(viewer, 'VIEWER'), viewer.user.id, { first: 10 });
    expect(own?.edges.map((edge) => [edge.node.organizationId, edge.node.role])).toEqual([
      [viewer.personalOrganizationId, 'OWNER'],
      [organization.id, 'VIEWER'],
    ]);
    expect(members().ofUser(as(owner, 'OWNER'), viewer.user.id, { first: 10 })).toBeNull();
  });
});
