import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from 'rate-limiter-flexible';
import { graphqlError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import { connectRateLimitStore } from '../../common/rate-limit-store';
import type { AccountsSettings } from '../config';

/**
 * Rate limits on what an attacker would repeat: sign-in (per account and per client address),
 * password reset requests, one-time code checks and sign-ups. Each resolver call spends one
 * point, so aliasing a field five times in one request is five attempts.
 *
 * With REDIS_URL, the counts live in Redis and every replica shares them; if Redis fails, each
 * replica falls back to counting in its own memory (the library's insurance limiter) rather
 * than letting everyone through or locking everyone out.
 */
export type RateLimitName =
  | 'login-email'
  | 'login-ip'
  | 'password-reset-email'
  | 'password-reset-ip'
  | 'otp-user'
  | 'signup-ip';

/** What an over-the-limit answer tells the caller. */
const messages: Record<RateLimitName, string> = {
  'login-email': 'Too many sign-in attempts for this account.',
  'login-ip': 'Too many sign-in attempts from your network.',
  'password-reset-email': 'Too many password reset requests for this address.',
  'password-reset-ip': 'Too many password reset requests from your network.',
  'otp-user': 'Too many two-factor codes tried.',
  'signup-ip': 'Too many sign-ups from your network.',
};

export interface RateLimits {
  /** Spends one point of `name` for `key`; throws RATE_LIMITED when none is left. */
  consume(name: RateLimitName, key: string): Promise<void>;
  /** Forgets the count of `key` (a successful sign-in clears the failures of its account). */
  reset(name: RateLimitName, key: string): Promise<void>;
  close(): Promise<void>;
}

/** "14 minutes", "1 hour", "30 seconds". */
export function humanDuration(seconds: number): string {
  const unit = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (seconds < 90) return unit(seconds, 'second');
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 120 && minutes % 60 !== 0) return unit(minutes, 'minute');
  return unit(Math.ceil(minutes / 60), 'hour');
}

export function rateLimited(name: RateLimitName, msBeforeNext: number) {
  const retryAfterSeconds = Math.max(1, Math.ceil(msBeforeNext / 1000));
  return graphqlError('RATE_LIMITED', `${messages[name]} Try again in ${humanDuration(retryAfterSeconds)}.`, {
    retryAfterSeconds,
    retryAt: new Date(Date.now() + retryAfterSeconds * 1000).toISOString(),
  });
}

/** Resolves once the store is ready (with Redis: connected, or given up on after a few seconds). */
export async function createRateLimits(
  config: AccountsSettings,
  redisUrl: string | undefined,
  logger: Logger,
): Promise<RateLimits> {
  const limits: Record<RateLimitName, { points: number; duration: number }> = {
    'login-email': {
      points: config.RATE_LIMIT_LOGIN_PER_EMAIL,
      duration: config.RATE_LIMIT_LOGIN_WINDOW_SECONDS,
    },
    'login-ip': { points: config.RATE_LIMIT_LOGIN_PER_IP, duration: config.RATE_LIMIT_LOGIN_WINDOW_SECONDS },
    'password-reset-email': {
      points: config.RATE_LIMIT_PASSWORD_RESET_PER_EMAIL,
      duration: config.RATE_LIMIT_PASSWORD_RESET_WINDOW_SECONDS,
    },
    'password-reset-ip': {
      points: config.RATE_LIMIT_PASSWORD_RESET_PER_IP,
      duration: config.RATE_LIMIT_PASSWORD_RESET_WINDOW_SECONDS,
    },
    'otp-user': { points: config.RATE_LIMIT_OTP_PER_USER, duration: config.RATE_LIMIT_OTP_WINDOW_SECONDS },
    'signup-ip': {
      points: config.RATE_LIMIT_SIGNUP_PER_IP,
      duration: config.RATE_LIMIT_SIGNUP_WINDOW_SECONDS,
    },
  };

  let redis: Redis | undefined;
  if (redisUrl) {
    redis = await connectRateLimitStore(redisUrl, logger);
  }
  const limiters = Object.fromEntries(
    Object.entries(limits).map(([name, { points, duration }]) => {
      const keyPrefix = `${config.RATE_LIMIT_KEY_PREFIX}:${name}`;
      const memory = new RateLimiterMemory({ points, duration, keyPrefix });
      const limiter: RateLimiterAbstract = redis
        ? new RateLimiterRedis({
            storeClient: redis,
            useRedisPackage: false,
            points,
            duration,
            keyPrefix,
            insuranceLimiter: memory,
          })
        : memory;
      return [name, limiter];
    }),
  ) as Record<RateLimitName, RateLimiterAbstract>;

  // Emails and addresses are personal data: the stores only ever see a digest of them.
  const keyOf = (key: string) => createHash('sha256').update(key).digest('base64url').slice(0, 22);

  return {
    async consume(name, key) {
      try {
        await limiters[name].consume(keyOf(key));
      } catch (error) {
        if (error instanceof RateLimiterRes) throw rateLimited(name, error.msBeforeNext);
        throw error;
      }
    },
    async reset(name, key) {
      await limiters[name].delete(keyOf(key));
    },
    async close() {
      await redis?.quit().catch(() => {});
    },
  };
}
