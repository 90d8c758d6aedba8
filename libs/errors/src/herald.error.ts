/**
 * The root of every error Herald raises on purpose. `code` is stable and machine-readable
 * (`contract.unknown_type`, `ingest.too_large`); transports map codes to HTTP
 * problems or to retry / dead-letter decisions, so domain code never throws HTTP exceptions.
 *
 * Code suffixes carry the kind of failure, and transports map on them: `.not_found`,
 * `.invalid`, `.unprocessable`, `.conflict`, `.too_large`, `.unsupported_media_type`,
 * `.unauthenticated`, `.forbidden`, `.rate_limited`, `.unavailable`.
 */
export class HeraldError extends Error {
  readonly code: string;
  /** Whether repeating the same operation later may succeed (a broker that is down, a timeout). */
  readonly retryable: boolean;
  /** Structured facts for the caller (`errors: [{pointer, message}]`); shown in HTTP problems. */
  readonly details: Record<string, unknown> | undefined;
  /** When a retry makes sense, after how many seconds. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: string,
    message: string,
    options: {
      retryable?: boolean;
      cause?: unknown;
      details?: Record<string, unknown>;
      retryAfterSeconds?: number;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** True when `error` is a HeraldError with one of `codes` (or any code when none are given). */
export function isHeraldError(error: unknown, ...codes: string[]): error is HeraldError {
  return error instanceof HeraldError && (codes.length === 0 || codes.includes(error.code));
}
