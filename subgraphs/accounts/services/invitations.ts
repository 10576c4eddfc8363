import { z } from 'zod';
import type { InvitationRow, MembershipRow, UserRow } from '../../../db/accounts/schema';
import type { Role } from '../../common/caller';
import { refusal, type UserError, userError, userErrorsFromZod } from '../../common/errors';
import type { Logger } from '../../common/logger';
import type { Outbox } from '../../common/outbox';
import { type ConnectionArgs, keysetConnection } from '../../common/pagination';
import { isUniqueViolation } from '../../common/validation';
import type { AccountsSettings } from '../config';
import { digest, looksLikeToken, randomToken } from '../identity/secrets';
import type { Mailer } from '../mail/mailer';
import type { AccountsScope, AccountsStorage } from '../storage';
import {
  type AccessService,
  atLeast,
  noSuchOrganization,
  requireReach,
  requireRole,
  signedInUserId,
} from './access';

/** How long an invitation link works. */
export const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;

export type InvitationStatus = 'PENDING' | 'ACCEPTED' | 'REVOKED' | 'EXPIRED';

export function invitationStatus(invitation: InvitationRow): InvitationStatus {
  if (invitation.acceptedAt) return 'ACCEPTED';
  if (invitation.revokedAt) return 'REVOKED';
  return invitation.expiresAt.getTime() <= Date.now() ? 'EXPIRED' : 'PENDING';
}

export interface InvitationPayload {
  invitation: InvitationRow | null;
  userErrors: UserError[];
}

export interface AcceptInvitationPayload {
  membership: MembershipRow | null;
  userErrors: UserError[];
}

export interface InviteMemberInput {
  organizationId: string;
  email: string;
  role: Role;
}

const inviteRules = z.object({
  email: z
    .string()
    .trim()
    .toLowerCase()
    .max(254, 'Use at most 254 characters.')
    .pipe(z.email('Enter a valid email address.')),
});

export interface InvitationsDependencies {
  storage: AccountsStorage;
  /** member.added goes out in the transaction of the acceptance. */
  outbox: Outbox;
  access: AccessService;
  /** None in production without SMTP_URL: the invitation stands, and the failure is logged. */
  mailer: Mailer | undefined;
  settings: Pick<AccountsSettings, 'APP_URL'>;
  logger: Logger;
}

/** Invitations: the emailed offer to join an organization in a role, its withdrawal and acceptance. */
export function createInvitationsService({
  storage,
  outbox,
  access,
  mailer,
  settings,
  logger,
}: InvitationsDependencies) {
  return {
    /** Only those who may manage invitations see them: ADMIN or higher. */
    canSee(scope: AccountsScope, invitation: InvitationRow): boolean {
      return atLeast(access.role(scope, invitation.organizationId), 'ADMIN');
    },

    /** Invitations waiting for an answer, oldest first: ADMIN or higher. */
    pendingOf(scope: AccountsScope, organizationId: string, args: ConnectionArgs) {
      if (!atLeast(access.role(scope, organizationId), 'ADMIN')) {
        throw refusal(
          scope.caller,
          'Seeing the invitations takes the ADMIN role or higher in this organization.',
        );
      }
      return keysetConnection(args, (page) => storage.pendingInvitationsPage(organizationId, page));
    },

    /** Who sent the invitation; null if their account is gone. */
    inviter(scope: AccountsScope, invitation: InvitationRow): Promise<UserRow | null> | null {
      return invitation.invitedBy ? scope.loaders.user.load(invitation.invitedBy) : null;
    },

    /**
     * ADMIN or higher, for a role within the inviter's reach. Emails a single-use link valid 7 days;
     * a new invitation to the same address replaces the one still pending.
     */
    async invite(scope: AccountsScope, input: InviteMemberInput): Promise<InvitationPayload> {
      const inviterId = signedInUserId(scope.caller);
      const parsed = inviteRules.safeParse(input);
      if (!parsed.success) return { invitation: null, userErrors: userErrorsFromZod(parsed.error) };
      const { email } = parsed.data;
      const { organizationId, role } = input;
      const token = randomToken();

      const result = await storage.transaction(async (tx) => {
        const inviter = (await tx.lockMemberships(organizationId, [inviterId])).find(
          (m) => m.userId === inviterId,
        );
        if (!inviter) return { userErrors: [noSuchOrganization()] };
        requireRole(scope.caller, inviter, 'ADMIN', 'Inviting members');
        requireReach(scope.caller, inviter, role, `Inviting someone as ${role} takes that role.`);
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
      const inviter = await scope.loaders.user.load(inviterId);
      const link = `${settings.APP_URL.replace(/\/+$/, '')}/invitations/accept?token=${token}`;
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
      if (mailer) await mailer.send(mail);
      else
        logger.warn(
          { invitationId: invitation.id },
          'no mailer configured: the invitation email was not sent',
        );
      return { invitation, userErrors: [] };
    },

    /** ADMIN or higher, for an invitation to a role within the actor's reach, while it is pending. */
    async revoke(scope: AccountsScope, input: { invitationId: string }): Promise<InvitationPayload> {
      const actorId = signedInUserId(scope.caller);
      const noSuchInvitation = (): InvitationPayload => ({
        invitation: null,
        userErrors: [userError(['input', 'invitationId'], 'No such invitation.', 'NOT_FOUND')],
      });
      return storage.transaction(async (tx): Promise<InvitationPayload> => {
        const invitation = await tx.invitationForUpdate(input.invitationId);
        if (!invitation) return noSuchInvitation();
        const actor = (await tx.lockMemberships(invitation.organizationId, [actorId])).find(
          (m) => m.userId === actorId,
        );
        if (!actor) return noSuchInvitation();
        requireRole(scope.caller, actor, 'ADMIN', 'Revoking invitations');
        requireReach(
          scope.caller,
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
        return {
          invitation: await tx.markInvitation(invitation.id, { revokedAt: new Date() }),
          userErrors: [],
        };
      });
    },

    /**
     * The signed-in user joins the organization in the invited role, once, before the invitation
     * expires, and only if their account's email is the one invited (whatever its case).
     */
    async accept(scope: AccountsScope, input: { token: string }): Promise<AcceptInvitationPayload> {
      const userId = signedInUserId(scope.caller);
      const refused = (message: string, code: UserError['code']): AcceptInvitationPayload => ({
        membership: null,
        userErrors: [userError(['input', 'token'], message, code)],
      });
      const token = input.token.trim();
      if (!looksLikeToken(token)) return refused('This is not an invitation token.', 'INVALID');

      const alreadyMember = () => refused('You are already a member of this organization.', 'CONFLICT');
      const accepting = storage.transaction(async (tx, client): Promise<AcceptInvitationPayload> => {
        const invitation = await tx.invitationByTokenHashForUpdate(digest(token));
        if (!invitation) return refused('This invitation does not exist.', 'NOT_FOUND');
        if (invitation.acceptedAt) return refused('This invitation has already been used.', 'CONFLICT');
        if (invitation.revokedAt) return refused('This invitation was revoked.', 'CONFLICT');
        if (invitation.expiresAt.getTime() <= Date.now()) {
          return refused('This invitation has expired; ask for a new one.', 'CONFLICT');
        }
        const email = (await tx.userById(userId))?.email;
        if (email?.toLowerCase() !== invitation.email.toLowerCase()) {
          return refused(
            'This invitation was sent to another email address: sign in with that account to accept it.',
            'FORBIDDEN',
          );
        }
        if (await tx.membership(invitation.organizationId, userId)) return alreadyMember();
        const membership = await tx.insertMembership(invitation.organizationId, userId, invitation.role);
        await tx.markInvitation(invitation.id, { acceptedAt: new Date() });
        await outbox.emit(client, {
          type: 'member.added',
          organizationId: invitation.organizationId,
          actor: scope.caller,
          subjects: { userId, invitationId: invitation.id },
          payload: { userId, role: invitation.role, email },
        });
        return { membership, userErrors: [] };
      });
      // Two invitations to one organization accepted at the same moment: the second insert loses.
      const result = await accepting.catch((error: unknown) => {
        if (isUniqueViolation(error, 'memberships_organization_id_user_id_pk')) return alreadyMember();
        throw error;
      });
      if (result.membership) {
        outbox.wake();
        access.noteOwnRoleChange(scope, result.membership.organizationId, result.membership.role);
        await access.changed([userId]);
      }
      return result;
    },
  };
}

export type InvitationsService = ReturnType<typeof createInvitationsService>;
