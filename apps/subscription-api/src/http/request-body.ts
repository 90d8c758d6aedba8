import type { z } from 'zod';
import type { InvalidRequestErrorClass, RequestProblem } from './request-problems';

function pointerOf(path: readonly PropertyKey[]): string {
  return path
    .map((segment) => `/${String(segment).replace(/~/g, '~0').replace(/\//g, '~1')}`)
    .join('');
}

/** zod issues as JSON-pointer problems; unknown keys get one problem each, at the key. */
export function problemsOf(issues: readonly z.core.$ZodIssue[], base = ''): RequestProblem[] {
  return issues.flatMap((issue): RequestProblem[] => {
    const pointer = base + pointerOf(issue.path);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        pointer: `${pointer}${pointerOf([key])}`,
        message: 'is not a known field',
      }));
    }
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      // Report the branch that got furthest, rather than "invalid input".
      const best = [...issue.errors].sort((a, b) => a.length - b.length)[0] ?? [];
      return problemsOf(best, pointer);
    }
    return [{ pointer, message: issue.message }];
  });
}

/**
 * Parses a JSON request body (or a query) with `schema`; a missing body counts as `{}` so
 * optional-only bodies may be left out. A body of JSON `null` is not a missing one: it is
 * refused like any other body that is not an object (a redrive of `null` must not redrive all).
 * Throws `Invalid` (the resource's own 400, so its code names the resource) naming each problem.
 */
export function parseBody<T>(
  schema: z.ZodType<T>,
  body: unknown,
  Invalid: InvalidRequestErrorClass,
): T {
  const result = schema.safeParse(body === undefined ? {} : body);
  if (!result.success) throw new Invalid(problemsOf(result.error.issues));
  return result.data;
}
