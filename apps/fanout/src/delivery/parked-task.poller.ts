import type { Logger } from '@herald/observability';
import type { RetryParkingStore } from '@herald/store';
import type { SubscriptionIndex } from '../subscriptions/subscription-index';
import type { DeliveryEngine } from './delivery.engine';
import { parseClaimedTask } from './delivery-task';

const DROP_BATCH = 100;
/** Due subscriptions read at once, and how many such pages one round reads at most. */
const PAGE = 100;
const MAX_PAGES = 50;

/**
 * Looks for parked tasks that are due and claims, per subscription, only as many as its lane can
 * start now, so a slow subscription's backlog stays in Redis and never crowds out others. Tasks
 * of subscriptions that are gone, paused or disabled are dropped (not kept for later).
 */
export class ParkedTaskPoller {
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly parking: RetryParkingStore,
    private readonly engine: DeliveryEngine,
    private readonly index: SubscriptionIndex,
    private readonly logger: Logger,
    private readonly options: { intervalMs: number; leaseMs: number },
  ) {}

  start(): void {
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.polling = this.poll()
        .catch((error: unknown) => {
          this.logger.warn({ err: error }, 'polling parked retries failed');
          return false;
        })
        .then((busy) => this.schedule(busy ? 10 : this.options.intervalMs));
    }, delayMs);
    this.timer.unref();
  }

  /**
   * One round; true when there was more due work than could be taken. Due subscriptions are read
   * a page at a time, earliest first; those that cannot start anything now keep their place, so
   * the next page starts past them: subscriptions stuck behind their own endpoints never hide
   * the due work of the others, however many they are.
   */
  async poll(nowMs: number = Date.now()): Promise<boolean> {
    let busy = false;
    let skip = 0;
    for (let page = 0; page < MAX_PAGES && !this.stopped; page++) {
      const due = await this.parking.dueSubscriptions(nowMs, PAGE, skip);
      for (const subscriptionId of due) {
        if (this.stopped) return false;
        const outcome = await this.take(subscriptionId, nowMs);
        // Still due afterwards, so still ahead of the next page: a lane with no room, or more
        // due than it took.
        if (outcome !== 'drained') skip += 1;
        if (outcome === 'more') busy = true;
      }
      if (due.length < PAGE) break;
    }
    return busy;
  }

  /** Claims what one subscription's lane can start now: `full` when that was nothing. */
  private async take(subscriptionId: string, nowMs: number): Promise<'full' | 'more' | 'drained'> {
    const entry = this.index.get(subscriptionId);
    const active =
      entry !== undefined &&
      entry.subscription.status === 'active' &&
      entry.subscription.kind === 'webhook';
    // Half the lease to start in, half for the attempt itself.
    const limit = active
      ? this.engine.capacity(subscriptionId, this.options.leaseMs / 2)
      : DROP_BATCH;
    if (limit === 0) return 'full';
    const claims = await this.parking.claimDue(subscriptionId, {
      nowMs,
      leaseMs: this.options.leaseMs,
      limit,
    });
    for (const claim of claims) {
      const task = parseClaimedTask(claim);
      if (task && active && this.engine.submitClaimed(task)) continue;
      if (!task)
        this.logger.error(
          { subscriptionId, queueId: claim.queueId },
          'unreadable parked task dropped',
        );
      await this.parking.finish(
        claim,
        { kind: 'drop-queue' },
        task?.origin === 'live'
          ? { topic: task.source.topic, partition: task.source.partition }
          : null,
      );
    }
    return claims.length === limit ? 'more' : 'drained';
  }
}
