import { Redis } from 'ioredis';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { testEnvironment } from '../../../test/support/environment';
import { accountsSettings } from '../config';
import { createRateLimits, humanDuration } from './rate-limits';

const logger = pino({ level: 'silent' });

async function outcome(promise: Promise<void>) {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    return (error as { extensions?: Record<string, unknown> }).extensions;
  }
}

function exercise(redisUrl: string | undefined) {
  return async () => {
    const config = accountsSettings.parse({
      RATE_LIMIT_LOGIN_PER_EMAIL: '2',
      RATE_LIMIT_LOGIN_WINDOW_SECONDS: '600',
      RATE_LIMIT_KEY_PREFIX: `test:${Math.random()}`,
    });
    const limits = await createRateLimits(config, redisUrl, logger);
    try {
      expect(await outcome(limits.consume('login-email', 'ada@example.com'))).toBe('ok');
      expect(await outcome(limits.consume('login-email', 'ada@example.com'))).toBe('ok');
      expect(await outcome(limits.consume('login-email', 'ada@example.com'))).toMatchObject({
        code: 'RATE_LIMITED',
        retryAfterSeconds: expect.any(Number),
      });
      // Other keys and other limits are counted apart.
      expect(await outcome(limits.consume('login-email', 'grace@example.com'))).toBe('ok');
      expect(await outcome(limits.consume('login-ip', 'ada@example.com'))).toBe('ok');
      await limits.reset('login-email', 'ada@example.com');
      expect(await outcome(limits.consume('login-email', 'ada@example.com'))).toBe('ok');
      if (redisUrl) {
        // Counted in Redis itself (not the in-memory fallback), under digests of the keys.
        const redis = new Redis(redisUrl);
        const keys = await redis.keys(`${config.RATE_LIMIT_KEY_PREFIX}:*`);
        await redis.quit();
        expect(keys).toHaveLength(3);
        expect(keys.join()).not.toContain('example.com');
      }
    } finally {
      await limits.close();
    }
  };
}

describe('rate limits', () => {
  it('counts in memory without Redis, and answers RATE_LIMITED with a retry-after', exercise(undefined));
  it.runIf(testEnvironment.redisUrl)(
    'counts in Redis when REDIS_URL is set',
    exercise(testEnvironment.redisUrl),
  );

  it('says when to retry in words', () => {
    expect(humanDuration(1)).toBe('1 second');
    expect(humanDuration(45)).toBe('45 seconds');
    expect(humanDuration(900)).toBe('15 minutes');
    expect(humanDuration(3600)).toBe('1 hour');
  });
});
