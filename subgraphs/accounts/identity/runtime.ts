import DataLoader from 'dataloader';
import type pg from 'pg';
import type { Logger } from '../../common/logger';
import type { AccountsConfig } from '../config';
import { prepareDummyHash } from './passwords';
import { createRateLimits, type RateLimits } from './rate-limits';
import { createIdentityStore, type IdentityStore, type SessionLifetimes } from './store';

const DAY_MS = 86_400_000;

/** Identity's process-wide services: built once at start-up, shared by every request. */
export interface IdentityRuntime {
  store: IdentityStore;
  rateLimits: RateLimits;
  lifetimes: SessionLifetimes;
  close(): Promise<void>;
}

/** What identity adds to each request's context: the runtime and per-request loaders. */
export interface IdentityContext extends IdentityRuntime {
  /** The organizations a user belongs to, batched per request (who may read their email). */
  organizationsOfUser: DataLoader<string, string[]>;
  /**
   * Sessions opened by this very request (signUp, logIn, refreshSession), by user ID: the
   * caller was anonymous when it began, but may read the user it just signed in as.
   */
  signedIn: Map<string, string>;
}

export async function createIdentityRuntime(options: {
  pool: pg.Pool;
  settings: AccountsConfig;
  redisUrl: string | undefined;
  logger: Logger;
}): Promise<IdentityRuntime> {
  const { settings } = options;
  await prepareDummyHash();
  const rateLimits = await createRateLimits(settings, options.redisUrl, options.logger);
  return {
    store: createIdentityStore(options.pool),
    rateLimits,
    lifetimes: {
      sessionMs: settings.SESSION_TTL_DAYS * DAY_MS,
      refreshMs: settings.REFRESH_TOKEN_TTL_DAYS * DAY_MS,
    },
    close: () => rateLimits.close(),
  };
}

export function identityContext(runtime: IdentityRuntime): IdentityContext {
  return {
    ...runtime,
    organizationsOfUser: new DataLoader(async (userIds) => {
      const byUser = await runtime.store.organizationIdsOfUsers(userIds);
      return userIds.map((id) => byUser.get(id) ?? []);
    }),
    signedIn: new Map(),
  };
}
