import { z } from 'zod';
import type { UserRow } from '../../../../db/accounts/schema';
import type { UserError } from '../../../common/errors';
import type { AccountsContext } from '../../context';
import type { IssuedSession, SessionClient } from '../store';

/** An email address as typed: trimmed, bounded, well-formed (its case is kept; uniqueness ignores it). */
export const emailAddress = z
  .string()
  .trim()
  .max(254, 'Use at most 254 characters.')
  .pipe(z.email('Enter a valid email address, like ada@example.com.'));

/** The key rate limits and lookups use for an email: case and surrounding spaces do not count. */
export const emailKey = (email: string) => email.trim().toLowerCase();

/** The caller's address as the gateway saw it (unknown callers share one bucket). */
export const callerIp = (ctx: AccountsContext): string | null => ctx.caller.ip ?? null;

/** Where a new session comes from, as its owner will see it in their list of sessions. */
export const clientOf = (ctx: AccountsContext): SessionClient => ({
  ip: callerIp(ctx),
  userAgent: ctx.userAgent ?? null,
});

/**
 * Tells every gateway (and anything else caching access) that a user's sessions changed, so a
 * revoked session stops working at once instead of when a cache expires. Call it after the
 * transaction committed: a listener that looks again must see the change.
 */
export async function accessChanged(ctx: AccountsContext, userId: string): Promise<void> {
  try {
    await ctx.events.pubsub.publish('caller-access-changed', userId);
  } catch (error) {
    // At-most-once by design: the gateway's short cache bounds the damage of a lost event.
    ctx.logger.error({ err: error, userId }, 'could not publish caller-access-changed');
  }
}

/** What signUp, logIn and refreshSession answer. */
export interface SessionPayload {
  accessToken: string | null;
  accessTokenExpiresAt: Date | null;
  refreshToken: string | null;
  refreshTokenExpiresAt: Date | null;
  sessionExpiresAt: Date | null;
  user: UserRow | null;
  userErrors: UserError[];
}

export const refusedSession = (userErrors: UserError[]): SessionPayload => ({
  accessToken: null,
  accessTokenExpiresAt: null,
  refreshToken: null,
  refreshTokenExpiresAt: null,
  sessionExpiresAt: null,
  user: null,
  userErrors,
});

/** The tokens of a session just opened or refreshed; the access token never outlives the session. */
export async function sessionPayload(
  ctx: AccountsContext,
  user: UserRow,
  session: IssuedSession,
): Promise<SessionPayload> {
  const access = await ctx.accessTokens.issue(user.id, session.sessionId, session.sessionExpiresAt);
  ctx.identity.signedIn.set(user.id, session.sessionId);
  return {
    accessToken: access.token,
    accessTokenExpiresAt: access.expiresAt,
    refreshToken: session.refreshToken,
    refreshTokenExpiresAt: session.refreshTokenExpiresAt,
    sessionExpiresAt: session.sessionExpiresAt,
    user,
    userErrors: [],
  };
}

/** The signed-in caller's user ID; resolvers reach here only through the `authenticated` scope. */
export function viewerId(ctx: AccountsContext): string {
  if (ctx.caller.kind !== 'user') throw new Error('viewerId called for an anonymous caller');
  return ctx.caller.userId;
}
