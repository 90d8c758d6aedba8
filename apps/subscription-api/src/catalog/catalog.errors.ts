import { HeraldError } from '@herald/errors';
import { summarizeProblems, type RequestProblem } from '../http/request-problems';

/** An event type the contract does not declare (404). */
export class UnknownEventTypeProblem extends HeraldError {
  constructor(type: string) {
    super(
      'catalog.event_type.not_found',
      `Event type ${JSON.stringify(type)} is not in the contract`,
    );
  }
}

/** A malformed event-types query: unknown parameters, a bad or oversized `types` glob (400). */
export class InvalidEventTypesQueryError extends HeraldError {
  constructor(errors: readonly RequestProblem[]) {
    super('catalog.event_types.invalid', summarizeProblems('Invalid event-types query', errors), {
      details: { errors },
    });
  }
}
