import { z } from 'zod';

/** The environment variables one lib reads, with their schemas, and how it turns them into its settings. */
export interface ConfigFragment<T> {
  readonly env: z.ZodRawShape;
  readonly build: (values: Record<string, unknown>) => T;
}

/**
 * Declares a lib's config fragment: `env` maps each variable to a zod schema whose
 * `.describe()` text says what it expects (used in error messages); `build` shapes the parsed
 * values into the nested, typed settings the lib takes (with units in names: `timeoutMs`).
 */
export function configFragment<S extends z.ZodRawShape, T>(
  env: S,
  build: (values: z.output<z.ZodObject<S>>) => T,
): ConfigFragment<T> {
  return { env, build: build as (values: Record<string, unknown>) => T };
}

export type ConfigOf<F extends Record<string, ConfigFragment<unknown>>> = {
  [K in keyof F]: F[K] extends ConfigFragment<infer T> ? T : never;
};
