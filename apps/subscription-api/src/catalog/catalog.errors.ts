import { HeraldError } from '@herald/errors';

/** An event type the contract does not declare (404). */
export class UnknownEventTypeProblem extends HeraldError {
  constructor(type: string) {
    super(
      'catalog.event_type.not_found',
      `Event type ${JSON.stringify(type)} is not in the contract`,
    );
  }
}
