import type { MembershipRow } from '../../../../db/accounts/schema';
import type { Role } from '../../../common/caller';
import { refusal, type UserError, userError } from '../../../common/errors';
import type { AccountsContext } from '../../context';
import { atLeast, withinReach } from '../access';

/**
 * The signed-in caller's user ID; UNAUTHENTICATED for an anonymous caller. Membership is managed
 * by people: an API key, whatever its scopes, gets FORBIDDEN (a leaked key must not be able to
 * invite its holder in, or lock the owners out).
 */
export function signedInUserId(ctx: AccountsContext): string {
  if (ctx.caller.kind === 'apiKey') {
    throw refusal(ctx.caller, 'API keys cannot manage organizations or members; sign in to do this.');
  }
  if (ctx.caller.kind !== 'user') throw refusal(ctx.caller);
  return ctx.caller.userId;
}

/** The one answer for an organization that does not exist and for one the caller is not in. */
export const noSuchOrganization = (): UserError =>
  userError(['input', 'organizationId'], 'No such organization.', 'NOT_FOUND');

/** Refuses (FORBIDDEN) a member whose role is below `minimum`. */
export function requireRole(
  ctx: AccountsContext,
  actor: MembershipRow,
  minimum: Exclude<Role, 'BILLING'>,
  doing: string,
): void {
  if (!atLeast(actor.role, minimum)) {
    const roles = minimum === 'OWNER' ? 'the OWNER role' : `the ${minimum} role or higher`;
    throw refusal(ctx.caller, `${doing} takes ${roles} in this organization.`);
  }
}

/**
 * Refuses (FORBIDDEN) to grant a role above the actor's own, or to act on a member who holds
 * one: only an OWNER grants, changes or removes OWNER.
 */
export function requireReach(ctx: AccountsContext, actor: MembershipRow, role: Role, message: string): void {
  if (!withinReach(actor.role, role)) throw refusal(ctx.caller, `${message} Your role is ${actor.role}.`);
}

/** Whether removing or demoting `target` would leave the organization without an owner. */
export function isLastOwner(target: MembershipRow, locked: MembershipRow[]): boolean {
  return target.role === 'OWNER' && locked.filter((m) => m.role === 'OWNER').length <= 1;
}

export const lastOwnerError = (field: string[]): UserError =>
  userError(
    field,
    'An organization needs at least one owner: make another member OWNER first, or delete the organization.',
    'CONFLICT',
  );
