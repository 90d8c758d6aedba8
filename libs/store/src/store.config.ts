import { configFragment, env } from '@herald/config';
import { z } from 'zod';

export const storeConfig = configFragment(
  {
    REDIS_URL: env.url(['redis', 'rediss'], 'redis://127.0.0.1:6379'),
    HERALD_REDIS_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9:_-]{1,64}$/, 'letters, digits, colon, dash or underscore')
      .default('herald:')
      .describe('a key prefix of up to 64 letters, digits, ":", "-" or "_" (default herald:)'),
  },
  (v) => ({ url: v.REDIS_URL, prefix: v.HERALD_REDIS_PREFIX }),
);

export type StoreConfig = ReturnType<typeof storeConfig.build>;
