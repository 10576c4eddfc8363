import { and, eq, gt, inArray, isNotNull, isNull, lt, or, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import type pg from 'pg';
import {
  memberships,
  type OrganizationRow,
  organizations,
  passwordResetTokens,
  recoveryCodes,
  refreshTokens,
  type SessionRow,
  sessions,
  type UserRow,
  users,
} from '../../../db/accounts/schema';
import { newId } from '../../../db/ids';
import { keysetOrder, keysetRange, type PageQuery } from '../../common/pagination';
import { digest, randomToken } from './secrets';
import { slugCandidate } from './slugs';

type Database = ReturnType<typeof drizzle>;
type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];
type Executor = Database | Transaction;

/** A session just opened or refreshed: the refresh token is given out once, never stored. */
export interface IssuedSession {
  userId: string;
  sessionId: string;
  sessionExpiresAt: Date;
  refreshToken: string;
  refreshTokenExpiresAt: Date;
}

/** Where a session was opened from: shown to its owner in their list of sessions. */
export interface SessionClient {
  ip: string | null;
  userAgent: string | null;
}

export interface SessionLifetimes {
  /** The session's absolute lifetime. */
  sessionMs: number;
  /** A refresh token's lifetime (the idle timeout), never past the session's end. */
  refreshMs: number;
}

export type RefreshOutcome =
  | { kind: 'refreshed'; session: IssuedSession }
  | { kind: 'invalid' }
  /** A token already rotated was presented: the session is revoked, whoever holds it. */
  | { kind: 'reused'; userId: string };

export const REVOKED_BY = {
  logOut: 'log out',
  user: 'revoked by the user',
  reuse: 'refresh token reuse',
  passwordReset: 'password reset',
} as const;

/** How many personal-organization slugs to try before giving up (collisions are rare). */
const SLUG_ATTEMPTS = 10;

/** What identity reads and writes in the accounts database. */
export function createIdentityStore(pool: pg.Pool) {
  const db = drizzle({ client: pool });

  async function insertRefreshToken(
    tx: Executor,
    sessionId: string,
    sessionExpiresAt: Date,
    lifetimes: SessionLifetimes,
  ): Promise<{ token: string; expiresAt: Date }> {
    const token = randomToken();
    const expiresAt = new Date(Math.min(Date.now() + lifetimes.refreshMs, sessionExpiresAt.getTime()));
    await tx.insert(refreshTokens).values({ tokenHash: digest(token), sessionId, expiresAt });
    return { token, expiresAt };
  }

  async function openSession(
    tx: Executor,
    userId: string,
    client: SessionClient,
    lifetimes: SessionLifetimes,
  ): Promise<IssuedSession> {
    const sessionId = newId('ses');
    const sessionExpiresAt = new Date(Date.now() + lifetimes.sessionMs);
    await tx.insert(sessions).values({ id: sessionId, userId, ...client, expiresAt: sessionExpiresAt });
    const refresh = await insertRefreshToken(tx, sessionId, sessionExpiresAt, lifetimes);
    return {
      userId,
      sessionId,
      sessionExpiresAt,
      refreshToken: refresh.token,
      refreshTokenExpiresAt: refresh.expiresAt,
    };
  }

  async function revokeAll(tx: Executor, userId: string, reason: string): Promise<number> {
    const revoked = await tx
      .update(sessions)
      .set({ revokedAt: new Date(), revokedReason: reason })
      .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt)))
      .returning({ id: sessions.id });
    return revoked.length;
  }

  return {
    async userByEmail(email: string): Promise<UserRow | undefined> {
      const [row] = await db.select().from(users).where(sql`lower(${users.email}) = lower(${email})`);
      return row;
    },

    async userById(id: string): Promise<UserRow | undefined> {
      const [row] = await db.select().from(users).where(eq(users.id, id));
      return row;
    },

    /**
     * A new account, in one transaction: the user, their personal organization (slug made
     * unique with a suffix when taken) with them as OWNER, and a first session. Throws the
     * database's unique violation (`users_email_lower_key`) when the email is taken.
     */
    async createAccount(
      values: { email: string; name: string; passwordHash: string; slugBase: string; client: SessionClient },
      lifetimes: SessionLifetimes,
    ): Promise<{ user: UserRow; organization: OrganizationRow; session: IssuedSession }> {
      return db.transaction(async (tx) => {
        const [user] = await tx
          .insert(users)
          .values({
            id: newId('usr'),
            email: values.email,
            name: values.name,
            passwordHash: values.passwordHash,
          })
          .returning();
        let organization: OrganizationRow | undefined;
        for (let attempt = 0; !organization && attempt < SLUG_ATTEMPTS; attempt++) {
          [organization] = await tx
            .insert(organizations)
            .values({
              id: newId('org'),
              slug: slugCandidate(values.slugBase, attempt),
              name: values.name,
              personal: true,
            })
            .onConflictDoNothing({ target: organizations.slug })
            .returning();
        }
        if (!organization) throw new Error('No free slug for a personal organization.');
        await tx
          .insert(memberships)
          .values({ organizationId: organization.id, userId: user!.id, role: 'OWNER' });
        const session = await openSession(tx, user!.id, values.client, lifetimes);
        return { user: user!, organization, session };
      });
    },

    openSession: (userId: string, client: SessionClient, lifetimes: SessionLifetimes) =>
      openSession(db, userId, client, lifetimes),

    /**
     * Rotates a refresh token: the presented one is marked used and a new one issued, in one
     * transaction that locks the session (two refreshes of one session take turns). A token
     * presented a second time revokes its session: either its holder or a thief has the newer one.
     */
    async rotateRefreshToken(
      token: string,
      ip: string | null,
      lifetimes: SessionLifetimes,
    ): Promise<RefreshOutcome> {
      return db.transaction(async (tx) => {
        const [found] = await tx
          .select({ token: refreshTokens, session: sessions })
          .from(refreshTokens)
          .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
          .where(eq(refreshTokens.tokenHash, digest(token)))
          .for('update');
        if (!found) return { kind: 'invalid' } as const;
        const { session } = found;
        const now = new Date();
        if (session.revokedAt || session.expiresAt <= now) return { kind: 'invalid' } as const;
        if (found.token.usedAt) {
          await tx
            .update(sessions)
            .set({ revokedAt: now, revokedReason: REVOKED_BY.reuse })
            .where(eq(sessions.id, session.id));
          return { kind: 'reused', userId: session.userId } as const;
        }
        if (found.token.expiresAt <= now) return { kind: 'invalid' } as const;
        await tx
          .update(refreshTokens)
          .set({ usedAt: now })
          .where(eq(refreshTokens.tokenHash, found.token.tokenHash));
        await tx
          .update(sessions)
          .set({ lastUsedAt: now, ...(ip ? { ip } : {}) })
          .where(eq(sessions.id, session.id));
        const refresh = await insertRefreshToken(tx, session.id, session.expiresAt, lifetimes);
        return {
          kind: 'refreshed',
          session: {
            userId: session.userId,
            sessionId: session.id,
            sessionExpiresAt: session.expiresAt,
            refreshToken: refresh.token,
            refreshTokenExpiresAt: refresh.expiresAt,
          },
        } as const;
      });
    },

    /** Revokes one of the user's sessions; false if it is not theirs or already ended. */
    async revokeSession(userId: string, sessionId: string, reason: string): Promise<boolean> {
      const revoked = await db
        .update(sessions)
        .set({ revokedAt: new Date(), revokedReason: reason })
        .where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId), isNull(sessions.revokedAt)))
        .returning({ id: sessions.id });
      return revoked.length > 0;
    },

    /** The user's sessions that still stand, in creation order. */
    async activeSessions(userId: string, page: PageQuery): Promise<SessionRow[]> {
      return db
        .select()
        .from(sessions)
        .where(
          and(
            eq(sessions.userId, userId),
            isNull(sessions.revokedAt),
            gt(sessions.expiresAt, new Date()),
            keysetRange(sessions.id, page),
          ),
        )
        .orderBy(keysetOrder(sessions.id, page))
        .limit(page.limit);
    },

    /** Replaces a hash with a stronger one, unless the password changed meanwhile. */
    async rehashPassword(userId: string, oldHash: string, newHash: string): Promise<void> {
      await db
        .update(users)
        .set({ passwordHash: newHash, updatedAt: new Date() })
        .where(and(eq(users.id, userId), eq(users.passwordHash, oldHash)));
    },

    async insertPasswordResetToken(userId: string, tokenHash: string, expiresAt: Date): Promise<void> {
      await db.insert(passwordResetTokens).values({ tokenHash, userId, expiresAt });
    },

    /** The account a reset token is for, if the token is unused and unexpired. */
    async passwordResetTarget(tokenHash: string): Promise<UserRow | undefined> {
      const [row] = await db
        .select({ user: users })
        .from(passwordResetTokens)
        .innerJoin(users, eq(users.id, passwordResetTokens.userId))
        .where(
          and(
            eq(passwordResetTokens.tokenHash, tokenHash),
            isNull(passwordResetTokens.usedAt),
            gt(passwordResetTokens.expiresAt, new Date()),
          ),
        );
      return row?.user;
    },

    /**
     * Uses a reset token, in one transaction: sets the password, spends every outstanding reset
     * token of the user, and revokes all their sessions. Null if the token was spent meanwhile.
     */
    async resetPassword(tokenHash: string, passwordHash: string): Promise<{ userId: string } | null> {
      return db.transaction(async (tx) => {
        const now = new Date();
        const [token] = await tx
          .update(passwordResetTokens)
          .set({ usedAt: now })
          .where(
            and(
              eq(passwordResetTokens.tokenHash, tokenHash),
              isNull(passwordResetTokens.usedAt),
              gt(passwordResetTokens.expiresAt, now),
            ),
          )
          .returning({ userId: passwordResetTokens.userId });
        if (!token) return null;
        await tx.update(users).set({ passwordHash, updatedAt: now }).where(eq(users.id, token.userId));
        await tx
          .update(passwordResetTokens)
          .set({ usedAt: now })
          .where(and(eq(passwordResetTokens.userId, token.userId), isNull(passwordResetTokens.usedAt)));
        await revokeAll(tx, token.userId, REVOKED_BY.passwordReset);
        return { userId: token.userId };
      });
    },

    /** Keeps a new, unconfirmed TOTP secret; false if two-factor is already on. */
    async setPendingTotp(userId: string, encryptedSecret: string): Promise<boolean> {
      const updated = await db
        .update(users)
        .set({ totpSecret: encryptedSecret, totpEnabledAt: null, totpLastStep: null, updatedAt: new Date() })
        .where(and(eq(users.id, userId), isNull(users.totpEnabledAt)))
        .returning({ id: users.id });
      return updated.length > 0;
    },

    /**
     * Turns two-factor on with the pending secret the code was checked against, records the
     * code's step, and replaces the recovery codes. False if the secret changed meanwhile.
     */
    async enableTotp(
      userId: string,
      encryptedSecret: string,
      step: number,
      codeHashes: string[],
    ): Promise<boolean> {
      return db.transaction(async (tx) => {
        const updated = await tx
          .update(users)
          .set({ totpEnabledAt: new Date(), totpLastStep: step, updatedAt: new Date() })
          .where(
            and(
              eq(users.id, userId),
              eq(users.totpSecret, encryptedSecret),
              isNull(users.totpEnabledAt),
              or(isNull(users.totpLastStep), lt(users.totpLastStep, step)),
            ),
          )
          .returning({ id: users.id });
        if (updated.length === 0) return false;
        await tx.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
        await tx
          .insert(recoveryCodes)
          .values(codeHashes.map((codeHash) => ({ id: newId('rec'), userId, codeHash })));
        return true;
      });
    },

    /** Records an accepted TOTP step; false if this step (or a later one) was accepted before. */
    async acceptTotpStep(userId: string, step: number): Promise<boolean> {
      const updated = await db
        .update(users)
        .set({ totpLastStep: step })
        .where(
          and(
            eq(users.id, userId),
            isNotNull(users.totpEnabledAt),
            or(isNull(users.totpLastStep), lt(users.totpLastStep, step)),
          ),
        )
        .returning({ id: users.id });
      return updated.length > 0;
    },

    /** Spends a recovery code; false if the user has no such unused code. */
    async useRecoveryCode(userId: string, codeHash: string): Promise<boolean> {
      const used = await db
        .update(recoveryCodes)
        .set({ usedAt: new Date() })
        .where(
          and(
            eq(recoveryCodes.userId, userId),
            eq(recoveryCodes.codeHash, codeHash),
            isNull(recoveryCodes.usedAt),
          ),
        )
        .returning({ id: recoveryCodes.id });
      return used.length > 0;
    },

    async disableTotp(userId: string): Promise<void> {
      await db.transaction(async (tx) => {
        await tx
          .update(users)
          .set({ totpSecret: null, totpEnabledAt: null, updatedAt: new Date() })
          .where(eq(users.id, userId));
        await tx.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
      });
    },

    /** The organizations each user belongs to (to decide who may read their email). */
    async organizationIdsOfUsers(userIds: readonly string[]): Promise<Map<string, string[]>> {
      const rows = await db
        .select({ userId: memberships.userId, organizationId: memberships.organizationId })
        .from(memberships)
        .where(inArray(memberships.userId, [...userIds]));
      const byUser = new Map<string, string[]>(userIds.map((id) => [id, []]));
      for (const row of rows) byUser.get(row.userId)?.push(row.organizationId);
      return byUser;
    },
  };
}

export type IdentityStore = ReturnType<typeof createIdentityStore>;
