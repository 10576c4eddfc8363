import { type UserError, userError } from '../../../common/errors';
import type { AccountsContext } from '../../context';
import { looksLikeToken } from '../secrets';
import { REVOKED_BY } from '../store';
import {
  accessChanged,
  callerIp,
  refusedSession,
  type SessionPayload,
  sessionPayload,
  viewerId,
} from './shared';

export const REFRESH_TOKEN_INVALID = userError(
  ['input', 'refreshToken'],
  'This refresh token is not valid or has expired; sign in again.',
  'INVALID',
);

export const REFRESH_TOKEN_REUSED = userError(
  ['input', 'refreshToken'],
  'This refresh token was already used, so the session has been ended in case it was stolen; sign in again.',
  'INVALID',
);

/**
 * A new access token and a new refresh token for the session of `refreshToken`, which is
 * spent. A spent token presented again ends the session (and tells the gateways at once).
 */
export async function refreshSession(
  ctx: AccountsContext,
  input: { refreshToken: string },
): Promise<SessionPayload> {
  const token = input.refreshToken.trim();
  if (!looksLikeToken(token)) return refusedSession([REFRESH_TOKEN_INVALID]);
  const outcome = await ctx.identity.store.rotateRefreshToken(token, callerIp(ctx), ctx.identity.lifetimes);
  switch (outcome.kind) {
    case 'invalid':
      return refusedSession([REFRESH_TOKEN_INVALID]);
    case 'reused':
      ctx.logger.warn({ userId: outcome.userId }, 'refresh token reused: session revoked');
      await accessChanged(ctx, outcome.userId);
      return refusedSession([REFRESH_TOKEN_REUSED]);
    case 'refreshed': {
      const user = await ctx.identity.store.userById(outcome.session.userId);
      if (!user) return refusedSession([REFRESH_TOKEN_INVALID]);
      return sessionPayload(ctx, user, outcome.session);
    }
  }
}

export interface LogOutPayload {
  success: boolean;
  userErrors: UserError[];
}

/** Ends the caller's current session: its refresh token stops working, and its access token too. */
export async function logOut(ctx: AccountsContext): Promise<LogOutPayload> {
  if (ctx.caller.kind !== 'user') throw new Error('logOut called for an anonymous caller');
  const { userId, sessionId } = ctx.caller;
  await ctx.identity.store.revokeSession(userId, sessionId, REVOKED_BY.logOut);
  await accessChanged(ctx, userId);
  return { success: true, userErrors: [] };
}

export interface RevokeSessionPayload {
  revokedSessionId: string | null;
  userErrors: UserError[];
}

/** Ends one of the caller's own sessions (another device, or this one). */
export async function revokeSession(
  ctx: AccountsContext,
  input: { sessionId: string },
): Promise<RevokeSessionPayload> {
  const userId = viewerId(ctx);
  if (!(await ctx.identity.store.revokeSession(userId, input.sessionId, REVOKED_BY.user))) {
    return {
      revokedSessionId: null,
      userErrors: [
        userError(['input', 'sessionId'], 'You have no active session with this ID.', 'NOT_FOUND'),
      ],
    };
  }
  await accessChanged(ctx, userId);
  return { revokedSessionId: input.sessionId, userErrors: [] };
}
