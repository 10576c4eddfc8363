import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  API_KEY_LENGTH,
  generateApiKey,
  hashApiKey,
  isWellFormedApiKey,
  looksLikeApiKey,
} from './api-key-format';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

describe('generateApiKey', () => {
  it('makes `cst_` keys of one fixed length in base62, with the prefix and last four they show', () => {
    for (let i = 0; i < 200; i++) {
      const { secret, prefix, lastFour } = generateApiKey();
      expect(secret).toMatch(/^cst_[0-9A-Za-z]{49}$/);
      expect(secret).toHaveLength(API_KEY_LENGTH);
      expect(prefix).toMatch(/^cst_[0-9A-Za-z]{8}$/);
      expect(secret.startsWith(prefix)).toBe(true);
      expect(lastFour).toBe(secret.slice(-4));
      expect(isWellFormedApiKey(secret)).toBe(true);
    }
  });

  it('never repeats a key, and spreads over the whole alphabet (the random part is not biased)', () => {
    const secrets = Array.from({ length: 2000 }, () => generateApiKey().secret);
    expect(new Set(secrets).size).toBe(secrets.length);
    // The first random character carries the top bits, padded with zeros when the number is
    // small; the others should each see all 62 symbols over 2000 keys.
    const seen = new Set(secrets.flatMap((secret) => [...secret.slice(5, 47)]));
    expect(seen.size).toBe(62);
  });
});

describe('isWellFormedApiKey', () => {
  const { secret } = generateApiKey();

  it('refuses a key with any one character changed (the checksum catches it)', () => {
    for (let position = 4; position < secret.length; position++) {
      const original = secret[position]!;
      const replacement = ALPHABET[(ALPHABET.indexOf(original) + 1 + (position % 61)) % 62]!;
      const changed = secret.slice(0, position) + replacement + secret.slice(position + 1);
      expect(isWellFormedApiKey(changed), `changed at ${position}`).toBe(false);
    }
  });

  it('refuses two adjacent characters swapped', () => {
    let refused = 0;
    let swaps = 0;
    for (let position = 4; position < secret.length - 7; position++) {
      if (secret[position] === secret[position + 1]) continue;
      swaps++;
      const swapped =
        secret.slice(0, position) + secret[position + 1] + secret[position] + secret.slice(position + 2);
      if (!isWellFormedApiKey(swapped)) refused++;
    }
    expect(refused).toBe(swaps);
  });

  it('refuses the wrong prefix, length or alphabet, and non-strings', () => {
    expect(isWellFormedApiKey(`sk_${secret.slice(4)}`)).toBe(false);
    expect(isWellFormedApiKey(`CST_${secret.slice(4)}`)).toBe(false);
    expect(isWellFormedApiKey(secret.slice(0, -1))).toBe(false);
    expect(isWellFormedApiKey(`${secret}0`)).toBe(false);
    expect(isWellFormedApiKey(`${secret.slice(0, 10)}-${secret.slice(11)}`)).toBe(false);
    expect(isWellFormedApiKey(` ${secret}`)).toBe(false);
    expect(isWellFormedApiKey('')).toBe(false);
    expect(isWellFormedApiKey(undefined)).toBe(false);
    expect(isWellFormedApiKey(42)).toBe(false);
  });

  it('refuses a string of the right shape whose checksum does not match', () => {
    expect(isWellFormedApiKey(`cst_${'a'.repeat(49)}`)).toBe(false);
  });
});

describe('looksLikeApiKey', () => {
  it('routes `cst_` tokens to the key path and access tokens (JWTs) elsewhere', () => {
    expect(looksLikeApiKey(generateApiKey().secret)).toBe(true);
    // A malformed key still goes the key path, where it is refused as a key.
    expect(looksLikeApiKey('cst_typo')).toBe(true);
    expect(looksLikeApiKey('eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c3IifQ.c2ln')).toBe(false);
    expect(looksLikeApiKey('')).toBe(false);
  });
});

describe('hashApiKey', () => {
  it('is the SHA-256 of the key in lowercase hex, the same every time', () => {
    const { secret } = generateApiKey();
    const hash = hashApiKey(secret);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).toBe(createHash('sha256').update(secret).digest('hex'));
    expect(hashApiKey(secret)).toBe(hash);
    expect(hashApiKey(generateApiKey().secret)).not.toBe(hash);
  });
});
