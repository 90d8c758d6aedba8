import { z } from 'zod';
import type { ConfigFragment, ConfigOf } from './config-fragment';
import { ConfigError, printableProblem, printableValue, type ConfigIssue } from './config.errors';

type Env = Record<string, string | undefined>;

/**
 * Parses the environment once against every fragment an app composes and returns one typed,
 * nested object (`{ kafka: {...}, redis: {...} }`). Values are trimmed (a key read from a file
 * keeps no trailing newline) and empty ones count as unset, so `FOO= npm start` falls back to
 * the default. Throws ConfigError naming each bad variable, without printing secrets.
 */
export function loadConfig<F extends Record<string, ConfigFragment<unknown>>>(
  fragments: F,
  env: Env = process.env,
): ConfigOf<F> {
  const shape: z.ZodRawShape = {};
  for (const fragment of Object.values(fragments)) Object.assign(shape, fragment.env);

  const input: Env = {};
  for (const name of Object.keys(shape)) {
    const value = env[name]?.trim();
    input[name] = value === '' ? undefined : value;
  }

  const parsed = z.object(shape).safeParse(input);
  if (!parsed.success) {
    const issues: ConfigIssue[] = parsed.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? '(environment)');
      const value = input[variable];
      return {
        variable,
        expected: describe(shape[variable]),
        problem: printableProblem(variable, value, issue.message),
        received: value === undefined ? undefined : printableValue(variable, value),
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

/**
 * The description of a schema, or of the one it wraps: `env.url([...]).optional()` or a helper
 * followed by `.default()` or `.transform()` keep the helper's text.
 */
function describe(schema: unknown): string {
  let current = schema;
  while (current instanceof z.ZodType) {
    if (current.description) return current.description;
    const def = current._zod.def as { innerType?: unknown; in?: unknown };
    current = def.innerType ?? def.in;
  }
  return 'a valid value';
}
