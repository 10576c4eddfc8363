import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { loadOrCreateSecret } from './keys';

/**
 * AES-256-GCM for secrets at rest (TOTP secrets, environment variables). The output names
 * its format version, so the scheme can change without a flag day:
 * `v1.<iv>.<tag>.<ciphertext>`, each part base64url. `context` is bound as associated data,
 * so a ciphertext copied to another row (another user, another variable) fails to decrypt.
 */
export interface Encryptor {
  encrypt(plaintext: string, context: string): string;
  decrypt(ciphertext: string, context: string): string;
}

export function createEncryptor(key: Buffer): Encryptor {
  if (key.length !== 32) throw new Error('The encryption key must be 32 bytes (base64 of 32 random bytes).');
  return {
    encrypt(plaintext, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(context));
      const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return ['v1', iv, cipher.getAuthTag(), data]
        .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
        .join('.');
    },
    decrypt(ciphertext, context) {
      const [version, iv, tag, data] = ciphertext.split('.');
      if (version !== 'v1' || !iv || !tag || data === undefined)
        throw new Error('Unknown ciphertext format.');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString(
        'utf8',
      );
    },
  };
}

/**
 * A subgraph's encryptor: the key its configuration gives (base64 of 32 bytes; production
 * requires one), else a development key made once under KEYS_DIR as `<name>`.
 */
export function subgraphEncryptor(configured: string | undefined, keysDir: string, name: string): Encryptor {
  return createEncryptor(configured ? Buffer.from(configured, 'base64') : loadOrCreateSecret(keysDir, name));
}
