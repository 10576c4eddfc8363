import { Redis } from 'ioredis';
import type { Logger } from './logger';

/**
 * A Redis connection for rate-limit counters (rate-limiter-flexible), shared by every replica.
 * Commands fail at once while it is disconnected (no offline queue), so no request ever waits
 * on Redis: the limiter's in-memory insurance counts meanwhile. It waits up to 3 s for the
 * first connection, or every request until then would be counted by the fallback only.
 */
export async function connectRateLimitStore(redisUrl: string, logger: Logger): Promise<Redis> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
  redis.on('error', (error) => logger.warn({ err: error }, 'rate limit store unavailable'));
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      logger.warn('rate limit store not reachable yet: counting in memory until it is');
      resolve();
    }, 3_000);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return redis;
}
