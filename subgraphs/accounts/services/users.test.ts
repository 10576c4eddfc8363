import { describe, expect, it } from 'vitest';
import { organizationWith, signUp, useAccounts } from '../../../test/support/accounts';
import { anonymousCaller, apiKeyCaller } from '../../../test/support/services';

const testbed = useAccounts();

const users = () => testbed.services.users;
const access = () => testbed.services.access;

describe('what a caller reads of a user', () => {
  it('shows an email to the user and to members of an organization they share, to nobody else', async () => {
    const [owner, member, stranger] = [await signUp(testbed), await signUp(testbed), await signUp(testbed)];
    const org = await organizationWith(testbed, owner, [[member, 'VIEWER']]);
    expect(await users().email(testbed.scope(member.caller()), member.user)).toBe(member.email);
    expect(await users().email(testbed.scope(owner.caller({ [org.id]: 'OWNER' })), member.user)).toBe(
      member.email,
    );
    expect(await users().email(testbed.scope(stranger.caller()), member.user)).toBeNull();
    expect(await users().email(testbed.scope(anonymousCaller), member.user)).toBeNull();
    // Anyone may know the user exists, by ID.
    expect((await users().byId(testbed.scope(anonymousCaller), member.user.id))?.name).toBe(member.user.name);
  });

  it('answers the viewer for a signed-in person only', async () => {
    const person = await signUp(testbed);
    expect((await users().viewer(testbed.scope(person.caller())))?.id).toBe(person.user.id);
    expect(users().viewer(testbed.scope(anonymousCaller))).toBeNull();
    expect(
      users().viewer(testbed.scope(apiKeyCaller(person.personalOrganizationId, 'ADMIN', person.user.id))),
    ).toBeNull();
  });
});

describe('what the gateway learns of a caller', () => {
  it('vouches for a session while it stands, with its user’s memberships', async () => {
    const person = await signUp(testbed);
    const scope = testbed.scope(person.caller());
    expect(await access().callerAccess(scope)).toEqual({
      active: true,
      memberships: [
        expect.objectContaining({ organizationId: person.personalOrganizationId, role: 'OWNER' }),
      ],
    });
    await testbed.services.sessions.logOut(scope);
    expect(await access().callerAccess(testbed.scope(person.caller()))).toEqual({
      active: false,
      memberships: [],
    });
    expect(await access().callerAccess(testbed.scope(anonymousCaller))).toBeNull();
  });

  it('vouches for an API key while its creator exists', async () => {
    const person = await signUp(testbed);
    const key = apiKeyCaller(person.personalOrganizationId, 'ADMIN', person.user.id);
    expect(await access().callerAccess(testbed.scope(key))).toMatchObject({
      active: true,
      memberships: [{ organizationId: person.personalOrganizationId, role: 'OWNER' }],
    });
    const orphan = apiKeyCaller(person.personalOrganizationId, 'ADMIN');
    expect(await access().callerAccess(testbed.scope(orphan))).toEqual({ active: false, memberships: [] });
  });
});
