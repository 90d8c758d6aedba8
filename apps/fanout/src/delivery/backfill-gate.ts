import type { Logger } from '@herald/observability';
import {
  FINAL_REPLAY_STATUSES,
  backfillRange,
  isBackfill,
  type ReplayRepository,
  type Subscription,
} from '@herald/store';

/**
 * Holds a subscription's live events of a key until its backfill has ended, so order per key
 * holds across the two: the backfill replays what came before the subscription's creation, live
 * delivery what came after, and none of the later events may be sent while an earlier one is
 * pending (SPEC §6).
 *
 * Whether the backfill has ended is read from its replay record (any instance may run it), at
 * most once per `recheckMs` a subscription while it runs, and never again once it has ended.
 */
export class BackfillGate {
  private readonly ended = new Set<string>();
  private readonly running = new Map<string, number>();

  constructor(
    private readonly replays: ReplayRepository,
    private readonly logger: Logger,
    private readonly recheckMs: number,
  ) {}

  /** Whether live events of `subscription` must wait now. */
  async holds(subscription: Subscription, nowMs: number): Promise<boolean> {
    const { id } = subscription;
    if (this.ended.has(id)) return false;
    const range = backfillRange(subscription);
    if (!range) return false;
    const checkedAt = this.running.get(id);
    if (checkedAt !== undefined && nowMs - checkedAt < this.recheckMs) return true;
    const backfill = (await this.replays.list(id)).find((replay) => isBackfill(replay, range));
    // Not asked for yet (subscription-api asks right after the subscription becomes active) or
    // still running: hold.
    if (!backfill || !FINAL_REPLAY_STATUSES.has(backfill.status)) {
      if (checkedAt === undefined)
        this.logger.info(
          { subscriptionId: id, replayId: backfill?.id ?? null },
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
