import { readFileSync } from 'node:fs';
import { type Algorithm, hash, type Options, parseOptions, verify } from '@node-rs/argon2';

/**
 * Password hashing: argon2id with OWASP's minimum parameters (19 MiB of memory, 2 passes,
 * 1 lane), about 20–40 ms per hash on a server core. The parameters live in each stored PHC
 * string, so raising them here re-hashes every account at its next sign-in.
 */
// `Algorithm.Argon2id`: the package declares a const enum, which isolated modules cannot read.
const ARGON2ID = 2 as Algorithm;

export const ARGON2_OPTIONS = {
  algorithm: ARGON2ID,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
  outputLen: 32,
} as const satisfies Options;

export const PASSWORD_MIN_LENGTH = 10;
export const PASSWORD_MAX_LENGTH = 256;

export function hashPassword(password: string, options: Options = ARGON2_OPTIONS): Promise<string> {
  return hash(password, options);
}

let dummyHash: Promise<string> | undefined;

/** Makes the dummy hash ahead of the first unknown email (which would otherwise pay for it). */
export async function prepareDummyHash(): Promise<void> {
  dummyHash ??= hashPassword('construct-dummy-password-for-unknown-accounts');
  await dummyHash;
}

/**
 * Whether the password matches the stored hash. With no hash (no such account, or one without
 * a password), it verifies against a dummy hash of the same cost and answers false: an unknown
 * email costs as much time as a wrong password, so timing does not tell them apart.
 */
export async function verifyPassword(
  storedHash: string | null | undefined,
  password: string,
): Promise<boolean> {
  if (!storedHash) {
    await prepareDummyHash();
    await verify(await dummyHash!, password).catch(() => false);
    return false;
  }
  try {
    return await verify(storedHash, password);
  } catch {
    return false; // not a hash we can read: nothing matches it
  }
}

/** Whether a stored hash was made with other parameters than today's (re-hash it at sign-in). */
export function needsRehash(storedHash: string): boolean {
  try {
    const used = parseOptions(storedHash);
    return (
      used.algorithm !== ARGON2_OPTIONS.algorithm ||
      used.memoryCost !== ARGON2_OPTIONS.memoryCost ||
      used.timeCost !== ARGON2_OPTIONS.timeCost ||
      used.parallelism !== ARGON2_OPTIONS.parallelism ||
      used.outputLen !== ARGON2_OPTIONS.outputLen
    );
  } catch {
    return true;
  }
}

/**
 * Common passwords, lowercased. Shipped as a file (subgraphs/accounts/identity/common-passwords.txt):
 * the most used passwords and the words they are made of, which guessing lists try first.
 */
const commonPasswords: ReadonlySet<string> = new Set(
  readFileSync(new URL('./common-passwords.txt', import.meta.url), 'utf8')
    .split('\n')
    .map((line) => line.trim().toLowerCase())
    .filter((line) => line !== '' && !line.startsWith('#')),
);

/** The common words a password is made of once the digits and symbols around it are taken off. */
function commonCore(password: string): boolean {
  const lower = password.toLowerCase();
  if (commonPasswords.has(lower)) return true;
  // `Password123!`, `!!sunshine2024`: a common word with digits or symbols around it.
  const core = lower.replace(/^[^\p{L}]+|[^\p{L}]+$/gu, '');
  return core.length > 0 && commonPasswords.has(core);
}

/**
 * The password policy: why `password` is refused for an account with this email, or null if it
 * is acceptable. One message, naming the rule broken first.
 */
export function passwordProblem(password: string, email: string): string | null {
  const length = [...password].length; // characters, not UTF-16 units
  if (length < PASSWORD_MIN_LENGTH) return `Use at least ${PASSWORD_MIN_LENGTH} characters.`;
  if (length > PASSWORD_MAX_LENGTH) return `Use at most ${PASSWORD_MAX_LENGTH} characters.`;
  const lower = password.toLowerCase();
  const address = email.trim().toLowerCase();
  const local = address.split('@')[0] ?? '';
  // A very short local part (`jo@…`) would forbid half the dictionary; equality still counts.
  if (
    (address !== '' && lower.includes(address)) ||
    lower === local ||
    (local.length >= 4 && lower.includes(local))
  ) {
    return 'Do not use your email address or its name part in your password.';
  }
  if (commonCore(password)) {
    return 'This password is too common; choose one that is not on lists of frequently used passwords.';
  }
  return null;
}
