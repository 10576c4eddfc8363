import type { MembershipRow, OrganizationRow } from '../../../../db/accounts/schema';
import type { Role } from '../../../common/caller';
import { type UserError, userError } from '../../../common/errors';
import type { AccountsContext } from '../../context';
import { noteOwnRoleChange, publishAccessChanged } from '../access';
import type { TeamsTransaction } from '../storage';
import {
  isLastOwner,
  lastOwnerError,
  noSuchOrganization,
  requireReach,
  requireRole,
  signedInUserId,
} from './guard';

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

const noSuchMember = (): UserError =>
  userError(['input', 'userId'], 'No such member in this organization.', 'NOT_FOUND');

/**
 * Locks the actor's and the target's memberships (and the owners'), then checks that the actor
 * is an ADMIN or higher and that the target is a member within the actor's reach.
 */
async function lockActorAndTarget(
  ctx: AccountsContext,
  tx: TeamsTransaction,
  organizationId: string,
  actorId: string,
  targetId: string,
  doing: string,
): Promise<{ error: UserError } | { actor: MembershipRow; target: MembershipRow; locked: MembershipRow[] }> {
  const locked = await tx.lockMemberships(organizationId, [actorId, targetId]);
  const actor = locked.find((m) => m.userId === actorId);
  if (!actor) return { error: noSuchOrganization() };
  requireRole(ctx, actor, 'ADMIN', doing);
  const target = locked.find((m) => m.userId === targetId);
  if (!target) return { error: noSuchMember() };
  return { actor, target, locked };
}

/**
 * ADMIN or higher; the member's current and new roles must both be within the actor's reach
 * (only an OWNER grants or takes away OWNER), and the last owner keeps the role.
 */
export async function changeMemberRole(
  ctx: AccountsContext,
  input: { organizationId: string; userId: string; role: Role },
): Promise<MembershipPayload> {
  const actorId = signedInUserId(ctx);
  const { organizationId, userId, role } = input;
  let changed = false;
  const result = await ctx.teams.transaction(async (tx, client): Promise<MembershipPayload> => {
    changed = false;
    const found = await lockActorAndTarget(ctx, tx, organizationId, actorId, userId, 'Changing roles');
    if ('error' in found) return { membership: null, userErrors: [found.error] };
    const { actor, target, locked } = found;
    requireReach(
      ctx,
      actor,
      target.role,
      `Changing the role of a member who is ${target.role} takes that role.`,
    );
    requireReach(ctx, actor, role, `Granting ${role} takes that role.`);
    if (target.role === role) return { membership: target, userErrors: [] };
    if (role !== 'OWNER' && isLastOwner(target, locked)) {
      return { membership: null, userErrors: [lastOwnerError(['input', 'role'])] };
    }
    changed = true;
    const membership = await tx.setRole(organizationId, userId, role);
    await ctx.outbox.emit(client, {
      type: 'member.role_changed',
      organizationId,
      actor: ctx.caller,
      subjects: { userId },
      payload: { userId, previousRole: target.role, role },
    });
    return { membership, userErrors: [] };
  });
  if (changed) {
    ctx.outbox.wake();
    if (userId === actorId) noteOwnRoleChange(ctx, organizationId, role);
    await publishAccessChanged(ctx, [userId]);
  }
  return result;
}

/** ADMIN or higher, for members whose role is within the actor's reach; never the last owner. */
export async function removeMember(
  ctx: AccountsContext,
  input: { organizationId: string; userId: string },
): Promise<RemoveMemberPayload> {
  const actorId = signedInUserId(ctx);
  const { organizationId, userId } = input;
  const refused = (error: UserError): RemoveMemberPayload => ({
    removedUserId: null,
    organization: null,
    userErrors: [error],
  });
  const result = await ctx.teams.transaction(async (tx, client): Promise<RemoveMemberPayload> => {
    const found = await lockActorAndTarget(ctx, tx, organizationId, actorId, userId, 'Removing members');
    if ('error' in found) return refused(found.error);
    const { actor, target, locked } = found;
    requireReach(ctx, actor, target.role, `Removing a member who is ${target.role} takes that role.`);
    if (isLastOwner(target, locked)) return refused(lastOwnerError(['input', 'userId']));
    await tx.deleteMembership(organizationId, userId);
    await ctx.outbox.emit(client, {
      type: 'member.removed',
      organizationId,
      actor: ctx.caller,
      subjects: { userId },
      payload: { userId, role: target.role, reason: userId === actorId ? 'LEFT' : 'REMOVED' },
    });
    return {
      removedUserId: userId,
      // Who removed themself no longer sees the organization.
      organization: userId === actorId ? null : ((await tx.organizationById(organizationId)) ?? null),
      userErrors: [],
    };
  });
  if (result.removedUserId) {
    ctx.outbox.wake();
    if (userId === actorId) noteOwnRoleChange(ctx, organizationId, null);
    await publishAccessChanged(ctx, [userId]);
  }
  return result;
}

/** Any member may leave, except the last owner, and nobody leaves their personal organization. */
export async function leaveOrganization(
  ctx: AccountsContext,
  input: { organizationId: string },
): Promise<LeaveOrganizationPayload> {
  const userId = signedInUserId(ctx);
  const { organizationId } = input;
  const refused = (error: UserError): LeaveOrganizationPayload => ({
    leftOrganizationId: null,
    userErrors: [error],
  });
  const result = await ctx.teams.transaction(async (tx, client): Promise<LeaveOrganizationPayload> => {
    const locked = await tx.lockMemberships(organizationId, [userId]);
    const self = locked.find((m) => m.userId === userId);
    if (!self) return refused(noSuchOrganization());
    if ((await tx.organizationById(organizationId))?.personal) {
      return refused(
        userError(['input', 'organizationId'], 'Nobody leaves their personal organization.', 'CONFLICT'),
      );
    }
    if (isLastOwner(self, locked)) return refused(lastOwnerError(['input', 'organizationId']));
    await tx.deleteMembership(organizationId, userId);
    await ctx.outbox.emit(client, {
      type: 'member.removed',
      organizationId,
      actor: ctx.caller,
      subjects: { userId },
      payload: { userId, role: self.role, reason: 'LEFT' },
    });
    return { leftOrganizationId: organizationId, userErrors: [] };
  });
  if (result.leftOrganizationId) {
    ctx.outbox.wake();
    noteOwnRoleChange(ctx, organizationId, null);
    await publishAccessChanged(ctx, [userId]);
  }
  return result;
}
