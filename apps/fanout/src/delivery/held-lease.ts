/** What the engine claims from a leased queue. */
export type LeaseKind = 'replay' | 'redrive';

/**
 * A claim this instance works under, until a renewal or a write finds that another instance took
 * it over (this one stalled, or lost Redis, for longer than the lease). `signal` aborts when the
 * lease is lost or the instance stops, so reading and feeding end at once: from then on the item
 * is the other instance's, and only its writes may change it.
 */
export class HeldLease {
  private readonly lostController = new AbortController();
  readonly signal: AbortSignal;

  constructor(stopping: AbortSignal) {
    this.signal = AbortSignal.any([stopping, this.lostController.signal]);
  }

  get lost(): boolean {
    return this.lostController.signal.aborted;
  }

  lose(): void {
    this.lostController.abort();
  }
}
