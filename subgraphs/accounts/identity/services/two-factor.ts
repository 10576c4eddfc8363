import type { UserRow } from '../../../../db/accounts/schema';
import { type UserError, userError } from '../../../common/errors';
import type { AccountsContext } from '../../context';
import { digest, newRecoveryCode, normalizeRecoveryCode, RECOVERY_CODE_COUNT } from '../secrets';
import { looksLikeTotpCode, newTotpSecret, totpUri, verifyTotp } from '../totp';
import { viewerId } from './shared';

/** The associated data a TOTP secret is encrypted with: a secret copied to another user fails. */
const secretContext = (userId: string) => `totp:${userId}`;

/**
 * Whether `code` proves the second factor of a user with two-factor on: a TOTP code for a time
 * step later than the last one accepted (recorded atomically, so a code works once, even for
 * two requests at the same moment), or an unused recovery code (spent here).
 */
export async function checkSecondFactor(ctx: AccountsContext, user: UserRow, code: string): Promise<boolean> {
  if (!user.totpEnabledAt || !user.totpSecret) return false;
  const trimmed = code.replace(/\s/g, '');
  if (looksLikeTotpCode(trimmed)) {
    const secret = ctx.encryptor.decrypt(user.totpSecret, secretContext(user.id));
    const step = await verifyTotp(secret, trimmed, user.totpLastStep);
    return step !== null && (await ctx.identity.store.acceptTotpStep(user.id, step));
  }
  const recovery = normalizeRecoveryCode(code);
  return recovery !== null && (await ctx.identity.store.useRecoveryCode(user.id, digest(recovery)));
}

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

async function currentUser(ctx: AccountsContext): Promise<UserRow> {
  const user = await ctx.identity.store.userById(viewerId(ctx));
  if (!user) throw new Error('the signed-in user does not exist');
  return user;
}

/**
 * Starts two-factor set-up: a new secret, kept encrypted and inactive until `confirmTotp`
 * proves the authenticator app has it. Enrolling again replaces a pending secret.
 */
export async function enrollTotp(ctx: AccountsContext): Promise<EnrollTotpPayload> {
  const user = await currentUser(ctx);
  if (user.totpEnabledAt) return { secret: null, otpauthUri: null, userErrors: [ALREADY_ON] };
  const secret = newTotpSecret();
  if (
    !(await ctx.identity.store.setPendingTotp(user.id, ctx.encryptor.encrypt(secret, secretContext(user.id))))
  ) {
    return { secret: null, otpauthUri: null, userErrors: [ALREADY_ON] };
  }
  return { secret, otpauthUri: totpUri(secret, ctx.settings.TOTP_ISSUER, user.email), userErrors: [] };
}

/** Turns two-factor on with a code from the app, and hands out the recovery codes, once. */
export async function confirmTotp(
  ctx: AccountsContext,
  input: { code: string },
): Promise<ConfirmTotpPayload> {
  const user = await currentUser(ctx);
  const refuse = (error: UserError) => ({ recoveryCodes: null, user: null, userErrors: [error] });
  if (user.totpEnabledAt) return refuse(ALREADY_ON);
  if (!user.totpSecret) {
    return refuse(userError([], 'Start two-step sign-in set-up with `enrollTotp` first.', 'CONFLICT'));
  }
  await ctx.identity.rateLimits.consume('otp-user', user.id);
  const secret = ctx.encryptor.decrypt(user.totpSecret, secretContext(user.id));
  const step = await verifyTotp(secret, input.code.replace(/\s/g, ''), user.totpLastStep);
  const wrongCode = userError(
    ['input', 'code'],
    'This code is not valid; enter the current 6-digit code from your authenticator app.',
  );
  if (step === null) return refuse(wrongCode);
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
  const hashes = codes.map((code) => digest(normalizeRecoveryCode(code)!));
  if (!(await ctx.identity.store.enableTotp(user.id, user.totpSecret, step, hashes)))
    return refuse(wrongCode);
  return { recoveryCodes: codes, user: (await ctx.identity.store.userById(user.id)) ?? null, userErrors: [] };
}

/** Turns two-factor off, with a current code or a recovery code; the recovery codes go too. */
export async function disableTotp(
  ctx: AccountsContext,
  input: { code: string },
): Promise<DisableTotpPayload> {
  const user = await currentUser(ctx);
  if (!user.totpEnabledAt) {
    return { user: null, userErrors: [userError([], 'Two-step sign-in is already off.', 'CONFLICT')] };
  }
  await ctx.identity.rateLimits.consume('otp-user', user.id);
  if (!(await checkSecondFactor(ctx, user, input.code))) {
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
  await ctx.identity.store.disableTotp(user.id);
  return { user: (await ctx.identity.store.userById(user.id)) ?? null, userErrors: [] };
}
