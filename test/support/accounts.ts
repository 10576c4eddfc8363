import { randomBytes } from 'node:crypto';
import { expect, type MockInstance, vi } from 'vitest';
import type { OrganizationRow, UserRow } from '../../db/accounts/schema';
import { accounts } from '../../subgraphs/accounts/index';
import { DevMailbox, type Mail } from '../../subgraphs/accounts/mail/mailer';
import type { AccountsServices } from '../../subgraphs/accounts/services';
import type { AccountsLoaders } from '../../subgraphs/accounts/storage';
import type { Caller, Role } from '../../subgraphs/common/caller';
import {
  anonymousCaller,
  type ServiceTestbed,
  startServices,
  uniqueSlug,
  userCaller,
  useServices,
} from './services';

/**
 * The accounts services on a database of their own (`startServices(accounts)`), and people
 * made through them, for the service tests beside `subgraphs/accounts/services`.
 */
export type AccountsTestbed = ServiceTestbed<AccountsServices, AccountsLoaders>;

let sent: MockInstance<DevMailbox['send']> | undefined;

/**
 * Starts the accounts services. Outside production they send mail to the development mailbox,
 * which is watched here: `sentTo` reads what it was given.
 */
async function startAccounts(env: Record<string, string> = {}): Promise<AccountsTestbed> {
  sent ??= vi.spyOn(DevMailbox.prototype, 'send');
  return startServices(accounts, env);
}

/**
 * The accounts testbed of this test file: started before its tests (with `env` besides the
 * defaults), closed after them.
 */
export const useAccounts = (env: Record<string, string> = {}): AccountsTestbed =>
  useServices(() => startAccounts(env));

/** The mail sent to `address` so far, oldest first. */
export function sentTo(address: string): Mail[] {
  return (sent?.mock.calls ?? []).map(([mail]) => mail).filter((mail) => mail.to === address);
}

/** The `token` parameter of the link in the last mail sent to `address`. */
export function tokenMailedTo(address: string): string {
  const text = sentTo(address).at(-1)?.text ?? '';
  const token = /[?&]token=([A-Za-z0-9_-]+)/.exec(text)?.[1];
  if (!token) throw new Error(`no link with a token was mailed to ${address}`);
  return token;
}

export const PASSWORD = 'violet-harbor-tram-42';

/** An address no other test uses. */
export const newEmail = (name = 'user') => `${name}-${randomBytes(4).toString('hex')}@example.test`;

/** Someone who signed up through the service, and how the gateway would vouch for them. */
export interface Person {
  user: UserRow;
  email: string;
  /** The organization sign-up made them the OWNER of. */
  personalOrganizationId: string;
  /** The session sign-up opened. */
  sessionId: string;
  refreshToken: string;
  /** Their caller, with their personal organization's OWNER role and `memberships` besides. */
  caller(memberships?: Record<string, Role>): Caller;
}

export async function signUp(
  testbed: AccountsTestbed,
  input: { email?: string; name?: string; password?: string } = {},
): Promise<Person> {
  const email = input.email ?? newEmail();
  const payload = await testbed.services.signIn.signUp(testbed.scope(anonymousCaller), {
    email,
    name: input.name ?? 'Ada Lovelace',
    password: input.password ?? PASSWORD,
  });
  expect(payload.userErrors).toEqual([]);
  const user = payload.user!;
  const { rows } = await testbed.pool.query<{ organization_id: string; session_id: string }>(
    `SELECT m.organization_id, s.id AS session_id FROM memberships m JOIN sessions s ON s.user_id = m.user_id
      WHERE m.user_id = $1`,
    [user.id],
  );
  const personalOrganizationId = rows[0]!.organization_id;
  const sessionId = rows[0]!.session_id;
  return {
    user,
    email,
    personalOrganizationId,
    sessionId,
    refreshToken: payload.refreshToken!,
    caller: (memberships = {}) => ({
      ...userCaller({ [personalOrganizationId]: 'OWNER', ...memberships }, user.id),
      sessionId,
    }),
  };
}

/**
 * An organization `owner` created through the service, and `members` who joined it in their
 * roles by accepting an invitation, as people do.
 */
export async function organizationWith(
  testbed: AccountsTestbed,
  owner: Person,
  members: [Person, Role][] = [],
): Promise<OrganizationRow> {
  const { services } = testbed;
  const created = await services.organizations.create(testbed.scope(owner.caller()), {
    name: 'Acme',
    slug: uniqueSlug(),
  });
  expect(created.userErrors).toEqual([]);
  const organization = created.organization!;
  const asOwner = testbed.scope(owner.caller({ [organization.id]: 'OWNER' }));
  for (const [member, role] of members) {
    const invited = await services.invitations.invite(asOwner, {
      organizationId: organization.id,
      email: member.email,
      role,
    });
    expect(invited.userErrors).toEqual([]);
    const token = tokenMailedTo(member.email);
    const accepted = await services.invitations.accept(testbed.scope(member.caller()), { token });
    expect(accepted.userErrors).toEqual([]);
  }
  return organization;
}
