import { describe, expect, it } from 'vitest';
import { organizationWith, signUp, useAccounts } from '../../../test/support/accounts';
import {
  anonymousCaller,
  apiKeyCaller,
  organizationId,
  queuedEvents,
  uniqueSlug,
} from '../../../test/support/services';

const testbed = useAccounts();

const organizations = () => testbed.services.organizations;

describe('creating an organization', () => {
  it('makes its creator the OWNER, seen at once by the request that created it', async () => {
    const person = await signUp(testbed);
    const scope = testbed.scope(person.caller());
    const slug = uniqueSlug();
    const created = await organizations().create(scope, { name: ' Acme ', slug: ` ${slug.toUpperCase()} ` });
    expect(created.userErrors).toEqual([]);
    expect(created.organization).toMatchObject({ name: 'Acme', slug, personal: false });
    const { rows } = await testbed.pool.query(
      'SELECT user_id, role FROM memberships WHERE organization_id = $1',
      [created.organization!.id],
    );
    expect(rows).toEqual([{ user_id: person.user.id, role: 'OWNER' }]);
    // The gateway vouched for the caller before the organization existed; this request knows better.
    expect(organizations().viewerRole(scope, created.organization!.id)).toBe('OWNER');
    expect((await organizations().bySlug(scope, slug))?.id).toBe(created.organization!.id);
    expect(await organizations().bySlug(testbed.scope(person.caller()), slug)).toBeNull();
  });

  it('names a field at fault, and a slug taken', async () => {
    const person = await signUp(testbed);
    const scope = testbed.scope(person.caller());
    const invalid = await organizations().create(scope, { name: '', slug: '-no-' });
    expect(invalid.organization).toBeNull();
    expect(invalid.userErrors.map((error) => [error.field, error.code])).toEqual([
      [['input', 'name'], 'INVALID'],
      [['input', 'slug'], 'INVALID'],
    ]);
    const { slug } = await organizationWith(testbed, person);
    const taken = await organizations().create(scope, { name: 'Again', slug });
    expect(taken.userErrors).toMatchObject([{ field: ['input', 'slug'], code: 'TAKEN' }]);
  });

  it('is for signed-in people only: API keys and anonymous callers are refused', async () => {
    const input = { name: 'Acme', slug: uniqueSlug() };
    await expect(organizations().create(testbed.scope(anonymousCaller), input)).rejects.toMatchObject({
      extensions: { code: 'UNAUTHENTICATED' },
    });
    await expect(
      organizations().create(testbed.scope(apiKeyCaller(organizationId(), 'ADMIN')), input),
    ).rejects.toMatchObject({ extensions: { code: 'FORBIDDEN' } });
  });
});

describe('updating an organization', () => {
  it('takes ADMIN: a MEMBER is refused, an ADMIN renames it', async () => {
    const [owner, admin, member] = [await signUp(testbed), await signUp(testbed), await signUp(testbed)];
    const organization = await organizationWith(testbed, owner, [
      [admin, 'ADMIN'],
      [member, 'MEMBER'],
    ]);
    const asMember = testbed.scope(member.caller({ [organization.id]: 'MEMBER' }));
    await expect(
      organizations().update(asMember, { organizationId: organization.id, name: 'Mine now' }),
    ).rejects.toMatchObject({ extensions: { code: 'FORBIDDEN' } });

    const asAdmin = testbed.scope(admin.caller({ [organization.id]: 'ADMIN' }));
    const renamed = await organizations().update(asAdmin, {
      organizationId: organization.id,
      name: 'Acme Corp',
      slug: null,
    });
    expect(renamed.userErrors).toEqual([]);
    expect(renamed.organization).toMatchObject({ name: 'Acme Corp', slug: organization.slug });
  });

  it('answers a non-member as if the organization did not exist', async () => {
    const owner = await signUp(testbed);
    const organization = await organizationWith(testbed, owner);
    const stranger = await signUp(testbed);
    const refused = await organizations().update(testbed.scope(stranger.caller()), {
      organizationId: organization.id,
      name: 'Taken over',
    });
    expect(refused.userErrors).toMatchObject([{ field: ['input', 'organizationId'], code: 'NOT_FOUND' }]);
    expect(await organizations().visible(testbed.scope(stranger.caller()), organization.id)).toBeNull();
  });
});

describe('deleting an organization', () => {
  it('takes OWNER, and queues organization.deleted with the deletion', async () => {
    const [owner, admin] = [await signUp(testbed), await signUp(testbed)];
    const organization = await organizationWith(testbed, owner, [[admin, 'ADMIN']]);
    await expect(
      organizations().delete(testbed.scope(admin.caller({ [organization.id]: 'ADMIN' })), {
        organizationId: organization.id,
      }),
    ).rejects.toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    expect(await queuedEvents(testbed, 'organization.deleted', organization.id)).toEqual([]);

    const scope = testbed.scope(owner.caller({ [organization.id]: 'OWNER' }));
    const deleted = await organizations().delete(scope, { organizationId: organization.id });
    expect(deleted).toEqual({ deletedOrganizationId: organization.id, userErrors: [] });
    const { rows } = await testbed.pool.query(
      'SELECT (SELECT count(*)::int FROM organizations WHERE id = $1) AS organizations, (SELECT count(*)::int FROM memberships WHERE organization_id = $1) AS memberships',
      [organization.id],
    );
    expect(rows[0]).toEqual({ organizations: 0, memberships: 0 });
    expect(await queuedEvents(testbed, 'organization.deleted', organization.id)).toMatchObject([
      { organizationId: organization.id, payload: { slug: organization.slug, members: 2 } },
    ]);
    // The caller is no longer a member, in this very request.
    expect(organizations().viewerRole(scope, organization.id)).toBeNull();
  });

  it('never deletes a personal organization', async () => {
    const person = await signUp(testbed);
    const refused = await organizations().delete(testbed.scope(person.caller()), {
      organizationId: person.personalOrganizationId,
    });
    expect(refused).toMatchObject({
      deletedOrganizationId: null,
      userErrors: [{ field: ['input', 'organizationId'], code: 'CONFLICT' }],
    });
    expect(await queuedEvents(testbed, 'organization.deleted', person.personalOrganizationId)).toEqual([]);
    expect(
      await organizations().visible(testbed.scope(person.caller()), person.personalOrganizationId),
    ).not.toBeNull();
  });
});

describe('reading organizations', () => {
  it('lists the caller’s organizations, and finds a project key only in one of them', async () => {
    const person = await signUp(testbed);
    const scope = testbed.scope(person.caller());
    const organization = await organizationWith(testbed, person);
    const withIt = testbed.scope(person.caller({ [organization.id]: 'OWNER' }));
    const listed = await organizations().ofViewer(withIt, { first: 10 });
    expect(listed.edges.map((edge) => edge.node.id)).toEqual([
      person.personalOrganizationId,
      organization.id,
    ]);

    expect(
      await organizations().projectKey(withIt, { organizationSlug: organization.slug, slug: ' Web ' }),
    ).toEqual({
      organization: { id: organization.id },
      slug: 'web',
    });
    expect(
      await organizations().projectKey(scope, { organizationSlug: organization.slug, slug: 'web' }),
    ).toBeNull();
    expect(
      await organizations().projectKey(testbed.scope(anonymousCaller), {
        organizationSlug: organization.slug,
        slug: 'web',
      }),
    ).toBeNull();
  });
});
