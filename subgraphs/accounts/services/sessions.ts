import type { SessionRow, UserRow } from '../../../db/accounts/schema';
import { type UserError, userError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import { type ConnectionArgs, keysetConnection } from '../../common/pagination';
import type { AccessTokens } from '../auth/access-tokens';
import type { AccountsSettings } from '../config';
import { looksLikeToken } from '../identity/secrets';
import {
  type AccountsScope,
  type AccountsStorage,
  type IssuedSession,
  REVOKED_BY,
  type SessionClient,
  type SessionLifetimes,
} from '../storage';
import { type AccessService, signedInUser } from './access';

const DAY_MS = 86_400_000;

/** How long sessions and their refresh tokens live, as the settings say. */
export function sessionLifetimes(settings: AccountsSettings): SessionLifetimes {
  return {
    sessionMs: settings.SESSION_TTL_DAYS * DAY_MS,
    refreshMs: settings.REFRESH_TOKEN_TTL_DAYS * DAY_MS,
  };
}

/** The caller's address as the gateway saw it (unknown callers share one bucket). */
export const callerIp = (scope: AccountsScope): string | null => scope.caller.ip ?? null;

/** Where a new session comes from, as its owner will see it in their list of sessions. */
export const clientOf = (scope: AccountsScope): SessionClient => ({
  ip: callerIp(scope),
  userAgent: scope.caller.userAgent ?? null,
});

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

export interface LogOutPayload {
  success: boolean;
  userErrors: UserError[];
}

export interface RevokeSessionPayload {
  revokedSessionId: string | null;
  userErrors: UserError[];
}

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

export interface SessionsDependencies {
  storage: AccountsStorage;
  accessTokens: AccessTokens;
  access: AccessService;
  lifetimes: SessionLifetimes;
  logger: Logger;
}

/**
 * Sessions: the tokens of a sign-in, their rotation, their end, and who the caller is for this
 * request (which may be a user it has only just signed in as).
 */
export function createSessionsService({
  storage,
  accessTokens,
  access,
  lifetimes,
  logger,
}: SessionsDependencies) {
  /**
   * Sessions opened by this very request (signUp, logIn, refreshSession), by user ID: the
   * caller was anonymous when it began, but may read the user it just signed in as.
   */
  const signedIn = new WeakMap<AccountsScope, Map<string, string>>();

  const openedHere = (scope: AccountsScope) => signedIn.get(scope) ?? new Map<string, string>();

  /**
   * The tokens of a session just opened or refreshed (the access token never outlives the
   * session); from now on this request reads `user` as its own.
   */
  async function issue(scope: AccountsScope, user: UserRow, session: IssuedSession): Promise<SessionPayload> {
    const issued = await accessTokens.issue(user.id, session.sessionId, session.sessionExpiresAt);
    signedIn.set(scope, openedHere(scope).set(user.id, session.sessionId));
    return {
      accessToken: issued.token,
      accessTokenExpiresAt: issued.expiresAt,
      refreshToken: session.refreshToken,
      refreshTokenExpiresAt: session.refreshTokenExpiresAt,
      sessionExpiresAt: session.sessionExpiresAt,
      user,
      userErrors: [],
    };
  }

  /** Whether the caller is this user (or has just signed in as them in this request). */
  function isSelf(scope: AccountsScope, userId: string): boolean {
    const { caller } = scope;
    return (caller.kind === 'user' && caller.userId === userId) || openedHere(scope).has(userId);
  }

  return {
    issue,
    isSelf,

    /** Whether this is the session of the request asking. */
    isCurrent(scope: AccountsScope, session: SessionRow): boolean {
      const { caller } = scope;
      return (
        (caller.kind === 'user' && caller.sessionId === session.id) ||
        openedHere(scope).get(session.userId) === session.id
      );
    },

    /** The user's active sessions, oldest first: for the user only (null for anyone else). */
    ofUser(scope: AccountsScope, userId: string, args: ConnectionArgs) {
      if (!isSelf(scope, userId)) return null;
      return keysetConnection(args, (page) => storage.activeSessions(userId, page));
    },

    /**
     * A new access token and a new refresh token for the session of `refreshToken`, which is
     * spent. A spent token presented again ends the session (and tells the gateways at once).
     */
    async refresh(scope: AccountsScope, input: { refreshToken: string }): Promise<SessionPayload> {
      const token = input.refreshToken.trim();
      if (!looksLikeToken(token)) return refusedSession([REFRESH_TOKEN_INVALID]);
      const outcome = await storage.transaction((tx) =>
        tx.rotateRefreshToken(token, callerIp(scope), lifetimes),
      );
      switch (outcome.kind) {
        case 'invalid':
          return refusedSession([REFRESH_TOKEN_INVALID]);
        case 'reused':
          logger.warn({ userId: outcome.userId }, 'refresh token reused: session revoked');
          await access.changed([outcome.userId]);
          return refusedSession([REFRESH_TOKEN_REUSED]);
        case 'refreshed': {
          const user = await storage.userById(outcome.session.userId);
          if (!user) return refusedSession([REFRESH_TOKEN_INVALID]);
          return issue(scope, user, outcome.session);
        }
      }
    },

    /** Ends the caller's current session: its refresh token stops working, and its access token too. */
    async logOut(scope: AccountsScope): Promise<LogOutPayload> {
      const { userId, sessionId } = signedInUser(scope.caller);
      await storage.revokeSession(userId, sessionId, REVOKED_BY.logOut);
      await access.changed([userId]);
      return { success: true, userErrors: [] };
    },

    /** Ends one of the caller's own sessions (another device, or this one). */
    async revoke(scope: AccountsScope, input: { sessionId: string }): Promise<RevokeSessionPayload> {
      const { userId } = signedInUser(scope.caller);
      if (!(await storage.revokeSession(userId, input.sessionId, REVOKED_BY.user))) {
        return {
          revokedSessionId: null,
          userErrors: [
            userError(['input', 'sessionId'], 'You have no active session with this ID.', 'NOT_FOUND'),
          ],
        };
      }
      await access.changed([userId]);
      return { revokedSessionId: input.sessionId, userErrors: [] };
    },
  };
}

export type SessionsService = ReturnType<typeof createSessionsService>;
