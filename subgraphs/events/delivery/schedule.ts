/**
 * When a failed delivery is tried again: the configured schedule (one delay per retry), spread
 * by jitter so that a receiver's outage does not bring every retry back at the same second,
 * and pushed later by the receiver's `Retry-After` (up to a cap), never earlier.
 */
export interface RetryPolicy {
  /** Seconds before each retry; after the last one the delivery is given up. */
  schedule: number[];
  /** Fraction (0–1) each delay varies by, either way. */
  jitter: number;
  /** `Retry-After` is honoured up to this many seconds. */
  retryAfterMaxSeconds: number;
}

/**
 * Milliseconds until the next attempt after `failures` failed attempts (counted from the
 * schedule's start), or null when the schedule is exhausted.
 */
export function retryDelayMs(
  policy: RetryPolicy,
  failures: number,
  retryAfterSeconds: number | null,
  random: () => number = Math.random,
): number | null {
  const base = policy.schedule[failures - 1];
  if (base === undefined) return null;
  const spread = 1 + policy.jitter * (2 * random() - 1);
  const scheduled = base * 1000 * spread;
  if (retryAfterSeconds === null) return Math.round(scheduled);
  const asked = Math.min(retryAfterSeconds, policy.retryAfterMaxSeconds) * 1000;
  return Math.round(Math.max(scheduled, asked));
}

/** `Retry-After` as seconds from `now`: delta-seconds or an HTTP date; null if absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | null {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return null;
  if (/^\d+$/.test(text)) return Number(text);
  // An HTTP date names its weekday and month; anything numeric here is a malformed delay.
  if (!/[a-z]/i.test(text)) return null;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return null;
  return Math.max(0, (date - now) / 1000);
}
