import { and, asc, eq, gt, inArray, isNull, or, sql } from 'drizzle-orm';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import type pg from 'pg';
import {
  type InvitationRow,
  invitations,
  type MembershipRow,
  memberships,
  type OrganizationRow,
  organizations,
  users,
} from '../../../db/accounts/schema';
import { newId } from '../../../db/ids';
import type { Role } from '../../common/caller';
import { inTransaction } from '../../common/jobs';
import { keysetOrder, keysetRange, type PageQuery } from '../../common/pagination';

/** A membership as a page item: `id` is its sort key in that list (user ID or organization ID). */
export type MembershipItem = MembershipRow & { id: string };

/** What teams reads and writes in the accounts database. */
export function createTeamsStorage(pool: pg.Pool) {
  const db = drizzle({ client: pool });

  return {
    async organizationBySlug(slug: string): Promise<OrganizationRow | undefined> {
      const [row] = await db.select().from(organizations).where(eq(organizations.slug, slug));
      return row;
    },

    /** Organizations among `ids`, in ID order: the caller's own, by the gateway's view. */
    async organizationsAmong(ids: string[], page: PageQuery): Promise<OrganizationRow[]> {
      if (ids.length === 0) return [];
      return db
        .select()
        .from(organizations)
        .where(and(inArray(organizations.id, ids), keysetRange(organizations.id, page)))
        .orderBy(keysetOrder(organizations.id, page))
        .limit(page.limit);
    },

    /** An organization's members in the order of their user IDs (so of sign-up). */
    async membersPage(organizationId: string, page: PageQuery): Promise<MembershipItem[]> {
      const rows = await db
        .select()
        .from(memberships)
        .where(and(eq(memberships.organizationId, organizationId), keysetRange(memberships.userId, page)))
        .orderBy(keysetOrder(memberships.userId, page))
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
      const rows = await db
        .select()
        .from(memberships)
        .where(
          and(
            eq(memberships.userId, userId),
            inArray(memberships.organizationId, organizationIds),
            keysetRange(memberships.organizationId, page),
          ),
        )
        .orderBy(keysetOrder(memberships.organizationId, page))
        .limit(page.limit);
      return rows.map((row) => ({ ...row, id: row.organizationId }));
    },

    /** Invitations still waiting for an answer: neither accepted, revoked nor expired. */
    async pendingInvitationsPage(organizationId: string, page: PageQuery): Promise<InvitationRow[]> {
      return db
        .select()
        .from(invitations)
        .where(
          and(
            eq(invitations.organizationId, organizationId),
            isNull(invitations.acceptedAt),
            isNull(invitations.revokedAt),
            gt(invitations.expiresAt, new Date()),
            keysetRange(invitations.id, page),
          ),
        )
        .orderBy(keysetOrder(invitations.id, page))
        .limit(page.limit);
    },

    /**
     * Runs `work` in a transaction, retried a few times on a deadlock or serialization failure
     * (row locks taken in another order by a concurrent change): the retry sees the winner's
     * state and decides again.
     */
    async transaction<T>(work: (tx: TeamsTransaction, client: pg.PoolClient) => Promise<T>): Promise<T> {
      for (let attempt = 1; ; attempt++) {
        try {
          // On a client of its own, so the change's events join the same transaction (outbox).
          return await inTransaction(pool, (client) => work(transactionOf(drizzle({ client })), client));
        } catch (error) {
          if (attempt >= 3 || !isRetryable(error)) throw error;
        }
      }
    },
  };
}

export type TeamsStorage = ReturnType<typeof createTeamsStorage>;

type Tx = NodePgDatabase;

/** Reads and writes inside one transaction; the `…ForUpdate` reads lock what they return. */
function transactionOf(tx: Tx) {
  return {
    /**
     * Locks, in user ID order (one order for every transaction, so no deadlock between two),
     * the memberships of `userIds` in the organization and those of all its owners, and returns
     * them. Whoever changes roles or members holds these locks to commit, so two concurrent
     * changes are serialized and the second one counts the owners the first one left.
     */
    async lockMemberships(organizationId: string, userIds: string[]): Promise<MembershipRow[]> {
      return tx
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

    async organizationById(id: string): Promise<OrganizationRow | undefined> {
      const [row] = await tx.select().from(organizations).where(eq(organizations.id, id));
      return row;
    },

    async insertOrganization(values: {
      name: string;
      slug: string;
      ownerId: string;
      personal?: boolean;
    }): Promise<OrganizationRow> {
      const [organization] = await tx
        .insert(organizations)
        .values({
          id: newId('org'),
          name: values.name,
          slug: values.slug,
          personal: values.personal ?? false,
        })
        .returning();
      await tx
        .insert(memberships)
        .values({ organizationId: organization!.id, userId: values.ownerId, role: 'OWNER' });
      return organization!;
    },

    async updateOrganization(id: string, values: { name?: string; slug?: string }): Promise<OrganizationRow> {
      if (values.name === undefined && values.slug === undefined) {
        const [row] = await tx.select().from(organizations).where(eq(organizations.id, id));
        return row!;
      }
      const [row] = await tx.update(organizations).set(values).where(eq(organizations.id, id)).returning();
      return row!;
    },

    /** Deletes the organization (memberships and invitations go with it); returns who was in it. */
    async deleteOrganization(id: string): Promise<string[]> {
      const members = await tx
        .select({ userId: memberships.userId })
        .from(memberships)
        .where(eq(memberships.organizationId, id));
      await tx.delete(organizations).where(eq(organizations.id, id));
      return members.map((m) => m.userId);
    },

    async membership(organizationId: string, userId: string): Promise<MembershipRow | undefined> {
      const [row] = await tx
        .select()
        .from(memberships)
        .where(and(eq(memberships.organizationId, organizationId), eq(memberships.userId, userId)));
      return row;
    },

    async insertMembership(organizationId: string, userId: string, role: Role): Promise<MembershipRow> {
      const [row] = await tx.insert(memberships).values({ organizationId, userId, role }).returning();
      return row!;
    },

    async setRole(organizationId: string, userId: string, role: Role): Promise<MembershipRow> {
      const [row] = await tx
        .update(memberships)
        .set({ role })
        .where(and(eq(memberships.organizationId, organizationId), eq(memberships.userId, userId)))
        .returning();
      return row!;
    },

    async deleteMembership(organizationId: string, userId: string): Promise<void> {
      await tx
        .delete(memberships)
        .where(and(eq(memberships.organizationId, organizationId), eq(memberships.userId, userId)));
    },

    async userEmail(userId: string): Promise<string | undefined> {
      const [row] = await tx.select({ email: users.email }).from(users).where(eq(users.id, userId));
      return row?.email;
    },

    /** Whether a user with this email (whatever its case) belongs to the organization. */
    async emailIsMember(organizationId: string, email: string): Promise<boolean> {
      const [row] = await tx
        .select({ userId: memberships.userId })
        .from(memberships)
        .innerJoin(users, eq(users.id, memberships.userId))
        .where(and(eq(memberships.organizationId, organizationId), sql`lower(${users.email}) = ${email}`));
      return row !== undefined;
    },

    /** Revokes the invitations to this email still pending in the organization (a new one replaces them). */
    async revokePendingInvitations(organizationId: string, email: string): Promise<void> {
      await tx
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
      const [row] = await tx
        .insert(invitations)
        .values({ id: newId('inv'), ...values })
        .returning();
      return row!;
    },

    async invitationForUpdate(id: string): Promise<InvitationRow | undefined> {
      const [row] = await tx.select().from(invitations).where(eq(invitations.id, id)).for('update');
      return row;
    },

    async invitationByTokenHashForUpdate(tokenHash: string): Promise<InvitationRow | undefined> {
      const [row] = await tx
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
      const [row] = await tx.update(invitations).set(change).where(eq(invitations.id, id)).returning();
      return row!;
    },
  };
}

export type TeamsTransaction = ReturnType<typeof transactionOf>;

/** Deadlock detected, or a serialization failure: safe to run the transaction again. */
function isRetryable(error: unknown): boolean {
  const e = error as { code?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code;
  return code === '40P01' || code === '40001';
}
