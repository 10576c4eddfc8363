import DataLoader from 'dataloader';
import { and, asc, eq, gt, inArray, isNotNull, isNull, lt, or, sql } from 'drizzle-orm';
import type pg from 'pg';
import {
  type InvitationRow,
  invitations,
  type MembershipRow,
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
} from '../../db/accounts/schema';
import { newId } from '../../db/ids';
import type { Role } from '../common/caller';
import type { Scope } from '../common/context';
import { byId } from '../common/loaders';
import { keyset, type PageQuery } from '../common/pagination';
import { createStorage, type Database } from '../common/storage';
import { digest, randomToken } from './identity/secrets';
import { slugCandidate } from './identity/slugs';

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

/** A membership as a page item: `id` is its sort key in that list (user ID or organization ID). */
export type MembershipItem = MembershipRow & { id: string };

/** How many personal-organization slugs to try before giving up (collisions are rare). */
const SLUG_ATTEMPTS = 10;

/**
 * Everything accounts reads and writes in its own database. The queries that write several
 * rows which must stand or fall together say so: call them inside `transaction`.
 */
function queries(db: Database) {
  async function insertRefreshToken(
    sessionId: string,
    sessionExpiresAt: Date,
    lifetimes: SessionLifetimes,
  ): Promise<{ token: string; expiresAt: Date }> {
    const token = randomToken();
    const expiresAt = new Date(Math.min(Date.now() + lifetimes.refreshMs, sessionExpiresAt.getTime()));
    await db.insert(refreshTokens).values({ tokenHash: digest(token), sessionId, expiresAt });
    return { token, expiresAt };
  }

  async function openSession(
    userId: string,
    client: SessionClient,
    lifetimes: SessionLifetimes,
  ): Promise<IssuedSession> {
    const sessionId = newId('ses');
    const sessionExpiresAt = new Date(Date.now() + lifetimes.sessionMs);
    await db.insert(sessions).values({ id: sessionId, userId, ...client, expiresAt: sessionExpiresAt });
    const refresh = await insertRefreshToken(sessionId, sessionExpiresAt, lifetimes);
    return {
      userId,
      sessionId,
      sessionExpiresAt,
      refreshToken: refresh.token,
      refreshTokenExpiresAt: refresh.expiresAt,
    };
  }

  async function revokeAll(userId: string, reason: string): Promise<number> {
    const revoked = await db
      .update(sessions)
      .set({ revokedAt: new Date(), revokedReason: reason })
      .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt)))
      .returning({ id: sessions.id });
    return revoked.length;
  }

  return {
    // Users and sign-in.

    async usersByIds(ids: readonly string[]): Promise<UserRow[]> {
      return db
        .select()
        .from(users)
        .where(inArray(users.id, [...ids]));
    },

    async userByEmail(email: string): Promise<UserRow | undefined> {
      const [row] = await db.select().from(users).where(sql`lower(${users.email}) = lower(${email})`);
      return row;
    },

    async userById(id: string): Promise<UserRow | undefined> {
      const [row] = await db.select().from(users).where(eq(users.id, id));
      return row;
    },

    /**
     * A new account (inside `transaction`): the user, their personal organization (slug made
     * unique with a suffix when taken) with them as OWNER, and a first session. Throws the
     * database's unique violation (`users_email_lower_key`) when the email is taken.
     */
    async createAccount(
      values: { email: string; name: string; passwordHash: string; slugBase: string; client: SessionClient },
      lifetimes: SessionLifetimes,
    ): Promise<{ user: UserRow; organization: OrganizationRow; session: IssuedSession }> {
      const [user] = await db
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
        [organization] = await db
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
      await db
        .insert(memberships)
        .values({ organizationId: organization.id, userId: user!.id, role: 'OWNER' });
      const session = await openSession(user!.id, values.client, lifetimes);
      return { user: user!, organization, session };
    },

    /** Replaces a hash with a stronger one, unless the password changed meanwhile. */
    async rehashPassword(userId: string, oldHash: string, newHash: string): Promise<void> {
      await db
        .update(users)
        .set({ passwordHash: newHash, updatedAt: new Date() })
        .where(and(eq(users.id, userId), eq(users.passwordHash, oldHash)));
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

    // Sessions.

    openSession,

    /** Whether the session stands: the user's own, not revoked, not past its absolute end. */
    async sessionIsActive(userId: string, sessionId: string): Promise<boolean> {
      const [row] = await db
        .select({ id: sessions.id })
        .from(sessions)
        .where(
          and(
            eq(sessions.id, sessionId),
            eq(sessions.userId, userId),
            isNull(sessions.revokedAt),
            gt(sessions.expiresAt, new Date()),
          ),
        );
      return row !== undefined;
    },

    /**
     * Rotates a refresh token (inside `transaction`): the presented one is marked used and a new
     * one issued, with the session locked (two refreshes of one session take turns). A token
     * presented a second time revokes its session: either its holder or a thief has the newer one.
     */
    async rotateRefreshToken(
      token: string,
      ip: string | null,
      lifetimes: SessionLifetimes,
    ): Promise<RefreshOutcome> {
      const [found] = await db
        .select({ token: refreshTokens, session: sessions })
        .from(refreshTokens)
        .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
        .where(eq(refreshTokens.tokenHash, digest(token)))
        .for('update');
      if (!found) return { kind: 'invalid' };
      const { session } = found;
      const now = new Date();
      if (session.revokedAt || session.expiresAt <= now) return { kind: 'invalid' };
      if (found.token.usedAt) {
        await db
          .update(sessions)
          .set({ revokedAt: now, revokedReason: REVOKED_BY.reuse })
          .where(eq(sessions.id, session.id));
        return { kind: 'reused', userId: session.userId };
      }
      if (found.token.expiresAt <= now) return { kind: 'invalid' };
      await db
        .update(refreshTokens)
        .set({ usedAt: now })
        .where(eq(refreshTokens.tokenHash, found.token.tokenHash));
      await db
        .update(sessions)
        .set({ lastUsedAt: now, ...(ip ? { ip } : {}) })
        .where(eq(sessions.id, session.id));
      const refresh = await insertRefreshToken(session.id, session.expiresAt, lifetimes);
      return {
        kind: 'refreshed',
        session: {
          userId: session.userId,
          sessionId: session.id,
          sessionExpiresAt: session.expiresAt,
          refreshToken: refresh.token,
          refreshTokenExpiresAt: refresh.expiresAt,
        },
      };
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
      const { where, order } = keyset(sessions.id, page);
      return db
        .select()
        .from(sessions)
        .where(
          and(
            eq(sessions.userId, userId),
            isNull(sessions.revokedAt),
            gt(sessions.expiresAt, new Date()),
            where,
          ),
        )
        .orderBy(order)
        .limit(page.limit);
    },

    // Password reset.

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
     * Uses a reset token (inside `transaction`): sets the password, spends every outstanding
     * reset token of the user, and revokes all their sessions. Null if the token was spent meanwhile.
     */
    async resetPassword(tokenHash: string, passwordHash: string): Promise<{ userId: string } | null> {
      const now = new Date();
      const [token] = await db
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
      await db.update(users).set({ passwordHash, updatedAt: now }).where(eq(users.id, token.userId));
      await db
        .update(passwordResetTokens)
        .set({ usedAt: now })
        .where(and(eq(passwordResetTokens.userId, token.userId), isNull(passwordResetTokens.usedAt)));
      await revokeAll(token.userId, REVOKED_BY.passwordReset);
      return { userId: token.userId };
    },

    // Two-factor.

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
     * Turns two-factor on (inside `transaction`) with the pending secret the code was checked
     * against, records the code's step, and replaces the recovery codes. False if the secret
     * changed meanwhile.
     */
    async enableTotp(
      userId: string,
      encryptedSecret: string,
      step: number,
      codeHashes: string[],
    ): Promise<boolean> {
      const updated = await db
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
      await db.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
      await db
        .insert(recoveryCodes)
        .values(codeHashes.map((codeHash) => ({ id: newId('rec'), userId, codeHash })));
      return true;
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

    /** Turns two-factor off and deletes the recovery codes (inside `transaction`). */
    async disableTotp(userId: string): Promise<void> {
      await db
        .update(users)
        .set({ totpSecret: null, totpEnabledAt: null, updatedAt: new Date() })
        .where(eq(users.id, userId));
      await db.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
    },

    // Organizations.

    async organizationsByIds(ids: readonly string[]): Promise<OrganizationRow[]> {
      return db
        .select()
        .from(organizations)
        .where(inArray(organizations.id, [...ids]));
    },

    async organizationById(id: string): Promise<OrganizationRow | undefined> {
      const [row] = await db.select().from(organizations).where(eq(organizations.id, id));
      return row;
    },

    async organizationBySlug(slug: string): Promise<OrganizationRow | undefined> {
      const [row] = await db.select().from(organizations).where(eq(organizations.slug, slug));
      return row;
    },

    /** Organizations among `ids`, in ID order: the caller's own, by the gateway's view. */
    async organizationsAmong(ids: string[], page: PageQuery): Promise<OrganizationRow[]> {
      if (ids.length === 0) return [];
      const { where, order } = keyset(organizations.id, page);
      return db
        .select()
        .from(organizations)
        .where(and(inArray(organizations.id, ids), where))
        .orderBy(order)
        .limit(page.limit);
    },

    /** A new organization with `ownerId` as its OWNER (inside `transaction`). */
    async insertOrganization(values: {
      name: string;
      slug: string;
      ownerId: string;
      personal?: boolean;
    }): Promise<OrganizationRow> {
      const [organization] = await db
        .insert(organizations)
        .values({
          id: newId('org'),
          name: values.name,
          slug: values.slug,
          personal: values.personal ?? false,
        })
        .returning();
      await db
        .insert(memberships)
        .values({ organizationId: organization!.id, userId: values.ownerId, role: 'OWNER' });
      return organization!;
    },

    async updateOrganization(id: string, values: { name?: string; slug?: string }): Promise<OrganizationRow> {
      if (values.name === undefined && values.slug === undefined) {
        const [row] = await db.select().from(organizations).where(eq(organizations.id, id));
        return row!;
      }
      const [row] = await db.update(organizations).set(values).where(eq(organizations.id, id)).returning();
      return row!;
    },

    /** Deletes the organization (memberships and invitations go with it); returns who was in it. */
    async deleteOrganization(id: string): Promise<string[]> {
      const members = await db
        .select({ userId: memberships.userId })
        .from(memberships)
        .where(eq(memberships.organizationId, id));
      await db.delete(organizations).where(eq(organizations.id, id));
      return members.map((m) => m.userId);
    },

    // Memberships.

    /** Every membership of a user (what the gateway vouches for). */
    async membershipsOfUser(userId: string): Promise<MembershipRow[]> {
      return db.select().from(memberships).where(eq(memberships.userId, userId));
    },

    /** An organization's members in the order of their user IDs (so of sign-up). */
    async membersPage(organizationId: string, page: PageQuery): Promise<MembershipItem[]> {
      const { where, order } = keyset(memberships.userId, page);
      const rows = await db
        .select()
        .from(memberships)
        .where(and(eq(memberships.organizationId, organizationId), where))
        .orderBy(order)
        .limit(page.limit);
      return rows.map((row) => ({ ...row, id: row.userId }));
    },

    /** A user's memberships among `organizationIds`, in organization ID order. */
    async membershipsOfUserPage(
      userId: string,
      organizationIds: string[],
      page: PageQuery,
    ): Promise<MembershipItem[]> {
      if (organizationIds.length === 0) return [];
      const { where, order } = keyset(memberships.organizationId, page);
      const rows = await db
        .select()
        .from(memberships)
        .where(
          and(eq(memberships.userId, userId), inArray(memberships.organizationId, organizationIds), where),
        )
        .orderBy(order)
        .limit(page.limit);
      return rows.map((row) => ({ ...row, id: row.organizationId }));
    },

    /**
     * Locks (inside `transaction`), in user ID order (one order for every transaction, so no
     * deadlock between two), the memberships of `userIds` in the organization and those of all
     * its owners, and returns them. Whoever changes roles or members holds these locks to
     * commit, so two concurrent changes are serialized and the second one counts the owners the
     * first one left.
     */
    async lockMemberships(organizationId: string, userIds: string[]): Promise<MembershipRow[]> {
      return db
        .select()
        .from(memberships)
        .where(
          and(
            eq(memberships.organizationId, organizationId),
            or(inArray(memberships.userId, userIds), eq(memberships.role, 'OWNER')),
          ),
        )
        .orderBy(asc(memberships.userId))
        .for('update');
    },

    async membership(organizationId: string, userId: string): Promise<MembershipRow | undefined> {
      const [row] = await db
        .select()
        .from(memberships)
        .where(and(eq(memberships.organizationId, organizationId), eq(memberships.userId, userId)));
      return row;
    },

    async insertMembership(organizationId: string, userId: string, role: Role): Promise<MembershipRow> {
      const [row] = await db.insert(memberships).values({ organizationId, userId, role }).returning();
      return row!;
    },

    async setRole(organizationId: string, userId: string, role: Role): Promise<MembershipRow> {
      const [row] = await db
        .update(memberships)
        .set({ role })
        .where(and(eq(memberships.organizationId, organizationId), eq(memberships.userId, userId)))
        .returning();
      return row!;
    },

    async deleteMembership(organizationId: string, userId: string): Promise<void> {
      await db
        .delete(memberships)
        .where(and(eq(memberships.organizationId, organizationId), eq(memberships.userId, userId)));
    },

    // Invitations.

    /** Invitations still waiting for an answer: neither accepted, revoked nor expired. */
    async pendingInvitationsPage(organizationId: string, page: PageQuery): Promise<InvitationRow[]> {
      const { where, order } = keyset(invitations.id, page);
      return db
        .select()
        .from(invitations)
        .where(
          and(
            eq(invitations.organizationId, organizationId),
            isNull(invitations.acceptedAt),
            isNull(invitations.revokedAt),
            gt(invitations.expiresAt, new Date()),
            where,
          ),
        )
        .orderBy(order)
        .limit(page.limit);
    },

    /** Whether a user with this email (whatever its case) belongs to the organization. */
    async emailIsMember(organizationId: string, email: string): Promise<boolean> {
      const [row] = await db
        .select({ userId: memberships.userId })
        .from(memberships)
        .innerJoin(users, eq(users.id, memberships.userId))
        .where(and(eq(memberships.organizationId, organizationId), sql`lower(${users.email}) = ${email}`));
      return row !== undefined;
    },

    /** Revokes the invitations to this email still pending in the organization (a new one replaces them). */
    async revokePendingInvitations(organizationId: string, email: string): Promise<void> {
      await db
        .update(invitations)
        .set({ revokedAt: new Date() })
        .where(
          and(
            eq(invitations.organizationId, organizationId),
            eq(invitations.email, email),
            isNull(invitations.acceptedAt),
            isNull(invitations.revokedAt),
          ),
        );
    },

    async insertInvitation(values: {
      organizationId: string;
      email: string;
      role: Role;
      tokenHash: string;
      invitedBy: string;
      expiresAt: Date;
    }): Promise<InvitationRow> {
      const [row] = await db
        .insert(invitations)
        .values({ id: newId('inv'), ...values })
        .returning();
      return row!;
    },

    /** The invitation, locked for the rest of the transaction. */
    async invitationForUpdate(id: string): Promise<InvitationRow | undefined> {
      const [row] = await db.select().from(invitations).where(eq(invitations.id, id)).for('update');
      return row;
    },

    /** The invitation of an emailed token, locked for the rest of the transaction. */
    async invitationByTokenHashForUpdate(tokenHash: string): Promise<InvitationRow | undefined> {
      const [row] = await db
        .select()
        .from(invitations)
        .where(eq(invitations.tokenHash, tokenHash))
        .for('update');
      return row;
    },

    async markInvitation(
      id: string,
      change: { acceptedAt: Date } | { revokedAt: Date },
    ): Promise<InvitationRow> {
      const [row] = await db.update(invitations).set(change).where(eq(invitations.id, id)).returning();
      return row!;
    },
  };
}

export type AccountsQueries = ReturnType<typeof queries>;

/**
 * Accounts' storage. Its transactions lock memberships and invitations that concurrent changes
 * lock too: a deadlock or serialization failure is run again (the kit's `retryConflicts`).
 */
export const createAccountsStorage = (pool: pg.Pool) =>
  createStorage(pool, queries, { retryConflicts: true });

export type AccountsStorage = ReturnType<typeof createAccountsStorage>;

/** Per-request batching: one query per type however many entities the gateway asks for. */
export function createAccountsLoaders(storage: AccountsStorage) {
  return {
    organization: new DataLoader<string, OrganizationRow | null>(async (ids) =>
      byId(ids, await storage.organizationsByIds(ids)),
    ),
    user: new DataLoader<string, UserRow | null>(async (ids) => byId(ids, await storage.usersByIds(ids))),
    /** The organizations a user belongs to (who may read their email). */
    organizationsOfUser: new DataLoader<string, string[]>(async (userIds) => {
      const byUser = await storage.organizationIdsOfUsers(userIds);
      return userIds.map((id) => byUser.get(id) ?? []);
    }),
  };
}

export type AccountsLoaders = ReturnType<typeof createAccountsLoaders>;

/** What accounts' service methods take first: the caller and this operation's loaders. */
export type AccountsScope = Scope<AccountsLoaders>;
