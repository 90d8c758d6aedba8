import { HeraldError } from '@herald/errors';

export interface Violation {
  pointer: string;
  message: string;
}

/**
 * The most violations one problem lists: a 5 MiB batch can break its schemas millions of times,
 * and listing them all took gigabytes. The problem's `errorCount` then says how many there were
 * (at least: once the list is full, the events after it are not validated, and an event of more
 * than 2,000 JSON values is checked only up to its first violation; `errorCountIsLowerBound`
 * says so).
 */
export const MAX_PROBLEM_VIOLATIONS = 100;

/** The request is not valid JSON, not a valid CloudEvent, or an event breaks its schema. */
export class InvalidEventError extends HeraldError {
  constructor(
    message: string,
    errors: Violation[],
    /** How many violations there were, when `errors` holds only some of them. */
    errorCount = errors.length,
    /** Some events were not validated, or not in full: there may be more than `errorCount`. */
    errorCountIsLowerBound = false,
  ) {
    const listed = errors.slice(0, MAX_PROBLEM_VIOLATIONS);
    super('ingest.invalid', message, {
      details: errorCountIsLowerBound
        ? { errors: listed, errorCount, errorCountIsLowerBound }
        : errorCount > listed.length
          ? { errors: listed, errorCount }
          : { errors: listed },
    });
  }
}

export class UnknownEventTypeError extends HeraldError {
  constructor(type: string) {
    // Not `type`: in a problem that is the problem type (RFC 9457), which would replace it.
    super('ingest.type_not_found', `No event type "${type}" in the contract`, {
      details: { eventType: type },
    });
  }
}

export class EventTooLargeError extends HeraldError {
  /** `pointer`: the JSON pointer of the event too large ('' for the request's only one), if one is. */
  constructor(message: string, pointer?: string) {
    super(
      'ingest.too_large',
      message,
      pointer === undefined ? undefined : { details: { errors: [{ pointer, message }] } },
    );
  }
}

export class UnsupportedContentTypeError extends HeraldError {
  constructor(contentType: string | undefined, expected: string) {
    super(
      'ingest.unsupported_media_type',
      `Content type ${contentType ?? '(none)'} is not accepted here; send ${expected}`,
    );
  }
}

export class PublishForbiddenError extends HeraldError {
  constructor(message: string) {
    super('ingest.forbidden', message);
  }
}

export class EventInFlightError extends HeraldError {
  constructor(id: string) {
    super('ingest.conflict', `Event ${id} is being written by another request right now`, {
      retryAfterSeconds: 1,
    });
  }
}

/**
 * An event id already written within 24 h (or earlier in the same request) for an event of
 * another type: not a retry of that event, and answering 200 with its result would tell the
 * producer this one was written.
 */
export class EventIdReusedError extends HeraldError {
  constructor(id: string, type: string, firstType: string) {
    super(
      'ingest.id_reuse_unprocessable',
      `Event id ${id} was already used for an event of type ${firstType}, so this ${type} event is not a retry of it; nothing was written. Give each event its own id`,
      { details: { eventId: id, eventType: type, firstEventType: firstType } },
    );
  }
}

export class IngestRateLimitedError extends HeraldError {
  constructor(retryAfterSeconds: number) {
    super('ingest.rate_limited', 'This API key is publishing faster than its limit', {
      retryAfterSeconds,
    });
  }
}

/**
 * Kafka did not take a write. Not "nothing was written": Kafka appends each partition of a request
 * on its own, and a failed request may have kept some of them.
 */
export class IngestUnavailableError extends HeraldError {
  constructor(
    retryAfterSeconds: number,
    cause: unknown,
    /** Kafka had the write when its deadline passed: it may still land (the ids stay reserved). */
    readonly mayBeWritten = false,
    /** A request written in parts: how many of its events landed before a later part failed. */
    partly?: { readonly written: number; readonly total: number },
  ) {
    super(
      'ingest.unavailable',
      partly
        ? `Kafka took ${partly.written} of the ${partly.total} events of this request, then failed. Send it again with the same ids: the written ones answer their first result and the rest are written`
        : mayBeWritten
          ? 'Kafka did not confirm the write in time; it may still be written. Retry with the same ids: they answer the first result once it is confirmed'
          : 'Kafka could not take the write; some of its events may have been written. Send it again with the same ids (an event written twice keeps its id)',
      { retryable: true, retryAfterSeconds, cause },
    );
  }
}

/**
 * The 503 of a request Redis (API keys, event-id reservations) did not answer in time, or while
 * it is disconnected or the circuit is open: nothing of the request was written
 * (RedisUnavailableError of @herald/store).
 */
export const REDIS_UNAVAILABLE_PROBLEM = {
  code: 'ingest.unavailable',
  detail:
    'Redis, which holds API keys and event ids, did not answer in time; nothing was written. Retry later with the same ids',
};
