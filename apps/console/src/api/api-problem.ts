/** One problem with one part of a request, as RFC 9457 problems from Herald list them. */
export interface ProblemField {
  readonly pointer: string;
  readonly message: string;
}

/**
 * A failed call, in words for a person: the RFC 9457 problem Herald answered (its `title`,
 * `detail` and `errors`), or one the console makes up when no answer came.
 */
export class ApiProblem extends Error {
  constructor(
    /** The HTTP status; null when the request got no answer. */
    readonly status: number | null,
    readonly title: string,
    readonly detail: string,
    readonly errors: readonly ProblemField[] = [],
    readonly code: string | null = null,
  ) {
    super(`${title}: ${detail}`);
    this.name = 'ApiProblem';
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fieldsOf(value: unknown): ProblemField[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((entry) =>
    isRecord(entry) && typeof entry.message === 'string'
      ? [
          {
            pointer: typeof entry.pointer === 'string' ? entry.pointer : '',
            message: entry.message,
          },
        ]
      : [],
  );
}

/** The problem in an error answer; a body that is not a problem still becomes a readable one. */
export function problemFromAnswer(status: number, statusText: string, body: string): ApiProblem {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  if (isRecord(parsed) && (typeof parsed.title === 'string' || typeof parsed.detail === 'string')) {
    return new ApiProblem(
      status,
      typeof parsed.title === 'string' ? parsed.title : statusText || `HTTP ${status}`,
      typeof parsed.detail === 'string' ? parsed.detail : '',
      fieldsOf(parsed.errors),
      typeof parsed.code === 'string' ? parsed.code : null,
    );
  }
  const text = body.trim().slice(0, 300);
  return new ApiProblem(
    status,
    statusText || `HTTP ${status}`,
    text === '' ? `The server answered ${status} without saying why.` : text,
  );
}

/** A request that got no answer at all (server down, network, CORS refused). */
export function unreachableProblem(what: string, error: unknown): ApiProblem {
  const reason = error instanceof Error ? error.message : String(error);
  return new ApiProblem(null, `Could not reach ${what}`, reason);
}

/** Anything caught, as a problem to show: ApiProblems as they are, other errors by message. */
export function asProblem(error: unknown): ApiProblem {
  if (error instanceof ApiProblem) return error;
  return new ApiProblem(
    null,
    'Something went wrong in the console',
    error instanceof Error ? error.message : String(error),
  );
}
