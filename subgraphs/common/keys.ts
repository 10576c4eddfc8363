import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';

/**
 * Signing keys and secrets. Production passes them in the environment; development makes
 * them once and keeps them under `.data/keys/` (mode 0600), so tokens survive a restart and
 * every local process finds the same keys. Whoever creates a file first wins: the others
 * read what it wrote.
 */
export interface SigningKeyPair {
  alg: 'EdDSA';
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The public half, as published in a JWKS. */
  publicJwk: JWK;
}

const ALG = 'EdDSA';

/** A key pair from a private JWK (JSON). */
export async function importKeyPair(privateJwkJson: string): Promise<SigningKeyPair> {
  const jwk = JSON.parse(privateJwkJson) as JWK;
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || !jwk.d) {
    throw new Error('Expected an Ed25519 private key as a JWK (kty OKP, crv Ed25519, with d).');
  }
  const { d: _private, ...publicJwk } = jwk;
  const kid = jwk.kid ?? (await calculateJwkThumbprint(publicJwk));
  return {
    alg: ALG,
    kid,
    privateKey: (await importJWK(jwk, ALG)) as CryptoKey,
    publicKey: (await importJWK(publicJwk, ALG)) as CryptoKey,
    publicJwk: { ...publicJwk, kid, alg: ALG, use: 'sig' },
  };
}

/** A public key from a public JWK (JSON). */
export async function importPublicKey(publicJwkJson: string): Promise<CryptoKey> {
  return (await importJWK(JSON.parse(publicJwkJson) as JWK, ALG)) as CryptoKey;
}

export async function loadOrCreateKeyPair(dir: string, name: string): Promise<SigningKeyPair> {
  const file = join(dir, `${name}.jwk.json`);
  const existing = readIfExists(file);
  if (existing) return importKeyPair(existing);
  const { privateKey } = await generateKeyPair(ALG, { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(privateKey);
  const { d: _private, ...publicJwk } = jwk;
  jwk.kid = await calculateJwkThumbprint(publicJwk);
  return importKeyPair(createOnce(dir, file, JSON.stringify(jwk)));
}

/** A random secret of `bytes` bytes, base64 in its file. */
export function loadOrCreateSecret(dir: string, name: string, bytes = 32): Buffer {
  const file = join(dir, `${name}.key`);
  const existing = readIfExists(file);
  if (existing) return Buffer.from(existing.trim(), 'base64');
  return Buffer.from(createOnce(dir, file, randomBytes(bytes).toString('base64')), 'base64');
}

function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Writes `content` unless the file exists; returns what the file holds either way. The content
 * is written to a private temporary file first and linked into place, so no reader ever sees a
 * half-written key.
 */
function createOnce(dir: string, file: string, content: string): string {
  // Private: the keys folder only. Its parents (`.data/`) must stay traversable, or the embedded
  // PostgreSQL, run as its own user when we are root, cannot reach its data beside them.
  mkdirSync(dirname(dir), { recursive: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temporary, content, { mode: 0o600 });
  try {
    linkSync(temporary, file);
    return content;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return readFileSync(file, 'utf8');
  } finally {
    unlinkSync(temporary);
  }
}
