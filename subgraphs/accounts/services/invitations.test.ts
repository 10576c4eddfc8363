import { describe, expect, it } from 'vitest';
import {
  newEmail,
  organizationWith,
  type Person,
  sentTo,
  signUp,
  tokenMailedTo,
  useAccounts,
} from '../../../test/support/accounts';
import { apiKeyCaller, queuedEvents } from '../../../test/support/services';
import type { Role } from '../../common/caller';
import { invitationStatus } from './invitations';

const testbed = useAccounts({ APP_URL: 'https://app.example.test' });

const invitations = () => testbed.services.invitations;

/** An organization of a new owner (with an ADMIN when asked), and the owner's scope in it. */
async function organization(withAdmin?: Person) {
  const owner = await signUp(testbed, { name: 'Grace Hopper' });
  const org = await organizationWith(testbed, owner, withAdmin ? [[withAdmin, 'ADMIN']] : []);
  const as = (person: Person, role: Role) => testbed.scope(person.caller({ [org.id]: role }));
  return { org, owner, as, asOwner: as(owner, 'OWNER') };
}

describe('inviting', () => {
  it('mails a link to join in a role, and lists the invitation as pending for admins', async () => {
    const { org, asOwner } = await organization();
    const invitee = await signUp(testbed);
    const invited = await invitations().invite(asOwner, {
      organizationId: org.id,
      email: ` ${invitee.email.toUpperCase()} `,
      role: 'MEMBER',
    });
    expect(invited.userErrors).toEqual([]);
    expect(invited.invitation).toMatchObject({ email: invitee.email, role: 'MEMBER' });
    expect(invitationStatus(invited.invitation!)).toBe('PENDING');
    const mail = sentTo(invitee.email).at(-1);
    expect(mail?.subject).toBe('You are invited to join Acme on Construct');
    expect(mail?.text).toContain('Grace Hopper invited you to join Acme on Construct as MEMBER.');
    expect(mail?.text).toContain('https://app.example.test/invitations/accept?token=');

    const pending = await invitations().pendingOf(asOwner, org.id, { first: 10 });
    expect(pending.edges.map((edge) => edge.node.id)).toEqual([invited.invitation!.id]);
    expect(invitations().canSee(asOwner, invited.invitation!)).toBe(true);
  });

  it('takes ADMIN, for a role up to the inviter’s own', async () => {
    const admin = await signUp(testbed);
    const { org, as } = await organization(admin);
    await expect(
      invitations().invite(as(admin, 'ADMIN'), { organizationId: org.id, email: newEmail(), role: 'OWNER' }),
    ).rejects.toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    const stranger = testbed.scope((await signUp(testbed)).caller());
    const refused = await invitations().invite(stranger, {
      organizationId: org.id,
      email: newEmail(),
      role: 'VIEWER',
    });
    expect(refused.userErrors).toMatchObject([{ field: ['input', 'organizationId'], code: 'NOT_FOUND' }]);
    await expect(
      invitations().invite(testbed.scope(apiKeyCaller(org.id, 'ADMIN')), {
        organizationId: org.id,
        email: newEmail(),
        role: 'VIEWER',
      }),
    ).rejects.toMatchObject({ extensions: { code: 'FORBIDDEN' } });
  });

  it('refuses a malformed address, a member, and a personal organization', async () => {
    const { org, owner, asOwner } = await organization();
    const malformed = await invitations().invite(asOwner, {
      organizationId: org.id,
      email: 'nope',
      role: 'VIEWER',
    });
    expect(malformed.userErrors).toMatchObject([{ field: ['input', 'email'], code: 'INVALID' }]);
    const member = await invitations().invite(asOwner, {
      organizationId: org.id,
      email: owner.email,
      role: 'VIEWER',
    });
    expect(member.userErrors).toMatchObject([{ field: ['input', 'email'], code: 'CONFLICT' }]);
    const personal = await invitations().invite(testbed.scope(owner.caller()), {
      organizationId: owner.personalOrganizationId,
      email: newEmail(),
      role: 'VIEWER',
    });
    expect(personal.userErrors).toMatchObject([{ field: ['input', 'organizationId'], code: 'CONFLICT' }]);
  });
});

describe('accepting', () => {
  it('joins once in the invited role, and queues member.added', async () => {
    const { org, asOwner } = await organization();
    const invitee = await signUp(testbed);
    await invitations().invite(asOwner, { organizationId: org.id, email: invitee.email, role: 'VIEWER' });
    const token = tokenMailedTo(invitee.email);

    const scope = testbed.scope(invitee.caller());
    const accepted = await invitations().accept(scope, { token });
    expect(accepted.userErrors).toEqual([]);
    expect(accepted.membership).toMatchObject({
      organizationId: org.id,
      userId: invitee.user.id,
      role: 'VIEWER',
    });
    // This request sees the organization it just joined.
    expect(testbed.services.organizations.viewerRole(scope, org.id)).toBe('VIEWER');
    expect(await queuedEvents(testbed, 'member.added', invitee.user.id)).toMatchObject([
      { organizationId: org.id, payload: { role: 'VIEWER', email: invitee.email } },
    ]);

    const again = await invitations().accept(testbed.scope(invitee.caller({ [org.id]: 'VIEWER' })), {
      token,
    });
    expect(again).toMatchObject({
      membership: null,
      userErrors: [{ field: ['input', 'token'], code: 'CONFLICT' }],
    });
    expect(await invitations().pendingOf(asOwner, org.id, { first: 10 })).toMatchObject({ edges: [] });
  });

  it('is for the account the invitation was sent to', async () => {
    const { org, asOwner } = await organization();
    const invitee = await signUp(testbed);
    await invitations().invite(asOwner, { organizationId: org.id, email: invitee.email, role: 'VIEWER' });
    const someoneElse = await signUp(testbed);
    const refused = await invitations().accept(testbed.scope(someoneElse.caller()), {
      token: tokenMailedTo(invitee.email),
    });
    expect(refused.userErrors).toMatchObject([{ field: ['input', 'token'], code: 'FORBIDDEN' }]);
    expect(
      (await invitations().accept(testbed.scope(invitee.caller()), { token: tokenMailedTo(invitee.email) }))
        .userErrors,
    ).toEqual([]);
  });

  it('refuses an expired invitation, and one that is not a token', async () => {
    const { org, asOwner } = await organization();
    const invitee = await signUp(testbed);
    const { invitation } = await invitations().invite(asOwner, {
      organizationId: org.id,
      email: invitee.email,
      role: 'VIEWER',
    });
    await testbed.pool.query(
      `UPDATE invitations SET expires_at = now() - interval '1 second' WHERE id = $1`,
      [invitation!.id],
    );
    const scope = testbed.scope(invitee.caller());
    const expired = await invitations().accept(scope, { token: tokenMailedTo(invitee.email) });
    expect(expired.userErrors).toMatchObject([
      { code: 'CONFLICT', message: expect.stringMatching(/expired/) },
    ]);
    expect((await invitations().accept(scope, { token: 'nonsense' })).userErrors).toMatchObject([
      { code: 'INVALID' },
    ]);
    expect((await invitations().accept(scope, { token: 'A'.repeat(43) })).userErrors).toMatchObject([
      { code: 'NOT_FOUND' },
    ]);
  });
});

describe('revoking', () => {
  it('withdraws a pending invitation: its link stops working, and a second revocation says so', async () => {
    const { org, asOwner } = await organization();
    const invitee = await signUp(testbed);
    const { invitation } = await invitations().invite(asOwner, {
      organizationId: org.id,
      email: invitee.email,
      role: 'MEMBER',
    });
    const revoked = await invitations().revoke(asOwner, { invitationId: invitation!.id });
    expect(revoked.userErrors).toEqual([]);
    expect(invitationStatus(revoked.invitation!)).toBe('REVOKED');
    const accepted = await invitations().accept(testbed.scope(invitee.caller()), {
      token: tokenMailedTo(invitee.email),
    });
    expect(accepted.userErrors).toMatchObject([
      { code: 'CONFLICT', message: expect.stringMatching(/revoked/) },
    ]);
    const again = await invitations().revoke(asOwner, { invitationId: invitation!.id });
    expect(again.userErrors).toMatchObject([{ field: ['input', 'invitationId'], code: 'CONFLICT' }]);
  });

  it('replaces the pending invitation when the same address is invited again', async () => {
    const { org, asOwner } = await organization();
    const invitee = await signUp(testbed);
    await invitations().invite(asOwner, { organizationId: org.id, email: invitee.email, role: 'VIEWER' });
    const first = tokenMailedTo(invitee.email);
    await invitations().invite(asOwner, { organizationId: org.id, email: invitee.email, role: 'ADMIN' });
    const scope = testbed.scope(invitee.caller());
    expect((await invitations().accept(scope, { token: first })).userErrors).toMatchObject([
      { code: 'CONFLICT' },
    ]);
    const accepted = await invitations().accept(scope, { token: tokenMailedTo(invitee.email) });
    expect(accepted.membership?.role).toBe('ADMIN');
  });

  it('hides an invitation from those who may not manage it', async () => {
    const admin = await signUp(testbed);
    const { org, asOwner, as } = await organization(admin);
    const { invitation } = await invitations().invite(asOwner, {
      organizationId: org.id,
      email: newEmail(),
      role: 'OWNER',
    });
    await expect(
      invitations().revoke(as(admin, 'ADMIN'), { invitationId: invitation!.id }),
    ).rejects.toMatchObject({
      extensions: { code: 'FORBIDDEN' },
    });
    const stranger = testbed.scope((await signUp(testbed)).caller());
    const refused = await invitations().revoke(stranger, { invitationId: invitation!.id });
    expect(refused.userErrors).toMatchObject([{ field: ['input', 'invitationId'], code: 'NOT_FOUND' }]);
    expect(invitations().canSee(stranger, invitation!)).toBe(false);
    expect(() => invitations().pendingOf(stranger, org.id, { first: 10 })).toThrow(
      expect.objectContaining({ extensions: { code: 'FORBIDDEN' } }),
    );
  });
});
