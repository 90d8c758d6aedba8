import { HeraldError } from '@herald/errors';

/** Where in the request something is wrong (a JSON pointer) and what. */
export interface RequestProblem {
  readonly pointer: string;
  readonly message: string;
}

function summary(prefix: string, errors: readonly RequestProblem[]): string {
  const first = errors
    .slice(0, 3)
    .map((e) => `${e.pointer || '(body)'} ${e.message}`)
    .join('; ');
  return `${prefix}: ${first}${errors.length > 3 ? `; and ${errors.length - 3} more` : ''}`;
}

/** The request is malformed: wrong shape, unknown fields, bad syntax (400). */
export class InvalidRequestError extends HeraldError {
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

/** A body in a media type other than JSON (415). */
export class UnsupportedBodyTypeError extends HeraldError {
  constructor(contentType: string) {
    super(
      'subscriptions.unsupported_media_type',
      `Send JSON (application/json), not ${contentType}`,
    );
  }
}

/** No replay with this id for this subscription (404). */
export class ReplayRequestNotFoundError extends HeraldError {
  constructor(id: string) {
    super('subscriptions.replay.not_found', `Replay ${id} does not exist`);
  }
}

/** No API key with this id (404). */
export class ApiKeyMissingError extends HeraldError {
  constructor(id: string) {
    super('api_keys.not_found', `API key ${id} does not exist`);
  }
}
