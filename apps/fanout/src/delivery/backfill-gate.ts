import type { Logger } from '@herald/observability';
import {
  FINAL_REPLAY_STATUSES,
  isBackfill,
  type BackfillRange,
  type ReplayRepository,
} from '@herald/store';

/**
 * Holds a subscription's live events of a key until its backfill has ended, so order per key
 * holds across the two: the backfill replays what came before the subscription's creation, live
 * delivery what came after, and none of the later events may be sent while an earlier one is
 * pending (SPEC §6).
 *
 * Whether the backfill has ended is read from its replay record (any instance may run it), at
 * most once per `recheckMs` a subscription while it runs, and never again once it has ended.
 * A backfill that was never asked for (subscription-api stopped, or lost Redis, between making
 * the subscription active and asking) is asked for here: otherwise the hold would never end.
 */
export class BackfillGate {
  private readonly ended = new Set<string>();
  private readonly running = new Map<string, number>();

  constructor(
    private readonly replays: ReplayRepository,
    private readonly logger: Logger,
    private readonly recheckMs: number,
    /** Counts the backfills this gate had to ask for. */
    private readonly onRequested: () => void = () => undefined,
  ) {}

  /**
   * Whether live events of the subscription must wait now; `false` at once (no promise) when it
   * needs no backfill or its backfill has ended, which is every event but a new backfill's.
   */
  holds(
    subscription: { readonly id: string; readonly tenant: string },
    range: BackfillRange | null,
    nowMs: number,
  ): false | Promise<boolean> {
    if (range === null || this.ended.has(subscription.id)) return false;
    const checkedAt = this.running.get(subscription.id);
    if (checkedAt !== undefined && nowMs - checkedAt < this.recheckMs) return Promise.resolve(true);
    return this.check(subscription, range, nowMs, checkedAt === undefined);
  }

  private async check(
    subscription: { readonly id: string; readonly tenant: string },
    range: BackfillRange,
    nowMs: number,
    first: boolean,
  ): Promise<boolean> {
    const { id } = subscription;
    let backfill = (await this.replays.list(id)).find((replay) => isBackfill(replay, range));
    if (!backfill) {
      // subscription-api asks right after the subscription becomes active; if it asked, this
      // finds its request and adds none.
      const asked = await this.replays.requestBackfill({
        subscriptionId: id,
        tenant: subscription.tenant,
        range,
      });
      backfill = asked.replay;
      if (asked.created) {
        this.onRequested();
        this.logger.warn(
          { subscriptionId: id, replayId: backfill.id, ...range },
          'backfill was never requested: requested it now',
        );
      }
    }
    // Still to run, or running: hold.
    if (!FINAL_REPLAY_STATUSES.has(backfill.status)) {
      if (first)
        this.logger.info(
          { subscriptionId: id, replayId: backfill.id },
          'live delivery held until the backfill has ended',
        );
      this.running.set(id, nowMs);
      return true;
    }
    this.running.delete(id);
    this.ended.add(id);
    this.logger.info(
      { subscriptionId: id, replayId: backfill.id, status: backfill.status },
      'backfill ended: live delivery goes on',
    );
    return false;
  }
}
