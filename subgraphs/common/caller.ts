/**
 * Who is calling, as the gateway resolved it once per request and vouches for it to every
 * subgraph. Subgraphs authorize from this alone: they never see the client's own token.
 */
import type { ApiKeyScope, Role } from '../../db/access';
import type { Quota } from './quota';

export { type ApiKeyScope, apiKeyScopes, type Role, roles } from '../../db/access';

/** The role each scope acts with: read everything a viewer reads, deploy as a member, manage as an admin. */
export const scopeRoles: Record<ApiKeyScope, Exclude<Role, 'OWNER' | 'BILLING'>> = {
  READ_ONLY: 'VIEWER',
  DEPLOY: 'MEMBER',
  ADMIN: 'ADMIN',
};

/**
 * What a subgraph learns of the request besides who sends it: the gateway vouches for the
 * address in its credential, and forwards the client's User-Agent and rate-limit budget.
 */
export interface RequestFacts {
  /** The client's address as the gateway saw it. */
  ip?: string;
  /** The client's User-Agent (a session's owner sees it in their list of sessions). */
  userAgent?: string;
  /** The caller's request budget as the gateway counted it for this request. */
  quota?: Quota;
}

export type Caller = RequestFacts &
  (
    | { kind: 'anonymous' }
    | {
        kind: 'user';
        userId: string;
        sessionId: string;
        /** Role per organization id, as accounts knew it a moment ago. */
        memberships: Record<string, Role>;
      }
    | {
        /** A program holding an API key: it acts in one organization, for the user who created the key. */
        kind: 'apiKey';
        apiKeyId: string;
        /** The key's creator: what the key does is recorded as theirs. */
        userId: string;
        organizationId: string;
        scopes: ApiKeyScope[];
        /**
         * Its one organization, with the role the key acts with: its highest scope's role, never
         * above the creator's current role (the gateway computes it, subgraphs just check it).
         */
        memberships: Record<string, Role>;
      }
  );

export const ANONYMOUS: Caller = { kind: 'anonymous' };

/**
 * OWNER > ADMIN > MEMBER > VIEWER. BILLING sits apart: it reads and manages billing only, so it
 * satisfies no rank here except its own (billing checks ask for it by name).
 */
const rank: Record<Role, number> = { OWNER: 4, ADMIN: 3, MEMBER: 2, VIEWER: 1, BILLING: 0 };

export function hasRole(caller: Caller, organizationId: string, atLeast: Exclude<Role, 'BILLING'>): boolean {
  if (caller.kind === 'anonymous') return false;
  const role = Object.hasOwn(caller.memberships, organizationId)
    ? caller.memberships[organizationId]
    : undefined;
  return role !== undefined && role !== 'BILLING' && rank[role] >= rank[atLeast];
}

export function isMember(caller: Caller, organizationId: string): boolean {
  return caller.kind !== 'anonymous' && Object.hasOwn(caller.memberships, organizationId);
}

/** The lower of two roles (BILLING only meets itself: it grants nothing else). */
export function lowerRole(a: Role, b: Role): Role | null {
  if (a === 'BILLING' || b === 'BILLING') return a === b ? a : null;
  return rank[a] <= rank[b] ? a : b;
}

/** The role an API key with these scopes acts with, before its creator's role caps it. */
export function roleOfScopes(scopes: readonly ApiKeyScope[]): Exclude<Role, 'OWNER' | 'BILLING'> | null {
  let best: Exclude<Role, 'OWNER' | 'BILLING'> | null = null;
  for (const scope of scopes) {
    const role = scopeRoles[scope];
    if (!best || rank[role] > rank[best]) best = role;
  }
  return best;
}

/** The user a change is recorded against: the signed-in user, or the creator of the API key. */
export function actingUserId(caller: Caller): string | null {
  return caller.kind === 'anonymous' ? null : caller.userId;
}

/** Who did something, as recorded in events and audit entries. */
export interface Actor {
  kind: 'user' | 'apiKey' | 'system';
  /** The user (for an API key, its creator); null for the system. */
  userId: string | null;
  apiKeyId: string | null;
}

export const SYSTEM_ACTOR: Actor = { kind: 'system', userId: null, apiKeyId: null };

export function actorOf(caller: Caller): Actor {
  if (caller.kind === 'user') return { kind: 'user', userId: caller.userId, apiKeyId: null };
  if (caller.kind === 'apiKey') return { kind: 'apiKey', userId: caller.userId, apiKeyId: caller.apiKeyId };
  return SYSTEM_ACTOR;
}
