import { z } from 'zod';
import type { UserRow } from '../../../db/accounts/schema';
import { type UserError, userError, userErrorsFromZod } from '../../common/errors';
import { displayName, isUniqueViolation } from '../../common/validation';
import { emailAddress, emailKey } from '../identity/emails';
import { hashPassword, needsRehash, passwordProblem, verifyPassword } from '../identity/passwords';
import type { RateLimits } from '../identity/rate-limits';
import { personalSlugBase } from '../identity/slugs';
import type { AccountsScope, AccountsStorage, SessionLifetimes } from '../storage';
import { callerIp, clientOf, refusedSession, type SessionPayload, type SessionsService } from './sessions';
import type { TwoFactorService } from './two-factor';

export interface SignUpInput {
  email: string;
  password: string;
  name: string;
}

export interface LogInInput {
  email: string;
  password: string;
  otp?: string | null;
}

const signUpRules = z.object({ email: emailAddress, name: displayName });

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

export interface SignInDependencies {
  storage: AccountsStorage;
  rateLimits: RateLimits;
  sessions: SessionsService;
  twoFactor: TwoFactorService;
  lifetimes: SessionLifetimes;
}

/** Sign-up and sign-in: how a caller becomes a user with a session. */
export function createSignInService({
  storage,
  rateLimits,
  sessions,
  twoFactor,
  lifetimes,
}: SignInDependencies) {
  return {
    /**
     * A new account: the user, their personal organization (they are its OWNER) and a first
     * session, in one transaction. Every input problem is reported at once.
     */
    async signUp(scope: AccountsScope, input: SignUpInput): Promise<SessionPayload> {
      await rateLimits.consume('signup-ip', callerIp(scope) ?? 'unknown');
      const parsed = signUpRules.safeParse(input);
      const errors: UserError[] = parsed.success ? [] : userErrorsFromZod(parsed.error);
      const problem = passwordProblem(input.password, input.email);
      if (problem) errors.push(userError(['input', 'password'], problem));
      // Fields in input order: email, password, name.
      const order = ['email', 'password', 'name'];
      errors.sort((a, b) => order.indexOf(a.field[1] ?? '') - order.indexOf(b.field[1] ?? ''));
      if (!parsed.success || errors.length > 0) return refusedSession(errors);

      const { email, name } = parsed.data;
      const passwordHash = await hashPassword(input.password);
      try {
        const { user, session } = await storage.transaction((tx) =>
          tx.createAccount(
            { email, name, passwordHash, slugBase: personalSlugBase(name, email), client: clientOf(scope) },
            lifetimes,
          ),
        );
        return sessions.issue(scope, user, session);
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
    },

    /**
     * Signs in with email and password, and a one-time code when two-factor is on. Rate limited per
     * client address and per account before any work; the code is asked for only once the password
     * was right, so a wrong password never learns whether the account has two-factor on.
     */
    async logIn(scope: AccountsScope, input: LogInInput): Promise<SessionPayload> {
      const key = emailKey(input.email);
      await rateLimits.consume('login-ip', callerIp(scope) ?? 'unknown');
      await rateLimits.consume('login-email', key);

      const user: UserRow | undefined =
        key.length > 0 && key.length <= 254 ? await storage.userByEmail(key) : undefined;
      const passwordHash = user?.passwordHash ?? null;
      if (!(await verifyPassword(passwordHash, input.password)) || !user || !passwordHash) {
        return refusedSession([WRONG_CREDENTIALS]);
      }

      if (user.totpEnabledAt) {
        const otp = input.otp?.trim() ?? '';
        if (otp === '') return refusedSession([OTP_REQUIRED]);
        await rateLimits.consume('otp-user', user.id);
        if (!(await twoFactor.check(user, otp))) return refusedSession([OTP_WRONG]);
      }

      if (needsRehash(passwordHash)) {
        await storage.rehashPassword(user.id, passwordHash, await hashPassword(input.password));
      }
      await rateLimits.reset('login-email', key);
      const session = await storage.openSession(user.id, clientOf(scope), lifetimes);
      return sessions.issue(scope, user, session);
    },
  };
}

export type SignInService = ReturnType<typeof createSignInService>;
