import { configFragment, env } from '@herald/config';

export const authConfig = configFragment({ HERALD_ADMIN_KEY: env.secret(16) }, (v) => ({
  /** The bootstrap admin key; unset means only stored keys authenticate. */
  adminKey: v.HERALD_ADMIN_KEY ?? null,
}));

export type AuthConfig = ReturnType<typeof authConfig.build>;
