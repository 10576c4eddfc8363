import type { Caller } from '../../subgraphs/common/caller';

/** Whose access changed: users (and the API keys they created), and API keys themselves. */
export interface AccessChange {
  userIds: string[];
  apiKeyIds: string[];
}

/** Whether a change concerns this caller: a user's own, or an API key's or its creator's. */
export function affects(change: AccessChange, caller: Caller): boolean {
  if (caller.kind === 'anonymous') return false;
  if (change.userIds.includes(caller.userId)) return true;
  return caller.kind === 'apiKey' && change.apiKeyIds.includes(caller.apiKeyId);
}
