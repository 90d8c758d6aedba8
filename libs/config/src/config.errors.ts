import { HeraldError } from '@herald/errors';

export interface ConfigIssue {
  variable: string;
  expected: string;
  problem: string;
  /**
   * The given value as the message shows it, safe to print: quoted, with URL credentials masked;
   * for a variable that holds a secret, only its length. Undefined when the variable is not set.
   */
  received: string | undefined;
}

/** The environment does not satisfy the composed schema; the message names every bad variable. */
export class ConfigError extends HeraldError {
  constructor(readonly issues: ConfigIssue[]) {
    super('config.invalid', formatIssues(issues));
  }
}

function formatIssues(issues: ConfigIssue[]): string {
  const lines = issues.map((issue) => {
    const got = issue.received === undefined ? 'it is not set' : `got ${issue.received}`;
    return `  ${issue.variable}: expected ${issue.expected} (${issue.problem}; ${got})`;
  });
  return `Invalid configuration:\n${lines.join('\n')}`;
}

// A word of the name says the variable holds a secret. `…_PER_KEY` is a limit per API key and
// `…_FILE` the path of a file holding a secret: neither is a secret itself.
const SECRET_WORD = /(^|_)(KEY|SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIALS?)(_|$)/;
const NOT_SECRET = /(_PER_KEY|_FILE)$/;

/** True when the variable's value must never be printed (its name says it holds a secret). */
export function holdsSecret(variable: string): boolean {
  return SECRET_WORD.test(variable) && !NOT_SECRET.test(variable);
}

// Query parameters that carry credentials in a URL (`?password=…`, `&access_token=…`).
const SECRET_PARAM =
  /([?&;][^=&#\s]*(?:pass|secret|token|key|auth|credential)[^=&#\s]*=)[^&#\s]*/gi;

/**
 * Masks the credentials a URL may carry: the user info (`redis://:***@host`, up to the last `@`,
 * whether or not the URL parses) and secret-looking query parameters.
 */
export function maskCredentials(text: string): string {
  const scheme = text.indexOf('://');
  const start = scheme === -1 ? 0 : scheme + 3;
  const at = text.lastIndexOf('@');
  const masked = at >= start ? `${text.slice(0, start)}***${text.slice(at)}` : text;
  return masked.replace(SECRET_PARAM, '$1***');
}

/** How an error message shows `value` of `variable`: see `ConfigIssue.received`. */
export function printableValue(variable: string, value: string): string {
  return holdsSecret(variable)
    ? `${value.length} characters, not shown (the variable holds a secret)`
    : JSON.stringify(maskCredentials(value));
}

/** `text` (a schema's complaint) with the value, should it quote it, masked as above. */
export function printableProblem(
  variable: string,
  value: string | undefined,
  text: string,
): string {
  if (value === undefined || value === '') return text;
  return text.split(value).join(holdsSecret(variable) ? '***' : maskCredentials(value));
}
