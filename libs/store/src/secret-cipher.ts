import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SecretKeyUnavailableError, SealedSecretError } from './subscription-store.errors';
import type { SecretKeyConfig } from './secret-key.config';

const VERSION = 'v1';
const KEY_BYTES = 32;
const IV_BYTES = 12;

/**
 * Seals secrets for storage with AES-256-GCM. Each sealed value carries a fresh IV, the GCM tag
 * and a short key id, and is bound to a context (the subscription id) as additional data, so a
 * sealed blob copied onto another record does not open. Format:
 * `v1.<key id>.<iv>.<tag>.<ciphertext>` (base64url parts).
 */
export class SecretCipher {
  readonly keyId: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== KEY_BYTES) throw new SecretKeyUnavailableError('the key is not 32 bytes');
    this.keyId = createHash('sha256').update(key).digest('base64url').slice(0, 8);
  }

  seal(plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [
      VERSION,
      this.keyId,
      iv.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
      ciphertext.toString('base64url'),
    ].join('.');
  }

  open(sealed: string, context: string): string {
    const [version, keyId, iv, tag, ciphertext] = sealed.split('.');
    if (version !== VERSION || iv === undefined || tag === undefined || ciphertext === undefined) {
      throw new SealedSecretError('the stored value is not a sealed secret');
    }
    if (keyId !== this.keyId) {
      throw new SealedSecretError(
        `the secret was sealed with key ${keyId}, but this process has key ${this.keyId} (HERALD_SECRET_KEY differs between processes?)`,
        undefined,
        true,
      );
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([
        decipher.update(Buffer.from(ciphertext, 'base64url')),
        decipher.final(),
      ]).toString('utf8');
    } catch (error) {
      throw new SealedSecretError(
        'the sealed secret does not open: tampered or wrong context',
        error,
      );
    }
  }
}

/**
 * The cipher for `config`: the configured key, or the development key file (32 random bytes in
 * base64), created with mode 0600 when missing. Two processes starting at once both end up with
 * the file's one key: creation is exclusive and the loser reads the winner's.
 */
export async function loadSecretCipher(config: SecretKeyConfig): Promise<{
  cipher: SecretCipher;
  source: 'config' | 'file';
}> {
  if (config.key) return { cipher: new SecretCipher(config.key), source: 'config' };
  const file = config.keyFile;
  try {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, `${randomBytes(KEY_BYTES).toString('base64')}\n`, {
      flag: 'wx',
      mode: 0o600,
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new SecretKeyUnavailableError(`cannot create ${file}`, error);
    }
  }
  let text: string;
  try {
    text = (await readFile(file, 'utf8')).trim();
  } catch (error) {
    throw new SecretKeyUnavailableError(`cannot read ${file}`, error);
  }
  const key = Buffer.from(text, 'base64');
  if (key.length !== KEY_BYTES) {
    throw new SecretKeyUnavailableError(`${file} does not hold 32 bytes in base64`);
  }
  return { cipher: new SecretCipher(key), source: 'file' };
}
