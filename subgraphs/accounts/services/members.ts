import type pg from 'pg';
import type { MembershipRow, OrganizationRow } from '../../../db/accounts/schema';
import type { Caller, Role } from '../../common/caller';
import { refusal, type UserError, userError } from '../../common/errors';
import type { Outbox } from '../../common/outbox';
import { type ConnectionArgs, keysetConnection } from '../../common/pagination';
import type { AccountsQueries, AccountsScope, AccountsStorage } from '../storage';
import {
  type AccessService,
  atLeast,
  isLastOwner,
  lastOwnerError,
  noSuchOrganization,
  requireReach,
  requireRole,
  signedInUserId,
} from './access';

export interface MembershipPayload {
  membership: MembershipRow | null;
  userErrors: UserError[];
}

export interface RemoveMemberPayload {
  removedUserId: string | null;
  organization: OrganizationRow | null;
  userErrors: UserError[];
}

export interface LeaveOrganizationPayload {
  leftOrganizationId: string | null;
  userErrors: UserError[];
}

export interface ChangeMemberRoleInput {
  organizationId: string;
  userId: string;
  role: Role;
}

const noSuchMember = (): UserError =>
  userError(['input', 'userId'], 'No such member in this organization.', 'NOT_FOUND');

/**
 * Locks the actor's and the target's memberships (and the owners'), then checks that the actor
 * is an ADMIN or higher and that the target is a member within the actor's reach.
 */
async function lockActorAndTarget(
  caller: Caller,
  tx: AccountsQueries,
  { organizationId, userId: targetId }: { organizationId: string; userId: string },
  actorId: string,
  doing: string,
): Promise<{ error: UserError } | { actor: MembershipRow; target: MembershipRow; locked: MembershipRow[] }> {
  const locked = await tx.lockMemberships(organizationId, [actorId, targetId]);
  const actor = locked.find((m) => m.userId === actorId);
  if (!actor) return { error: noSuchOrganization() };
  requireRole(caller, actor, 'ADMIN', doing);
  const target = locked.find((m) => m.userId === targetId);
  if (!target) return { error: noSuchMember() };
  return { actor, target, locked };
}

export interface MembersDependencies {
  storage: AccountsStorage;
  /** member.role_changed and member.removed go out in the transaction of the change. */
  outbox: Outbox;
  access: AccessService;
}

/** Memberships: who sees them, and roles changed, members removed, organizations left. */
export function createMembersService({ storage, outbox, access }: MembersDependencies) {
  /** After a commit that changed `userId`'s membership: relay its event, tell the gateways. */
  async function changed(scope: AccountsScope, organizationId: string, userId: string, role: Role | null) {
    outbox.wake();
    if (scope.caller.kind === 'user' && userId === scope.caller.userId) {
      access.noteOwnRoleChange(scope, organizationId, role);
    }
    await access.changed([userId]);
  }

  /** Deletes a membership and queues its `member.removed`, in the transaction of `client`. */
  async function deleteMembership(
    scope: AccountsScope,
    tx: AccountsQueries,
    client: pg.PoolClient,
    membership: MembershipRow,
    reason: 'LEFT' | 'REMOVED',
  ) {
    const { organizationId, userId, role } = membership;
    await tx.deleteMembership(organizationId, userId);
    await outbox.emit(client, {
      type: 'member.removed',
      organizationId,
      actor: scope.caller,
      subjects: { userId },
      payload: { userId, role, reason },
    });
  }

  return {
    /** Seen by the member themself, and by those who may list the organization's members. */
    canSee(scope: AccountsScope, membership: MembershipRow): boolean {
      const { caller } = scope;
      return (
        (caller.kind === 'user' && caller.userId === membership.userId) ||
        atLeast(access.role(scope, membership.organizationId), 'VIEWER')
      );
    },

    /** Who belongs to the organization, oldest account first: VIEWER or higher. */
    ofOrganization(scope: AccountsScope, organizationId: string, args: ConnectionArgs) {
      if (!atLeast(access.role(scope, organizationId), 'VIEWER')) {
        throw refusal(
          scope.caller,
          'Seeing the members takes the VIEWER role or higher in this organization.',
        );
      }
      return keysetConnection(args, (page) => storage.membersPage(organizationId, page));
    },

    /**
     * The organizations the user belongs to, oldest first: for the user themself only (null for
     * anyone else), among the organizations the gateway vouches for, as every read here: the
     * database adds when each was joined and drops one that is gone.
     */
    ofUser(scope: AccountsScope, userId: string, args: ConnectionArgs) {
      if (scope.caller.kind !== 'user' || scope.caller.userId !== userId) return null;
      return keysetConnection(args, (page) =>
        storage.membershipsOfUserPage(userId, access.organizationIds(scope), page),
      );
    },

    /**
     * ADMIN or higher; the member's current and new roles must both be within the actor's reach
     * (only an OWNER grants or takes away OWNER), and the last owner keeps the role.
     */
    async changeRole(scope: AccountsScope, input: ChangeMemberRoleInput): Promise<MembershipPayload> {
      const actorId = signedInUserId(scope.caller);
      const { organizationId, userId, role } = input;
      let roleChanged = false;
      const result = await storage.transaction(async (tx, client): Promise<MembershipPayload> => {
        roleChanged = false;
        const found = await lockActorAndTarget(scope.caller, tx, input, actorId, 'Changing roles');
        if ('error' in found) return { membership: null, userErrors: [found.error] };
        const { actor, target, locked } = found;
        requireReach(
          scope.caller,
          actor,
          target.role,
          `Changing the role of a member who is ${target.role} takes that role.`,
        );
        requireReach(scope.caller, actor, role, `Granting ${role} takes that role.`);
        if (target.role === role) return { membership: target, userErrors: [] };
        if (role !== 'OWNER' && isLastOwner(target, locked)) {
          return { membership: null, userErrors: [lastOwnerError(['input', 'role'])] };
        }
        roleChanged = true;
        const membership = await tx.setRole(organizationId, userId, role);
        await outbox.emit(client, {
          type: 'member.role_changed',
          organizationId,
          actor: scope.caller,
          subjects: { userId },
          payload: { userId, previousRole: target.role, role },
        });
        return { membership, userErrors: [] };
      });
      if (roleChanged) await changed(scope, organizationId, userId, role);
      return result;
    },

    /** ADMIN or higher, for members whose role is within the actor's reach; never the last owner. */
    async remove(
      scope: AccountsScope,
      input: { organizationId: string; userId: string },
    ): Promise<RemoveMemberPayload> {
      const actorId = signedInUserId(scope.caller);
      const { organizationId, userId } = input;
      const refused = (error: UserError): RemoveMemberPayload => ({
        removedUserId: null,
        organization: null,
        userErrors: [error],
      });
      const result = await storage.transaction(async (tx, client): Promise<RemoveMemberPayload> => {
        const found = await lockActorAndTarget(scope.caller, tx, input, actorId, 'Removing members');
        if ('error' in found) return refused(found.error);
        const { actor, target, locked } = found;
        requireReach(
          scope.caller,
          actor,
          target.role,
          `Removing a member who is ${target.role} takes that role.`,
        );
        if (isLastOwner(target, locked)) return refused(lastOwnerError(['input', 'userId']));
        await deleteMembership(scope, tx, client, target, userId === actorId ? 'LEFT' : 'REMOVED');
        return {
          removedUserId: userId,
          // Who removed themself no longer sees the organization.
          organization: userId === actorId ? null : ((await tx.organizationById(organizationId)) ?? null),
          userErrors: [],
        };
      });
      if (result.removedUserId) await changed(scope, organizationId, userId, null);
      return result;
    },

    /** Any member may leave, except the last owner, and nobody leaves their personal organization. */
    async leave(scope: AccountsScope, input: { organizationId: string }): Promise<LeaveOrganizationPayload> {
      const userId = signedInUserId(scope.caller);
      const { organizationId } = input;
      const refused = (error: UserError): LeaveOrganizationPayload => ({
        leftOrganizationId: null,
        userErrors: [error],
      });
      const result = await storage.transaction(async (tx, client): Promise<LeaveOrganizationPayload> => {
        const locked = await tx.lockMemberships(organizationId, [userId]);
        const self = locked.find((m) => m.userId === userId);
        if (!self) return refused(noSuchOrganization());
        if ((await tx.organizationById(organizationId))?.personal) {
          return refused(
            userError(['input', 'organizationId'], 'Nobody leaves their personal organization.', 'CONFLICT'),
          );
        }
        if (isLastOwner(self, locked)) return refused(lastOwnerError(['input', 'organizationId']));
        await deleteMembership(scope, tx, client, self, 'LEFT');
        return { leftOrganizationId: organizationId, userErrors: [] };
      });
      if (result.leftOrganizationId) await changed(scope, organizationId, userId, null);
      return result;
    },
  };
}

export type MembersService = ReturnType<typeof createMembersService>;
