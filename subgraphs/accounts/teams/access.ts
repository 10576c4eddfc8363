import type { Role } from '../../common/caller';
import type { AccountsContext } from '../context';

/**
 * Who may do what in an organization, and what the caller's role is.
 *
 * Authorization codes, the same in every teams operation:
 * - anonymous caller → GraphQL error UNAUTHENTICATED (the kit's `refusal`);
 * - an organization that does not exist or that the caller is not a member of → userError
 *   NOT_FOUND: the same answer for both, so nobody learns that an organization exists;
 * - a member whose role does not allow the operation, or who asks for more than that role
 *   may grant (an ADMIN inviting or promoting to OWNER, changing or removing an OWNER) → GraphQL
 *   error FORBIDDEN, as for every "acting above one's role" in the API;
 * - a change the state of the organization forbids (its last owner leaving or being demoted,
 *   deleting or leaving a personal organization, a used, revoked or expired invitation) →
 *   userError CONFLICT.
 *
 * Reads authorize from the gateway's view of the caller (`ctx.caller.memberships`, fresh within
 * seconds and dropped at once on `caller-access-changed`). Mutations decide on the rows they
 * lock in the database, the authoritative state.
 */

/** OWNER > ADMIN > MEMBER > VIEWER; BILLING reaches nothing but billing, so it ranks lowest. */
const rank: Record<Role, number> = { OWNER: 4, ADMIN: 3, MEMBER: 2, VIEWER: 1, BILLING: 0 };

/** Whether `role` is `minimum` or above (BILLING is never above anything but itself). */
export function atLeast(role: Role | null | undefined, minimum: Exclude<Role, 'BILLING'>): boolean {
  return role != null && role !== 'BILLING' && rank[role] >= rank[minimum];
}

/**
 * Whether someone holding `actor` may grant `role`, or act on a member holding it: never above
 * their own role, so only an OWNER grants or takes away OWNER.
 */
export function withinReach(actor: Role, role: Role): boolean {
  return rank[role] <= rank[actor];
}

/**
 * The caller's own memberships changed by this request (a mutation it ran), by organization:
 * the role now held, or null once gone. The gateway learned the caller's roles before the
 * mutation; its payload must be read with the roles after it (a new organization's owner sees
 * its members, a member who left sees nothing more).
 */
const changedInRequest = new WeakMap<object, Map<string, Role | null>>();

export function noteOwnRoleChange(ctx: AccountsContext, organizationId: string, role: Role | null) {
  const changes = changedInRequest.get(ctx) ?? new Map<string, Role | null>();
  changes.set(organizationId, role);
  changedInRequest.set(ctx, changes);
}

/** The caller's role in the organization, or null if the caller is not a member (or anonymous). */
export function viewerRole(ctx: AccountsContext, organizationId: string): Role | null {
  const changed = changedInRequest.get(ctx)?.get(organizationId);
  if (changed !== undefined) return changed;
  const { caller } = ctx;
  // An API key is a member of its one organization, with the role its scopes allow.
  if (caller.kind === 'anonymous' || !Object.hasOwn(caller.memberships, organizationId)) return null;
  return caller.memberships[organizationId] ?? null;
}

/** The IDs of the organizations the caller belongs to. */
export function viewerOrganizationIds(ctx: AccountsContext): string[] {
  const ids = new Set(ctx.caller.kind === 'anonymous' ? [] : Object.keys(ctx.caller.memberships));
  for (const [id, role] of changedInRequest.get(ctx) ?? []) {
    if (role) ids.add(id);
    else ids.delete(id);
  }
  return [...ids];
}

/** Tells every process (the gateway above all) to forget the roles it cached for these users. */
export async function publishAccessChanged(ctx: AccountsContext, userIds: Iterable<string>) {
  for (const userId of new Set(userIds)) {
    try {
      await ctx.events.pubsub.publish('caller-access-changed', userId);
    } catch (error) {
      // The change is committed; the gateway's cache expires within seconds anyway.
      ctx.logger.warn({ err: error, userId }, 'could not publish caller-access-changed');
    }
  }
}
