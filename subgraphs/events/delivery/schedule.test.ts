import { describe, expect, it } from 'vitest';
import { parseRetryAfter, retryDelayMs } from './schedule';

const policy = { schedule: [5, 300, 1800], jitter: 0, retryAfterMaxSeconds: 86_400 };

describe('retryDelayMs', () => {
  it('follows the schedule, then gives up', () => {
    expect(retryDelayMs(policy, 1, null)).toBe(5_000);
    expect(retryDelayMs(policy, 2, null)).toBe(300_000);
    expect(retryDelayMs(policy, 3, null)).toBe(1_800_000);
    expect(retryDelayMs(policy, 4, null)).toBeNull();
  });

  it('spreads delays by the jitter, both ways and never further', () => {
    const jittered = { ...policy, jitter: 0.2 };
    expect(retryDelayMs(jittered, 2, null, () => 0)).toBe(240_000);
    expect(retryDelayMs(jittered, 2, null, () => 1)).toBe(360_000);
    for (let i = 0; i < 100; i++) {
      const delay = retryDelayMs(jittered, 2, null)!;
      expect(delay).toBeGreaterThanOrEqual(240_000);
      expect(delay).toBeLessThanOrEqual(360_000);
    }
  });

  it('waits for Retry-After when it is later than the schedule, up to the cap', () => {
    expect(retryDelayMs(policy, 1, 60)).toBe(60_000);
    expect(retryDelayMs(policy, 2, 60)).toBe(300_000);
    expect(retryDelayMs({ ...policy, retryAfterMaxSeconds: 3600 }, 1, 999_999)).toBe(3_600_000);
    // Retry-After never extends the schedule past its end.
    expect(retryDelayMs(policy, 4, 60)).toBeNull();
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120);
    expect(parseRetryAfter(['30'], now)).toBe(30);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:01:30 GMT', now)).toBe(90);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
  });

  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(undefined)).toBeNull();
    expect(parseRetryAfter('')).toBeNull();
    expect(parseRetryAfter('soon')).toBeNull();
    expect(parseRetryAfter('-5')).toBeNull();
  });
});
