import type { UserRow } from '../../../db/accounts/schema';
import type { Encryptor } from '../../common/encryption';
import { type UserError, userError } from '../../common/errors';
import type { AccountsSettings } from '../config';
import type { RateLimits } from '../identity/rate-limits';
import { digest, newRecoveryCode, normalizeRecoveryCode, RECOVERY_CODE_COUNT } from '../identity/secrets';
import { looksLikeTotpCode, newTotpSecret, totpUri, verifyTotp } from '../identity/totp';
import type { AccountsScope, AccountsStorage } from '../storage';
import { signedInUser } from './access';
import type { SessionsService } from './sessions';

/** The associated data a TOTP secret is encrypted with: a secret copied to another user fails. */
const secretContext = (userId: string) => `totp:${userId}`;

export interface EnrollTotpPayload {
  secret: string | null;
  otpauthUri: string | null;
  userErrors: UserError[];
}

export interface ConfirmTotpPayload {
  recoveryCodes: string[] | null;
  user: UserRow | null;
  userErrors: UserError[];
}

export interface DisableTotpPayload {
  user: UserRow | null;
  userErrors: UserError[];
}

const ALREADY_ON = userError(
  [],
  'Two-step sign-in is already on; turn it off before setting up a new authenticator.',
  'CONFLICT',
);

export interface TwoFactorDependencies {
  storage: AccountsStorage;
  /** Keeps TOTP secrets encrypted at rest. */
  encryptor: Encryptor;
  rateLimits: RateLimits;
  sessions: SessionsService;
  settings: Pick<AccountsSettings, 'TOTP_ISSUER'>;
}

/** Two-step sign-in (TOTP, RFC 6238) with recovery codes: set-up, the check at sign-in, turning it off. */
export function createTwoFactorService({
  storage,
  encryptor,
  rateLimits,
  sessions,
  settings,
}: TwoFactorDependencies) {
  async function currentUser(scope: AccountsScope): Promise<UserRow> {
    const user = await storage.userById(signedInUser(scope.caller).userId);
    if (!user) throw new Error('the signed-in user does not exist');
    return user;
  }

  /**
   * Whether `code` proves the second factor of a user with two-factor on: a TOTP code for a time
   * step later than the last one accepted (recorded atomically, so a code works once, even for
   * two requests at the same moment), or an unused recovery code (spent here).
   */
  async function check(user: UserRow, code: string): Promise<boolean> {
    if (!user.totpEnabledAt || !user.totpSecret) return false;
    const trimmed = code.replace(/\s/g, '');
    if (looksLikeTotpCode(trimmed)) {
      const secret = encryptor.decrypt(user.totpSecret, secretContext(user.id));
      const step = await verifyTotp(secret, trimmed, user.totpLastStep);
      return step !== null && (await storage.acceptTotpStep(user.id, step));
    }
    const recovery = normalizeRecoveryCode(code);
    return recovery !== null && (await storage.useRecoveryCode(user.id, digest(recovery)));
  }

  return {
    check,

    /** Whether sign-in asks this user for a code: for the user only (null for anyone else). */
    enabled(scope: AccountsScope, user: UserRow): boolean | null {
      return sessions.isSelf(scope, user.id) ? user.totpEnabledAt !== null : null;
    },

    /**
     * Starts two-factor set-up: a new secret, kept encrypted and inactive until `confirm`
     * proves the authenticator app has it. Enrolling again replaces a pending secret.
     */
    async enroll(scope: AccountsScope): Promise<EnrollTotpPayload> {
      const user = await currentUser(scope);
      if (user.totpEnabledAt) return { secret: null, otpauthUri: null, userErrors: [ALREADY_ON] };
      const secret = newTotpSecret();
      if (!(await storage.setPendingTotp(user.id, encryptor.encrypt(secret, secretContext(user.id))))) {
        return { secret: null, otpauthUri: null, userErrors: [ALREADY_ON] };
      }
      return { secret, otpauthUri: totpUri(secret, settings.TOTP_ISSUER, user.email), userErrors: [] };
    },

    /** Turns two-factor on with a code from the app, and hands out the recovery codes, once. */
    async confirm(scope: AccountsScope, input: { code: string }): Promise<ConfirmTotpPayload> {
      const user = await currentUser(scope);
      const refuse = (error: UserError) => ({ recoveryCodes: null, user: null, userErrors: [error] });
      if (user.totpEnabledAt) return refuse(ALREADY_ON);
      if (!user.totpSecret) {
        return refuse(userError([], 'Start two-step sign-in set-up with `enrollTotp` first.', 'CONFLICT'));
      }
      await rateLimits.consume('otp-user', user.id);
      const secret = encryptor.decrypt(user.totpSecret, secretContext(user.id));
      const step = await verifyTotp(secret, input.code.replace(/\s/g, ''), user.totpLastStep);
      const wrongCode = userError(
        ['input', 'code'],
        'This code is not valid; enter the current 6-digit code from your authenticator app.',
      );
      if (step === null) return refuse(wrongCode);
      const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
      const hashes = codes.map((code) => digest(normalizeRecoveryCode(code)!));
      const totpSecret = user.totpSecret;
      if (!(await storage.transaction((tx) => tx.enableTotp(user.id, totpSecret, step, hashes)))) {
        return refuse(wrongCode);
      }
      return { recoveryCodes: codes, user: (await storage.userById(user.id)) ?? null, userErrors: [] };
    },

    /** Turns two-factor off, with a current code or a recovery code; the recovery codes go too. */
    async disable(scope: AccountsScope, input: { code: string }): Promise<DisableTotpPayload> {
      const user = await currentUser(scope);
      if (!user.totpEnabledAt) {
        return { user: null, userErrors: [userError([], 'Two-step sign-in is already off.', 'CONFLICT')] };
      }
      await rateLimits.consume('otp-user', user.id);
      if (!(await check(user, input.code))) {
        return {
          user: null,
          userErrors: [
            userError(
              ['input', 'code'],
              'This code is not valid, or was used already: enter the current code from your authenticator app, or an unused recovery code.',
            ),
          ],
        };
      }
      await storage.transaction((tx) => tx.disableTotp(user.id));
      return { user: (await storage.userById(user.id)) ?? null, userErrors: [] };
    },
  };
}

export type TwoFactorService = ReturnType<typeof createTwoFactorService>;
