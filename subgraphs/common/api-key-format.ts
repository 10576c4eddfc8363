import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * The shape of a Construct API key: `cst_` + 43 base62 characters of 32 random bytes (256 bits)
 * + a 6-character base62 CRC32 of those 43 characters. Like GitHub's `ghp_` tokens, the prefix
 * and checksum let secret scanners (and the gateway, before any lookup) tell a real key from a
 * typo or a random string offline. Shared by the developer subgraph, which makes keys, and the
 * gateway, which checks and hashes them.
 */
export const API_KEY_PREFIX = 'cst_';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const RANDOM_BYTES = 32;
/** ceil(256 / log2(62)): every 256-bit number fits, so every key has the same length. */
const RANDOM_LENGTH = 43;
/** ceil(32 / log2(62)). */
const CHECKSUM_LENGTH = 6;
export const API_KEY_LENGTH = API_KEY_PREFIX.length + RANDOM_LENGTH + CHECKSUM_LENGTH;
/** How much of the key is shown to identify it: the prefix and 8 random characters (`cst_AbCd1234`). */
const VISIBLE_LENGTH = API_KEY_PREFIX.length + 8;

const SHAPE = new RegExp(`^${API_KEY_PREFIX}[0-9A-Za-z]{${RANDOM_LENGTH + CHECKSUM_LENGTH}}$`);

function base62(value: bigint, length: number): string {
  let text = '';
  let rest = value;
  while (rest > 0n) {
    text = ALPHABET[Number(rest % 62n)] + text;
    rest /= 62n;
  }
  return text.padStart(length, ALPHABET[0]);
}

function checksum(random: string): string {
  return base62(BigInt(crc32(random)), CHECKSUM_LENGTH);
}

export interface GeneratedApiKey {
  /** The whole key: shown to its creator once, never stored. */
  secret: string;
  /** What identifies the key in lists without revealing it (`cst_AbCd1234`). */
  prefix: string;
  /** Its last four characters, as card numbers show them. */
  lastFour: string;
}

export function generateApiKey(): GeneratedApiKey {
  const random = base62(BigInt(`0x${randomBytes(RANDOM_BYTES).toString('hex')}`), RANDOM_LENGTH);
  const secret = `${API_KEY_PREFIX}${random}${checksum(random)}`;
  return { secret, prefix: secret.slice(0, VISIBLE_LENGTH), lastFour: secret.slice(-4) };
}

/** Cheap routing test for a bearer token: a key, rather than an access token (JWTs never start so). */
export function looksLikeApiKey(token: string): boolean {
  return token.startsWith(API_KEY_PREFIX);
}

/** Prefix, length, alphabet and checksum: true for every key `generateApiKey` made, and for few typos. */
export function isWellFormedApiKey(value: unknown): value is string {
  if (typeof value !== 'string' || !SHAPE.test(value)) return false;
  const random = value.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + RANDOM_LENGTH);
  return checksum(random) === value.slice(-CHECKSUM_LENGTH);
}

/**
 * What is stored and looked up instead of the key. A plain SHA-256 is enough (no salt, no slow
 * hash): the key carries 256 random bits, so there is nothing to guess, and a lookup stays one
 * indexed equality.
 */
export function hashApiKey(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
