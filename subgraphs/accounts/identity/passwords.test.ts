import { hash } from '@node-rs/argon2';
import { describe, expect, it } from 'vitest';
import { ARGON2_OPTIONS, hashPassword, needsRehash, passwordProblem, verifyPassword } from './passwords';

describe('the password policy', () => {
  const email = 'ada.lovelace@example.com';

  it('accepts a long, uncommon password', () => {
    expect(passwordProblem('violet-harbor-tram-42', email)).toBeNull();
    expect(passwordProblem('ünïcödé-ståys-fïne', email)).toBeNull();
  });

  it('names the length rule, counting characters rather than UTF-16 units', () => {
    expect(passwordProblem('short', email)).toBe('Use at least 10 characters.');
    expect(passwordProblem('🔑🔑🔑🔑🔑', email)).toBe('Use at least 10 characters.'); // 10 units, 5 characters
    expect(passwordProblem('a'.repeat(257), email)).toBe('Use at most 256 characters.');
    expect(passwordProblem('correct horse battery staple '.repeat(8).slice(0, 256), email)).toBeNull();
  });

  it('refuses the email address or its name part, whatever the case', () => {
    for (const password of [
      email,
      email.toUpperCase(),
      'ADA.LOVELACE',
      'my-ada.lovelace-2024',
      `x${email}x`,
    ]) {
      expect(passwordProblem(password, email), password).toMatch(/email address/);
    }
    // A short name part forbids only itself: `jo@…` must not rule out every password with "jo".
    expect(passwordProblem('enjoy-the-journey', 'jo@example.com')).toBeNull();
  });

  it('refuses common passwords, also with digits or symbols around them', () => {
    for (const password of [
      '1234567890',
      'qwertyuiop',
      'Password123!',
      '!!sunshine2024',
      'iloveyou1234',
      'Football2025',
    ]) {
      expect(passwordProblem(password, email), password).toMatch(/too common/);
    }
  });
});

describe('password hashing', () => {
  it('hashes with argon2id and the OWASP parameters, and verifies', async () => {
    const stored = await hashPassword('violet-harbor-tram-42');
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await verifyPassword(stored, 'violet-harbor-tram-42')).toBe(true);
    expect(await verifyPassword(stored, 'violet-harbor-tram-43')).toBe(false);
    expect(needsRehash(stored)).toBe(false);
  });

  it('answers false for no hash or an unreadable one, after the same work', async () => {
    expect(await verifyPassword(null, 'anything-at-all')).toBe(false);
    expect(await verifyPassword('not a hash', 'anything-at-all')).toBe(false);
  });

  it('asks for a re-hash when the stored parameters differ from today’s', async () => {
    const older = await hash('x', { ...ARGON2_OPTIONS, memoryCost: 4096 });
    expect(needsRehash(older)).toBe(true);
    expect(needsRehash('$2b$10$something-from-bcrypt')).toBe(true);
  });
});
