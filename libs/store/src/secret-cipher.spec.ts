import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretCipher, loadSecretCipher } from './secret-cipher';
import { activeSecrets, rotateSigningSecrets } from './signing-secrets';

describe('SecretCipher', () => {
  const cipher = new SecretCipher(randomBytes(32));

  it('opens what it sealed, with a fresh IV each time', () => {
    const a = cipher.seal('whsec_abc', 'sub_1');
    const b = cipher.seal('whsec_abc', 'sub_1');
    expect(a).not.toBe(b);
    expect(a).not.toContain('whsec_abc');
    expect(cipher.open(a, 'sub_1')).toBe('whsec_abc');
  });

  it('refuses another context, a tampered value and another key', () => {
    const sealed = cipher.seal('secret', 'sub_1');
    expect(() => cipher.open(sealed, 'sub_2')).toThrow('does not open');
    const parts = sealed.split('.');
    parts[4] = Buffer.from('other').toString('base64url');
    expect(() => cipher.open(parts.join('.'), 'sub_1')).toThrow('does not open');
    expect(() => new SecretCipher(randomBytes(32)).open(sealed, 'sub_1')).toThrow(
      'HERALD_SECRET_KEY',
    );
    expect(() => cipher.open('plain', 'sub_1')).toThrow('not a sealed secret');
  });

  it('creates one development key file that concurrent loaders share', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'herald-key-'));
    try {
      const keyFile = join(dir, 'nested', 'secret.key');
      const [a, b] = await Promise.all([
        loadSecretCipher({ key: null, keyFile }),
        loadSecretCipher({ key: null, keyFile }),
      ]);
      expect(a.source).toBe('file');
      expect(a.cipher.keyId).toBe(b.cipher.keyId);
      expect(Buffer.from((await readFile(keyFile, 'utf8')).trim(), 'base64')).toHaveLength(32);
      expect((await stat(keyFile)).mode & 0o077).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('prefers the configured key and names the variable when a key file is bad', async () => {
    const key = randomBytes(32);
    const loaded = await loadSecretCipher({ key, keyFile: '/nonexistent/never-read' });
    expect(loaded.source).toBe('config');
    const dir = await mkdtemp(join(tmpdir(), 'herald-key-'));
    try {
      const keyFile = join(dir, 'secret.key');
      await import('node:fs/promises').then((fs) => fs.writeFile(keyFile, 'short'));
      await expect(loadSecretCipher({ key: null, keyFile })).rejects.toThrow('HERALD_SECRET_KEY');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('signing secret rotation', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');

  it('keeps the previous secret live until the grace ends, newest first', () => {
    const rotated = rotateSigningSecrets({ current: 'old', previous: null }, 'new', 60, now);
    expect(activeSecrets(rotated, now)).toEqual(['new', 'old']);
    expect(activeSecrets(rotated, now + 59_999)).toEqual(['new', 'old']);
    expect(activeSecrets(rotated, now + 60_000)).toEqual(['new']);
  });

  it('retires at once with no grace and never keeps more than two', () => {
    expect(rotateSigningSecrets({ current: 'a', previous: null }, 'b', 0, now).previous).toBeNull();
    const twice = rotateSigningSecrets(
      rotateSigningSecrets({ current: 'a', previous: null }, 'b', 60, now),
      'c',
      60,
      now,
    );
    expect(activeSecrets(twice, now)).toEqual(['c', 'b']);
  });
});
