import { HeraldError } from '@herald/errors';

export class ApiKeyNotFoundError extends HeraldError {
  constructor(id: string) {
    super('store.api_key_not_found', `API key ${id} does not exist`);
  }
}

/**
 * A write under a replay's or redrive's claim that no longer holds it: its lease ran out (the
 * instance stalled or lost Redis for longer) and another instance took the work over, so only
 * that instance's writes may change the item now.
 */
export class LeaseLostError extends HeraldError {
  constructor(kind: 'replay' | 'redrive', id: string) {
    super(
      'store.lease.conflict',
      `The claim on ${kind} ${id} was taken over by another instance after its lease ran out`,
      { details: { kind, id } },
    );
  }
}
