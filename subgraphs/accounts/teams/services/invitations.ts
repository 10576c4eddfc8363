import { z } from 'zod';
import type { InvitationRow, MembershipRow } from '../../../../db/accounts/schema';
import type { Role } from '../../../common/caller';
import { type UserError, userError, userErrorsFromZod } from '../../../common/errors';
import { isUniqueViolation } from '../../../common/validation';
import type { AccountsContext } from '../../context';
import { digest, looksLikeToken, randomToken } from '../../identity/secrets';
import { noteOwnRoleChange, publishAccessChanged } from '../access';
import { noSuchOrganization, requireReach, requireRole, signedInUserId } from './guard';

/** How long an invitation link works. */
export const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;

export interface InvitationPayload {
  invitation: InvitationRow | null;
  userErrors: UserError[];
}

export interface AcceptInvitationPayload {
  membership: MembershipRow | null;
  userErrors: UserError[];
}

const inviteInput = z.object({
  organizationId: z.string(),
  email: z
    .string()
    .trim()
    .toLowerCase()
    .max(254, 'Use at most 254 characters.')
    .pipe(z.email('Enter a valid email address.')),
});

/**
 * ADMIN or higher, for a role within the inviter's reach. Emails a single-use link valid 7 days;
 * a new invitation to the same address replaces the one still pending.
 */
export async function inviteMember(
  ctx: AccountsContext,
  input: { organizationId: string; email: string; role: Role },
): Promise<InvitationPayload> {
  const inviterId = signedInUserId(ctx);
  const parsed = inviteInput.safeParse(input);
  if (!parsed.success) return { invitation: null, userErrors: userErrorsFromZod(parsed.error) };
  const { organizationId, email } = parsed.data;
  const { role } = input;
  const token = randomToken();

  const result = await ctx.teams.transaction(async (tx) => {
    const inviter = (await tx.lockMemberships(organizationId, [inviterId])).find(
      (m) => m.userId === inviterId,
    );
    if (!inviter) return { userErrors: [noSuchOrganization()] };
    requireRole(ctx, inviter, 'ADMIN', 'Inviting members');
    requireReach(ctx, inviter, role, `Inviting someone as ${role} takes that role.`);
    const organization = (await tx.organizationById(organizationId))!;
    if (organization.personal) {
      return {
        userErrors: [
          userError(
            ['input', 'organizationId'],
            'A personal organization has no other members; create an organization to work with others.',
            'CONFLICT',
          ),
        ],
      };
    }
    if (await tx.emailIsMember(organizationId, email)) {
      return {
        userErrors: [userError(['input', 'email'], 'This person is already a member.', 'CONFLICT')],
      };
    }
    await tx.revokePendingInvitations(organizationId, email);
    const invitation = await tx.insertInvitation({
      organizationId,
      email,
      role,
      tokenHash: digest(token),
      invitedBy: inviterId,
      expiresAt: new Date(Date.now() + INVITATION_TTL_MS),
    });
    return { userErrors: [], invitation, organization };
  });
  if (!result.invitation) return { invitation: null, userErrors: result.userErrors };

  // After the commit: the link must never point to an invitation that is not there.
  const { invitation, organization } = result;
  const inviter = await ctx.loaders.user.load(inviterId);
  const link = `${ctx.settings.APP_URL.replace(/\/+$/, '')}/invitations/accept?token=${token}`;
  const mail = {
    to: invitation.email,
    subject: `You are invited to join ${organization.name} on Construct`,
    text: [
      `${inviter?.name ?? 'A member'} invited you to join ${organization.name} on Construct as ${role}.`,
      '',
      `Accept the invitation: ${link}`,
      '',
      `The link works once, until ${invitation.expiresAt.toUTCString()}, for the account with this email address.`,
      'If you did not expect this invitation, ignore this email.',
    ].join('\n'),
  };
  if (ctx.mailer) await ctx.mailer.send(mail);
  else
    ctx.logger.warn(
      { invitationId: invitation.id },
      'no mailer configured: the invitation email was not sent',
    );
  return { invitation, userErrors: [] };
}

/** ADMIN or higher, for an invitation to a role within the actor's reach, while it is pending. */
export async function revokeInvitation(
  ctx: AccountsContext,
  input: { invitationId: string },
): Promise<InvitationPayload> {
  const actorId = signedInUserId(ctx);
  const noSuchInvitation = (): InvitationPayload => ({
    invitation: null,
    userErrors: [userError(['input', 'invitationId'], 'No such invitation.', 'NOT_FOUND')],
  });
  return ctx.teams.transaction(async (tx): Promise<InvitationPayload> => {
    const invitation = await tx.invitationForUpdate(input.invitationId);
    if (!invitation) return noSuchInvitation();
    const actor = (await tx.lockMemberships(invitation.organizationId, [actorId])).find(
      (m) => m.userId === actorId,
    );
    if (!actor) return noSuchInvitation();
    requireRole(ctx, actor, 'ADMIN', 'Revoking invitations');
    requireReach(
      ctx,
      actor,
      invitation.role,
      `Revoking an invitation as ${invitation.role} takes that role.`,
    );
    if (invitation.acceptedAt || invitation.revokedAt) {
      return {
        invitation: null,
        userErrors: [
          userError(
            ['input', 'invitationId'],
            `This invitation was already ${invitation.acceptedAt ? 'accepted' : 'revoked'}.`,
            'CONFLICT',
          ),
        ],
      };
    }
    return { invitation: await tx.markInvitation(invitation.id, { revokedAt: new Date() }), userErrors: [] };
  });
}

/**
 * The signed-in user joins the organization in the invited role, once, before the invitation
 * expires, and only if their account's email is the one invited (whatever its case).
 */
export async function acceptInvitation(
  ctx: AccountsContext,
  input: { token: string },
): Promise<AcceptInvitationPayload> {
  const userId = signedInUserId(ctx);
  const refused = (message: string, code: UserError['code']): AcceptInvitationPayload => ({
    membership: null,
    userErrors: [userError(['input', 'token'], message, code)],
  });
  const token = input.token.trim();
  if (!looksLikeToken(token)) return refused('This is not an invitation token.', 'INVALID');

  const alreadyMember = () => refused('You are already a member of this organization.', 'CONFLICT');
  const accept = ctx.teams.transaction(async (tx, client): Promise<AcceptInvitationPayload> => {
    const invitation = await tx.invitationByTokenHashForUpdate(digest(token));
    if (!invitation) return refused('This invitation does not exist.', 'NOT_FOUND');
    if (invitation.acceptedAt) return refused('This invitation has already been used.', 'CONFLICT');
    if (invitation.revokedAt) return refused('This invitation was revoked.', 'CONFLICT');
    if (invitation.expiresAt.getTime() <= Date.now()) {
      return refused('This invitation has expired; ask for a new one.', 'CONFLICT');
    }
    const email = await tx.userEmail(userId);
    if (email?.toLowerCase() !== invitation.email.toLowerCase()) {
      return refused(
        'This invitation was sent to another email address: sign in with that account to accept it.',
        'FORBIDDEN',
      );
    }
    if (await tx.membership(invitation.organizationId, userId)) return alreadyMember();
    const membership = await tx.insertMembership(invitation.organizationId, userId, invitation.role);
    await tx.markInvitation(invitation.id, { acceptedAt: new Date() });
    await ctx.outbox.emit(client, {
      type: 'member.added',
      organizationId: invitation.organizationId,
      actor: ctx.caller,
      subjects: { userId, invitationId: invitation.id },
      payload: { userId, role: invitation.role, email },
    });
    return { membership, userErrors: [] };
  });
  // Two invitations to one organization accepted at the same moment: the second insert loses.
  const result = await accept.catch((error: unknown) => {
    if (isUniqueViolation(error, 'memberships_organization_id_user_id_pk')) return alreadyMember();
    throw error;
  });
  if (result.membership) {
    ctx.outbox.wake();
    noteOwnRoleChange(ctx, result.membership.organizationId, result.membership.role);
    await publishAccessChanged(ctx, [userId]);
  }
  return result;
}
