import { type UserError, userError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import type { AccountsSettings } from '../config';
import { emailAddress, emailKey } from '../identity/emails';
import { hashPassword, passwordProblem } from '../identity/passwords';
import type { RateLimits } from '../identity/rate-limits';
import { digest, looksLikeToken, randomToken } from '../identity/secrets';
import type { Mailer } from '../mail/mailer';
import type { AccountsScope, AccountsStorage } from '../storage';
import type { AccessService } from './access';
import { callerIp } from './sessions';

export interface PasswordResetPayload {
  success: boolean;
  userErrors: UserError[];
}

const RESET_TOKEN_INVALID = userError(
  ['input', 'token'],
  'This password reset link is not valid, was used already or has expired; ask for a new one.',
  'INVALID',
);

export interface PasswordResetDependencies {
  storage: AccountsStorage;
  rateLimits: RateLimits;
  /** None in production without SMTP_URL: the request is taken, and the failure logged. */
  mailer: Mailer | undefined;
  access: AccessService;
  settings: Pick<AccountsSettings, 'APP_URL' | 'PASSWORD_RESET_TTL_MINUTES'>;
  logger: Logger;
}

/** A forgotten password: the emailed single-use link, and the new password set with it. */
export function createPasswordResetService({
  storage,
  rateLimits,
  mailer,
  access,
  settings,
  logger,
}: PasswordResetDependencies) {
  return {
    /**
     * Emails a single-use reset link if an account uses this address. The answer, and the work
     * done before it, are the same whether or not one does: the token is made and hashed either
     * way, and the email is sent without waiting for the mail server.
     */
    async request(scope: AccountsScope, input: { email: string }): Promise<PasswordResetPayload> {
      const parsed = emailAddress.safeParse(input.email);
      if (!parsed.success) {
        return {
          success: false,
          userErrors: parsed.error.issues.map((i) => userError(['input', 'email'], i.message)),
        };
      }
      const email = parsed.data;
      await rateLimits.consume('password-reset-ip', callerIp(scope) ?? 'unknown');
      await rateLimits.consume('password-reset-email', emailKey(email));

      const user = await storage.userByEmail(email);
      const token = randomToken();
      const tokenHash = digest(token);
      const minutes = settings.PASSWORD_RESET_TTL_MINUTES;
      if (user) {
        await storage.insertPasswordResetToken(user.id, tokenHash, new Date(Date.now() + minutes * 60_000));
        const link = `${settings.APP_URL.replace(/\/+$/, '')}/reset-password?token=${token}`;
        const mail = {
          to: user.email,
          subject: 'Reset your Construct password',
          text: [
            `Hello ${user.name},`,
            '',
            'Someone, hopefully you, asked to reset the password of your Construct account.',
            `To choose a new password, open this link within ${minutes} minutes (it works once):`,
            '',
            link,
            '',
            'If you did not ask for this, ignore this email: your password stays as it is.',
          ].join('\n'),
        };
        if (mailer) {
          // Not awaited: waiting for the mail server would make known addresses answer slower.
          mailer
            .send(mail)
            .catch((error: unknown) => logger.error({ err: error }, 'password reset email not sent'));
        } else {
          logger.error('password reset requested but no mailer is configured (SMTP_URL)');
        }
      }
      return { success: true, userErrors: [] };
    },

    /**
     * Sets a new password with a reset token: the token is spent, every session of the account
     * ends (and the gateways hear of it at once), and the account's failed sign-ins are forgotten.
     */
    async reset(
      _scope: AccountsScope,
      input: { token: string; password: string },
    ): Promise<PasswordResetPayload> {
      const token = input.token.trim();
      if (!looksLikeToken(token)) return { success: false, userErrors: [RESET_TOKEN_INVALID] };
      const tokenHash = digest(token);
      const user = await storage.passwordResetTarget(tokenHash);
      if (!user) return { success: false, userErrors: [RESET_TOKEN_INVALID] };
      const problem = passwordProblem(input.password, user.email);
      if (problem) return { success: false, userErrors: [userError(['input', 'password'], problem)] };

      const passwordHash = await hashPassword(input.password);
      const reset = await storage.transaction((tx) => tx.resetPassword(tokenHash, passwordHash));
      if (!reset) return { success: false, userErrors: [RESET_TOKEN_INVALID] };
      await access.changed([reset.userId]);
      await rateLimits.reset('login-email', emailKey(user.email));
      return { success: true, userErrors: [] };
    },
  };
}

export type PasswordResetService = ReturnType<typeof createPasswordResetService>;
