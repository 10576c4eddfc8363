import type { MembershipRow } from '../../../db/accounts/schema';
import type { Caller, Role } from '../../common/caller';
import { refusal, type UserError, userError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import type { EventBus } from '../../common/pubsub';
import type { AccountsScope, AccountsStorage } from '../storage';

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
 * Reads authorize from the gateway's view of the caller (`caller.memberships`, fresh within
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

type UserCaller = Extract<Caller, { kind: 'user' }>;

/**
 * The signed-in person; UNAUTHENTICATED for an anonymous caller, FORBIDDEN with `apiKeyMessage`
 * for an API key: accounts, sessions and memberships are managed by people (a leaked key must
 * not be able to invite its holder in, or lock the owners out).
 */
export function signedInUser(
  caller: Caller,
  apiKeyMessage = 'API keys act in an organization, not as a person; sign in to do this.',
): UserCaller {
  if (caller.kind === 'apiKey') throw refusal(caller, apiKeyMessage);
  if (caller.kind !== 'user') throw refusal(caller);
  return caller;
}

/** The signed-in caller's user ID, for organizations, members and invitations (see `signedInUser`). */
export const signedInUserId = (caller: Caller): string =>
  signedInUser(caller, 'API keys cannot manage organizations or members; sign in to do this.').userId;

/** The one answer for an organization that does not exist and for one the caller is not in. */
export const noSuchOrganization = (): UserError =>
  userError(['input', 'organizationId'], 'No such organization.', 'NOT_FOUND');

/** Refuses (FORBIDDEN) a member whose role is below `minimum`. */
export function requireRole(
  caller: Caller,
  actor: MembershipRow,
  minimum: Exclude<Role, 'BILLING'>,
  doing: string,
): void {
  if (!atLeast(actor.role, minimum)) {
    const roles = minimum === 'OWNER' ? 'the OWNER role' : `the ${minimum} role or higher`;
    throw refusal(caller, `${doing} takes ${roles} in this organization.`);
  }
}

/**
 * Refuses (FORBIDDEN) to grant a role above the actor's own, or to act on a member who holds
 * one: only an OWNER grants, changes or removes OWNER.
 */
export function requireReach(caller: Caller, actor: MembershipRow, role: Role, message: string): void {
  if (!withinReach(actor.role, role)) throw refusal(caller, `${message} Your role is ${actor.role}.`);
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

/** What the gateway needs to vouch for a caller (`_callerAccess`). */
export interface CallerAccess {
  active: boolean;
  memberships: { organizationId: string; role: string }[];
}

export interface AccessDependencies {
  storage: AccountsStorage;
  /** `caller-access-changed` tells every gateway to drop the roles and sessions it cached. */
  events: EventBus;
  logger: Logger;
}

/**
 * The caller's access as this request sees it, and as the gateway must learn it: roles by
 * organization (with the changes this very request made to its own), and the news that a
 * user's roles or sessions changed.
 */
export function createAccessService({ storage, events, logger }: AccessDependencies) {
  /**
   * The caller's own memberships changed by this request (a mutation it ran), by organization:
   * the role now held, or null once gone. The gateway learned the caller's roles before the
   * mutation; its payload must be read with the roles after it (a new organization's owner sees
   * its members, a member who left sees nothing more).
   */
  const changedInRequest = new WeakMap<AccountsScope, Map<string, Role | null>>();

  return {
    /** Records that this request gave the caller `role` in the organization (null: took it away). */
    noteOwnRoleChange(scope: AccountsScope, organizationId: string, role: Role | null): void {
      const changes = changedInRequest.get(scope) ?? new Map<string, Role | null>();
      changes.set(organizationId, role);
      changedInRequest.set(scope, changes);
    },

    /** The caller's role in the organization, or null if the caller is not a member (or anonymous). */
    role(scope: AccountsScope, organizationId: string): Role | null {
      const changed = changedInRequest.get(scope)?.get(organizationId);
      if (changed !== undefined) return changed;
      const { caller } = scope;
      // An API key is a member of its one organization, with the role its scopes allow.
      if (caller.kind === 'anonymous' || !Object.hasOwn(caller.memberships, organizationId)) return null;
      return caller.memberships[organizationId] ?? null;
    },

    /** The IDs of the organizations the caller belongs to. */
    organizationIds(scope: AccountsScope): string[] {
      const { caller } = scope;
      const ids = new Set(caller.kind === 'anonymous' ? [] : Object.keys(caller.memberships));
      for (const [id, role] of changedInRequest.get(scope) ?? []) {
        if (role) ids.add(id);
        else ids.delete(id);
      }
      return [...ids];
    },

    /**
     * Tells every process (the gateway above all) to forget the roles and sessions it cached for
     * these users, so a revoked session or a lost role stops working at once instead of when a
     * cache expires. Call it after the transaction committed: a listener that looks again must
     * see the change.
     */
    async changed(userIds: Iterable<string>): Promise<void> {
      for (const userId of new Set(userIds)) {
        try {
          await events.pubsub.publish('caller-access-changed', userId);
        } catch (error) {
          // The change is committed; at-most-once by design, the gateway's short cache bounds the damage.
          logger.warn({ err: error, userId }, 'could not publish caller-access-changed');
        }
      }
    },

    /**
     * The session state and memberships of the caller, for the gateway. For an API key: whether
     * its creator still exists, and their memberships (the gateway caps the key by them).
     */
    async callerAccess(scope: AccountsScope): Promise<CallerAccess | null> {
      const { caller } = scope;
      if (caller.kind === 'apiKey') {
        const { userId } = caller;
        const [user] = await storage.usersByIds([userId]);
        if (!user) return { active: false, memberships: [] };
        return { active: true, memberships: await storage.membershipsOfUser(userId) };
      }
      if (caller.kind !== 'user') return null;
      const { userId, sessionId } = caller;
      const [active, memberships] = await Promise.all([
        storage.sessionIsActive(userId, sessionId),
        storage.membershipsOfUser(userId),
      ]);
      return { active, memberships: active ? memberships : [] };
    },
  };
}

export type AccessService = ReturnType<typeof createAccessService>;
