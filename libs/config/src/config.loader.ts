import { z } from 'zod';
import type { ConfigFragment, ConfigOf } from './config-fragment';
import { ConfigError, type ConfigIssue } from './config.errors';

type Env = Record<string, string | undefined>;

/**
 * Parses the environment once against every fragment an app composes and returns one typed,
 * nested object (`{ kafka: {...}, redis: {...} }`). Empty strings count as unset, so
 * `FOO= npm start` falls back to the default. Throws ConfigError naming each bad variable.
 */
export function loadConfig<F extends Record<string, ConfigFragment<unknown>>>(
  fragments: F,
  env: Env = process.env,
): ConfigOf<F> {
  const shape: z.ZodRawShape = {};
  for (const fragment of Object.values(fragments)) Object.assign(shape, fragment.env);

  const input: Env = {};
  for (const name of Object.keys(shape)) {
    const value = env[name];
    input[name] = value === undefined || value.trim() === '' ? undefined : value;
  }

  const parsed = z.object(shape).safeParse(input);
  if (!parsed.success) {
    const issues: ConfigIssue[] = parsed.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? '(environment)');
      return {
        variable,
        expected: describe(shape[variable]),
        problem: issue.message,
        received: input[variable],
      };
    });
    throw new ConfigError(issues);
  }

  const values = parsed.data as Record<string, unknown>;
  const result: Record<string, unknown> = {};
  for (const [name, fragment] of Object.entries(fragments)) result[name] = fragment.build(values);
  return result as ConfigOf<F>;
}

/**
 * `loadConfig` for a process entry point: on a bad environment it prints the message to stderr
 * and exits with status 78 (EX_CONFIG) before anything else starts.
 */
export function loadConfigOrExit<F extends Record<string, ConfigFragment<unknown>>>(
  fragments: F,
  env: Env = process.env,
): ConfigOf<F> {
  try {
    return loadConfig(fragments, env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(
        `${JSON.stringify({ level: 'fatal', time: Date.now(), msg: error.message })}\n`,
      );
      process.stderr.write(`${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
}

function describe(schema: unknown): string {
  return schema instanceof z.ZodType && schema.description ? schema.description : 'a valid value';
}
