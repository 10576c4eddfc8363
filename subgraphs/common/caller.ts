/**
 * Who is calling, as the gateway resolved it once per request and vouches for it to every
 * subgraph. Subgraphs authorize from this alone: they never see the client's own token.
 */
export const roles = ['OWNER', 'ADMIN', 'MEMBER', 'VIEWER', 'BILLING'] as const;
export type Role = (typeof roles)[number];

export type Caller =
  | { kind: 'anonymous'; ip?: string }
  | {
      kind: 'user';
      userId: string;
      sessionId: string;
      /** Role per organization id, as accounts knew it a moment ago. */
      memberships: Record<string, Role>;
      ip?: string;
    };

export const ANONYMOUS: Caller = { kind: 'anonymous' };

/**
 * OWNER > ADMIN > MEMBER > VIEWER. BILLING sits apart: it reads and manages billing only, so it
 * satisfies no rank here except its own (billing checks ask for it by name).
 */
const rank: Record<Role, number> = { OWNER: 4, ADMIN: 3, MEMBER: 2, VIEWER: 1, BILLING: 0 };

export function hasRole(caller: Caller, organizationId: string, atLeast: Exclude<Role, 'BILLING'>): boolean {
  if (caller.kind !== 'user') return false;
  const role = Object.hasOwn(caller.memberships, organizationId)
    ? caller.memberships[organizationId]
    : undefined;
  return role !== undefined && role !== 'BILLING' && rank[role] >= rank[atLeast];
}

export function isMember(caller: Caller, organizationId: string): boolean {
  return caller.kind === 'user' && Object.hasOwn(caller.memberships, organizationId);
}
