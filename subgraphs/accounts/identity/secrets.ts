import { createHash, randomBytes, randomInt } from 'node:crypto';

/**
 * Random secrets handed to clients (refresh tokens, password reset tokens, recovery codes)
 * and how they are kept: only a SHA-256 digest is stored. The secrets carry 80 to 256 random
 * bits, so a fast hash is enough (a slow one protects guessable secrets such as passwords).
 */

/** 256 random bits, base64url (43 characters). */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The SHA-256 digest a secret is stored and looked up by, as hex. */
export function digest(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** What a token we gave out looks like: anything else is refused without a lookup. */
export function looksLikeToken(value: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(value);
}

// Crockford's base32: no I, L, O or U, so a code read aloud or retyped is hard to get wrong.
const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const RECOVERY_CODE_COUNT = 10;

/** A recovery code: 16 characters of base32 (80 bits) in groups of four, `7K2M-Q9XD-4TRA-HW3E`. */
export function newRecoveryCode(): string {
  let code = '';
  for (let i = 0; i < 16; i++) code += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return code.match(/.{4}/g)!.join('-');
}

/**
 * A recovery code as typed, in the form it was hashed in: case, spaces and hyphens do not
 * matter, and the letters base32 leaves out read as the digits they look like.
 * Null if it cannot be one.
 */
export function normalizeRecoveryCode(input: string): string | null {
  const code = input.toUpperCase().replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
  return /^[0-9A-HJKMNP-TV-Z]{16}$/.test(code) ? code : null;
}
