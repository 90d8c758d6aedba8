import { configFragment } from '@herald/config';
import { z } from 'zod';

const secretKey = z
  .string()
  .optional()
  .refine(
    (value) =>
      value === undefined ||
      (/^[A-Za-z0-9+/]+={0,2}$/.test(value) && Buffer.from(value, 'base64').length === 32),
    'not 32 bytes in base64',
  )
  .describe('32 random bytes in base64, e.g. the output of `openssl rand -base64 32`');

/**
 * The key that encrypts subscription secrets at rest. `HERALD_SECRET_KEY` in production; when it
 * is unset (development), a key kept in `HERALD_SECRET_KEY_FILE` (default `.data/secret.key`,
 * created on first use) so every process started from the same folder shares it.
 */
export const secretKeyConfig = configFragment(
  {
    HERALD_SECRET_KEY: secretKey,
    HERALD_SECRET_KEY_FILE: z
      .string()
      .min(1)
      .default('.data/secret.key')
      .describe('a file path for the development secret key (default .data/secret.key)'),
  },
  (v) => ({
    /** The configured key, or null to use (and create) `keyFile`. */
    key: v.HERALD_SECRET_KEY === undefined ? null : Buffer.from(v.HERALD_SECRET_KEY, 'base64'),
    keyFile: v.HERALD_SECRET_KEY_FILE,
  }),
);

export type SecretKeyConfig = ReturnType<typeof secretKeyConfig.build>;
