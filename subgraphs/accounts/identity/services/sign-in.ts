import { z } from 'zod';
import type { UserRow } from '../../../../db/accounts/schema';
import { type UserError, userError, userErrorsFromZod } from '../../../common/errors';
import { displayName, isUniqueViolation } from '../../../common/validation';
import type { AccountsContext } from '../../context';
import { hashPassword, needsRehash, passwordProblem, verifyPassword } from '../passwords';
import { personalSlugBase } from '../slugs';
import {
  callerIp,
  clientOf,
  emailAddress,
  emailKey,
  refusedSession,
  type SessionPayload,
  sessionPayload,
} from './shared';
import { checkSecondFactor } from './two-factor';

const signUpInput = z.object({ email: emailAddress, password: z.string(), name: displayName });

/**
 * A new account: the user, their personal organization (they are its OWNER) and a first
 * session, in one transaction. Every input problem is reported at once.
 */
export async function signUp(
  ctx: AccountsContext,
  input: { email: string; password: string; name: string },
): Promise<SessionPayload> {
  await ctx.identity.rateLimits.consume('signup-ip', callerIp(ctx) ?? 'unknown');
  const parsed = signUpInput.safeParse(input);
  const errors: UserError[] = parsed.success ? [] : userErrorsFromZod(parsed.error);
  const problem = passwordProblem(input.password, input.email);
  if (problem) errors.push(userError(['input', 'password'], problem));
  // Fields in input order: email, password, name.
  const order = ['email', 'password', 'name'];
  errors.sort((a, b) => order.indexOf(a.field[1] ?? '') - order.indexOf(b.field[1] ?? ''));
  if (!parsed.success || errors.length > 0) return refusedSession(errors);

  const { email, name, password } = parsed.data;
  const passwordHash = await hashPassword(password);
  try {
    const { user, session } = await ctx.identity.store.createAccount(
      { email, name, passwordHash, slugBase: personalSlugBase(name, email), client: clientOf(ctx) },
      ctx.identity.lifetimes,
    );
    return sessionPayload(ctx, user, session);
  } catch (error) {
    if (isUniqueViolation(error, 'users_email_lower_key')) {
      return refusedSession([
        userError(
          ['input', 'email'],
          'An account already uses this email address; sign in, or reset your password.',
          'TAKEN',
        ),
      ]);
    }
    throw error;
  }
}

/**
 * The one answer to a wrong email or a wrong password, so the answer does not tell whether an
 * account exists (and both cost one password hash, so neither does the time).
 */
export const WRONG_CREDENTIALS = userError(['input', 'password'], 'Incorrect email or password.', 'INVALID');

export const OTP_REQUIRED = userError(
  ['input', 'otp'],
  'This account has two-step sign-in: enter the 6-digit code from your authenticator app, or a recovery code.',
  'INVALID',
);

export const OTP_WRONG = userError(
  ['input', 'otp'],
  'This code is not valid, or was used already: enter the current code from your authenticator app, or an unused recovery code.',
  'INVALID',
);

/**
 * Signs in with email and password, and a one-time code when two-factor is on. Rate limited per
 * client address and per account before any work; the code is asked for only once the password
 * was right, so a wrong password never learns whether the account has two-factor on.
 */
export async function logIn(
  ctx: AccountsContext,
  input: { email: string; password: string; otp?: string | null },
): Promise<SessionPayload> {
  const key = emailKey(input.email);
  await ctx.identity.rateLimits.consume('login-ip', callerIp(ctx) ?? 'unknown');
  await ctx.identity.rateLimits.consume('login-email', key);

  const user: UserRow | undefined =
    key.length > 0 && key.length <= 254 ? await ctx.identity.store.userByEmail(key) : undefined;
  const passwordHash = user?.passwordHash ?? null;
  if (!(await verifyPassword(passwordHash, input.password)) || !user || !passwordHash) {
    return refusedSession([WRONG_CREDENTIALS]);
  }

  if (user.totpEnabledAt) {
    const otp = input.otp?.trim() ?? '';
    if (otp === '') return refusedSession([OTP_REQUIRED]);
    await ctx.identity.rateLimits.consume('otp-user', user.id);
    if (!(await checkSecondFactor(ctx, user, otp))) return refusedSession([OTP_WRONG]);
  }

  if (needsRehash(passwordHash)) {
    await ctx.identity.store.rehashPassword(user.id, passwordHash, await hashPassword(input.password));
  }
  await ctx.identity.rateLimits.reset('login-email', key);
  const session = await ctx.identity.store.openSession(user.id, clientOf(ctx), ctx.identity.lifetimes);
  return sessionPayload(ctx, user, session);
}
