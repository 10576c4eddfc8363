import { describe, expect, it } from 'vitest';
import { digest, looksLikeToken, newRecoveryCode, normalizeRecoveryCode, randomToken } from './secrets';
import { personalSlugBase, slugCandidate, slugify } from './slugs';

describe('tokens and recovery codes', () => {
  it('makes 256-bit tokens and recognizes their shape only', () => {
    const token = randomToken();
    expect(looksLikeToken(token)).toBe(true);
    expect(looksLikeToken(`${token}=`)).toBe(false);
    expect(looksLikeToken('')).toBe(false);
    expect(digest(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(randomToken()).not.toBe(token);
  });

  it('reads a recovery code however it is typed', () => {
    const code = newRecoveryCode();
    expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
    const canonical = code.replace(/-/g, '');
    expect(normalizeRecoveryCode(code)).toBe(canonical);
    expect(normalizeRecoveryCode(` ${code.toLowerCase().replace(/-/g, ' ')} `)).toBe(canonical);
    expect(normalizeRecoveryCode('ABCD-EFGH-JKMN-PQRO')).toBe('ABCDEFGHJKMNPQR0'); // O reads as 0
    expect(normalizeRecoveryCode('123456')).toBeNull();
    expect(normalizeRecoveryCode('ABCD-EFGH-JKMN-PQRU')).toBeNull(); // U is not in the alphabet
  });
});

describe('personal organization slugs', () => {
  it('derives a valid slug from the name, else the email, else a default', () => {
    expect(slugify('Ada Lovelace')).toBe('ada-lovelace');
    expect(slugify('  Zoë Ñúñez — CTO ')).toBe('zoe-nunez-cto');
    expect(personalSlugBase('Ada Lovelace', 'a@x.io')).toBe('ada-lovelace');
    expect(personalSlugBase('李', 'grace.hopper@navy.mil')).toBe('grace-hopper');
    expect(personalSlugBase('李', '王@x.io')).toBe('user');
    expect(personalSlugBase('x'.repeat(80), 'a@x.io')).toHaveLength(32);
  });

  it('adds a suffix after a collision, staying within 39 characters', () => {
    expect(slugCandidate('ada', 0)).toBe('ada');
    expect(slugCandidate('ada', 1)).toMatch(/^ada-[a-z2-9]{4}$/);
    expect(slugCandidate('x'.repeat(32), 9)).toHaveLength(39);
  });
});
