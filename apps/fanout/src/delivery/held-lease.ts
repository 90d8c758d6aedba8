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

  private settling = false;

  get lost(): boolean {
    return this.lostController.signal.aborted;
  }

  /**
   * The work is writing its end (finish, hand-back), which may take the claim away: a renewal
   * refused from now on is that write's doing, not a take-over. The end write is fenced itself,
   * so a real take-over still shows (as its LeaseLostError).
   */
  settle(): void {
    this.settling = true;
  }

  /** A renewal was refused: the lease is lost, unless the work is ending it itself. */
  renewalRefused(): void {
    if (!this.settling) this.lose();
  }

  lose(): void {
    this.lostController.abort();
  }
}
