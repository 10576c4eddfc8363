import { describe, expect, it } from 'vitest';
import { newId } from './ids';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** The milliseconds encoded in the first 10 characters after the prefix. */
function timeOf(id: string): number {
  const body = id.slice(id.indexOf('_') + 1);
  return [...body.slice(0, 10)].reduce((ms, char) => ms * 32 + CROCKFORD.indexOf(char), 0);
}

describe('newId', () => {
  it('is the prefix, an underscore and 26 Crockford base32 characters', () => {
    for (const prefix of ['prj', 'org', 'usr']) {
      expect(newId(prefix)).toMatch(new RegExp(`^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$`));
    }
  });

  it('encodes the creation time in its first 10 characters', () => {
    const now = Date.UTC(2026, 10, 23, 19, 21, 0, 123);
    expect(timeOf(newId('prj', now))).toBe(now);
    expect(timeOf(newId('prj', 0))).toBe(0);
    expect(newId('prj', 0).slice(4, 14)).toBe('0000000000');
    expect(timeOf(newId('prj', 2 ** 48 - 1))).toBe(2 ** 48 - 1); // the last millisecond it can hold
  });

  it('sorts by creation time across milliseconds, as plain strings', () => {
    const start = Date.UTC(2026, 0, 1);
    // Neighbouring milliseconds, and steps that carry into higher digits (31→32, 1023→1024).
    const times = [0, 1, 31, 32, 33, 1023, 1024, 32 ** 3, 86_400_000, 365 * 86_400_000].map((t) => start + t);
    for (let round = 0; round < 50; round++) {
      const ids = times.map((t) => newId('prj', t));
      expect([...ids].sort()).toEqual(ids);
    }
  });

  it('is unique over 10,000 ids made in the same millisecond', () => {
    const now = Date.now();
    const ids = Array.from({ length: 10_000 }, () => newId('prj', now));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('spreads its random part over the whole alphabet in every position', () => {
    const ids = Array.from({ length: 10_000 }, () => newId('x'));
    for (let position = 12; position < 28; position++) {
      const seen = new Set(ids.map((id) => id[position]));
      expect(seen.size, `position ${position}`).toBe(32);
    }
  });
});
