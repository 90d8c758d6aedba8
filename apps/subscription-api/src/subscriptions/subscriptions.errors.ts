import { HeraldError } from '@herald/errors';
import { summarizeProblems as summary, type RequestProblem } from '../http/request-problems';

export type { RequestProblem } from '../http/request-problems';

/** A malformed subscription request: wrong shape, unknown fields, bad syntax (400). */
export class InvalidSubscriptionRequestError extends HeraldError {
  constructor(errors: readonly RequestProblem[]) {
    super('subscriptions.invalid', summary('Invalid request', errors), {
      details: { errors },
    });
  }
}

/** Well-formed but refused: an address Herald will not call, types matching nothing (422). */
export class UnprocessableRequestError extends HeraldError {
  constructor(errors: readonly RequestProblem[]) {
    super('subscriptions.unprocessable', summary('Cannot accept this request', errors), {
      details: { errors },
    });
  }
}

/** The key may not subscribe to some of the requested types (403). */
export class TypesNotAllowedError extends HeraldError {
  constructor(errors: readonly RequestProblem[]) {
    super('subscriptions.forbidden', summary('This API key may not subscribe to', errors), {
      details: { errors },
    });
  }
}

/** The subscription is in a state that does not allow the operation (409). */
export class SubscriptionStateError extends HeraldError {
  constructor(message: string) {
    super('subscriptions.state.conflict', message);
  }
}

/**
 * A change that needs a subscription's stored secrets, which do not open (409); the message says
 * what the caller can do instead.
 */
export class SecretsUnreadableError extends HeraldError {
  constructor(message: string) {
    super('subscriptions.secrets_unreadable_conflict', message);
  }
}

/** A body in a media type the endpoint does not take (415); `accepted` are the ones it does. */
export class UnsupportedBodyTypeError extends HeraldError {
  constructor(contentType: string, accepted: readonly string[]) {
    super(
      'subscriptions.unsupported_media_type',
      `Send ${accepted.join(' or ')}, not ${contentType}`,
    );
  }
}

/** No replay with this id for this subscription (404). */
export class ReplayRequestNotFoundError extends HeraldError {
  constructor(id: string) {
    super('subscriptions.replay.not_found', `Replay ${id} does not exist`);
  }
}
