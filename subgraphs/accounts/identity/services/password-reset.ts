import { type UserError, userError } from '../../../common/errors';
import type { AccountsContext } from '../../context';
import { hashPassword, passwordProblem } from '../passwords';
import { digest, looksLikeToken, randomToken } from '../secrets';
import { accessChanged, callerIp, emailAddress, emailKey } from './shared';

export interface PasswordResetPayload {
  success: boolean;
  userErrors: UserError[];
}

const RESET_TOKEN_INVALID = userError(
  ['input', 'token'],
  'This password reset link is not valid, was used already or has expired; ask for a new one.',
  'INVALID',
);

/**
 * Emails a single-use reset link if an account uses this address. The answer, and the work
 * done before it, are the same whether or not one does: the token is made and hashed either
 * way, and the email is sent without waiting for the mail server.
 */
export async function requestPasswordReset(
  ctx: AccountsContext,
  input: { email: string },
): Promise<PasswordResetPayload> {
  const parsed = emailAddress.safeParse(input.email);
  if (!parsed.success) {
    return {
      success: false,
      userErrors: parsed.error.issues.map((i) => userError(['input', 'email'], i.message)),
    };
  }
  const email = parsed.data;
  await ctx.identity.rateLimits.consume('password-reset-ip', callerIp(ctx) ?? 'unknown');
  await ctx.identity.rateLimits.consume('password-reset-email', emailKey(email));

  const user = await ctx.identity.store.userByEmail(email);
  const token = randomToken();
  const tokenHash = digest(token);
  const minutes = ctx.settings.PASSWORD_RESET_TTL_MINUTES;
  if (user) {
    await ctx.identity.store.insertPasswordResetToken(
      user.id,
      tokenHash,
      new Date(Date.now() + minutes * 60_000),
    );
    const link = `${ctx.settings.APP_URL.replace(/\/+$/, '')}/reset-password?token=${token}`;
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
    if (ctx.mailer) {
      // Not awaited: waiting for the mail server would make known addresses answer slower.
      ctx.mailer
        .send(mail)
        .catch((error: unknown) => ctx.logger.error({ err: error }, 'password reset email not sent'));
    } else {
      ctx.logger.error('password reset requested but no mailer is configured (SMTP_URL)');
    }
  }
  return { success: true, userErrors: [] };
}

/**
 * Sets a new password with a reset token: the token is spent, every session of the account
 * ends (and the gateways hear of it at once), and the account's failed sign-ins are forgotten.
 */
export async function resetPassword(
  ctx: AccountsContext,
  input: { token: string; password: string },
): Promise<PasswordResetPayload> {
  const token = input.token.trim();
  if (!looksLikeToken(token)) return { success: false, userErrors: [RESET_TOKEN_INVALID] };
  const tokenHash = digest(token);
  const user = await ctx.identity.store.passwordResetTarget(tokenHash);
  if (!user) return { success: false, userErrors: [RESET_TOKEN_INVALID] };
  const problem = passwordProblem(input.password, user.email);
  if (problem) return { success: false, userErrors: [userError(['input', 'password'], problem)] };

  const reset = await ctx.identity.store.resetPassword(tokenHash, await hashPassword(input.password));
  if (!reset) return { success: false, userErrors: [RESET_TOKEN_INVALID] };
  await accessChanged(ctx, reset.userId);
  await ctx.identity.rateLimits.reset('login-email', emailKey(user.email));
  return { success: true, userErrors: [] };
}
