/**
 * The platform's words for access, as databases store them and credentials carry them: one
 * list each, so a stored role and a checked role can never disagree. The kit's `caller.ts`
 * gives them their meaning.
 */
export const roles = ['OWNER', 'ADMIN', 'MEMBER', 'VIEWER', 'BILLING'] as const;
export type Role = (typeof roles)[number];

/** What an API key may do, each a ceiling on the role it acts with (see `scopeRoles`). */
export const apiKeyScopes = ['READ_ONLY', 'DEPLOY', 'ADMIN'] as const;
export type ApiKeyScope = (typeof apiKeyScopes)[number];
