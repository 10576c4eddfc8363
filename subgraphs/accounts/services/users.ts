import type { UserRow } from '../../../db/accounts/schema';
import type { AccountsScope } from '../storage';
import type { SessionsService } from './sessions';

export interface UsersDependencies {
  sessions: SessionsService;
}

/** People: who the caller is, and what of another user they may read. */
export function createUsersService({ sessions }: UsersDependencies) {
  /**
   * Whether the caller may read this user's email: the user themself, and members of an
   * organization the user belongs to. The caller's memberships come with the request; the user's
   * are looked up once per request for all the users it shows.
   */
  async function canSeeEmail(scope: AccountsScope, userId: string): Promise<boolean> {
    if (sessions.isSelf(scope, userId)) return true;
    const { caller } = scope;
    if (caller.kind !== 'user') return false;
    const callerOrganizations = caller.memberships;
    if (Object.keys(callerOrganizations).length === 0) return false;
    const organizations = await scope.loaders.organizationsOfUser.load(userId);
    return organizations.some((id) => callerOrganizations[id] !== undefined);
  }

  return {
    /** The signed-in user; null for an anonymous caller (and for an API key, which is nobody). */
    viewer(scope: AccountsScope): Promise<UserRow | null> | null {
      return scope.caller.kind === 'user' ? scope.loaders.user.load(scope.caller.userId) : null;
    },

    /**
     * The user with this ID, if any: anyone may know a user exists by ID (a project's creator, a
     * member); what they may read of it is decided per field.
     */
    byId(scope: AccountsScope, id: string): Promise<UserRow | null> {
      return scope.loaders.user.load(id);
    },

    /** A user a membership points at: it goes with the user, so a missing one is a fault of ours. */
    async existing(scope: AccountsScope, id: string): Promise<UserRow> {
      const user = await scope.loaders.user.load(id);
      if (!user) throw new Error(`membership of a missing user ${id}`);
      return user;
    },

    /** The user's email if the caller may read it (see `canSeeEmail`), null otherwise. */
    async email(scope: AccountsScope, user: UserRow): Promise<string | null> {
      return (await canSeeEmail(scope, user.id)) ? user.email : null;
    },
  };
}

export type UsersService = ReturnType<typeof createUsersService>;
