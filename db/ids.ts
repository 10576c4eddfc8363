import { randomBytes } from 'node:crypto';

/**
 * Opaque, prefixed, time-ordered IDs (`prj_01JD6...`): a reader knows what an ID names, and
 * sorting by ID sorts by creation, which keeps keyset pagination on the primary key.
 * 48 bits of milliseconds and 80 random bits, in Crockford base32 (26 characters).
 */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export function newId(prefix: string, now = Date.now()): string {
  let time = '';
  let ms = now;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[ms % 32] + time;
    ms = Math.floor(ms / 32);
  }
  const bytes = randomBytes(10);
  let random = '';
  // 80 bits = 16 characters of 5 bits.
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer & 31) << 8) | byte; // fewer than 5 bits are left over from the last byte
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      random += ALPHABET[(buffer >> bits) & 31];
    }
  }
  return `${prefix}_${time}${random}`;
}
