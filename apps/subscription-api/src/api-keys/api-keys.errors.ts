import { HeraldError } from '@herald/errors';
import { summarizeProblems, type RequestProblem } from '../http/request-problems';

/** A malformed API-key request: wrong shape, unknown fields, a bad tenant or scope (400). */
export class InvalidApiKeyRequestError extends HeraldError {
  constructor(errors: readonly RequestProblem[]) {
    super('api_keys.invalid', summarizeProblems('Invalid API key request', errors), {
      details: { errors },
    });
  }
}

/** No API key with this id (404). */
export class ApiKeyMissingError extends HeraldError {
  constructor(id: string) {
    super('api_keys.not_found', `API key ${id} does not exist`);
  }
}
