import type { HeraldError } from '@herald/errors';

/** Where in the request something is wrong (a JSON pointer) and what. */
export interface RequestProblem {
  readonly pointer: string;
  readonly message: string;
}

/**
 * A resource's error for a request it cannot read (400), made from the problems found: each
 * resource has its own, so its code names the resource (`api_keys.invalid`,
 * `catalog.event_types.invalid`, `subscriptions.invalid`).
 */
export type InvalidRequestErrorClass = new (errors: readonly RequestProblem[]) => HeraldError;

/** `prefix: /a is wrong; /b is wrong; /c …; and N more`, for a problem's `detail`. */
export function summarizeProblems(prefix: string, errors: readonly RequestProblem[]): string {
  const first = errors
    .slice(0, 3)
    .map((e) => `${e.pointer || '(body)'} ${e.message}`)
    .join('; ');
  return `${prefix}: ${first}${errors.length > 3 ? `; and ${errors.length - 3} more` : ''}`;
}
