import { HeraldError } from '@herald/errors';

interface Violation {
  pointer: string;
  message: string;
}

/** A stream request parameter that cannot be used (`types`, `from`, `wait`, `limit`, …). */
export class InvalidStreamRequestError extends HeraldError {
  constructor(message: string, errors: Violation[] = []) {
    super('streams.request_invalid', message, errors.length > 0 ? { details: { errors } } : {});
  }
}

/** A filter that does not compile; `errors` point into it. */
export class InvalidStreamFilterError extends HeraldError {
  constructor(errors: Violation[]) {
    super(
      'streams.filter_invalid',
      `The filter is not valid: ${errors.map((e) => `${e.pointer || '/'} ${e.message}`).join('; ')}`,
      { details: { errors } },
    );
  }
}

/** Type patterns that match no event type of the contract. */
export class UnknownStreamTypesError extends HeraldError {
  constructor(patterns: string[]) {
    super(
      'streams.types_invalid',
      `No event type matches ${patterns.map((p) => `"${p}"`).join(', ')}; see GET /v1/event-types`,
      { details: { patterns } },
    );
  }
}

/** Types the key's `streams:read` scope does not cover. */
export class StreamTypesForbiddenError extends HeraldError {
  constructor(types: string[]) {
    super(
      'streams.types_forbidden',
      `This API key may not read ${types.slice(0, 10).join(', ')}${types.length > 10 ? ', …' : ''} (streams:read is limited to other types)`,
      { details: { types } },
    );
  }
}

/** No stream subscription with that id for this tenant (another tenant's looks the same). */
export class StreamSubscriptionNotFoundError extends HeraldError {
  constructor(id: string) {
    super('streams.subscription_not_found', `No stream subscription ${id}`);
  }
}

/** The subscription exists but cannot stream now (paused, disabled, or a webhook). */
export class StreamSubscriptionConflictError extends HeraldError {
  constructor(message: string) {
    super('streams.subscription_conflict', message);
  }
}

/** The key already holds as many open streams as it may. */
export class StreamConnectionLimitError extends HeraldError {
  constructor(limit: number) {
    super(
      'streams.connections_rate_limited',
      `This API key already has ${limit} open streams, the most it may hold; close one first`,
      { retryAfterSeconds: 5 },
    );
  }
}

/** The live tail has not started reading Kafka yet (or lost it), or the server is shutting down. */
export class StreamsUnavailableError extends HeraldError {
  constructor(message = 'Streams are starting; try again shortly') {
    super('streams.unavailable', message, {
      retryable: true,
      retryAfterSeconds: 2,
    });
  }
}
