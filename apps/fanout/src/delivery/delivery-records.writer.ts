import type { Logger } from '@herald/observability';
import type {
  DeliveryAttempt,
  DeliveryLogRepository,
  SubscriptionStatsRepository,
} from '@herald/store';

interface StatsDelta {
  delivered: number;
  failed: number;
  deadLettered: number;
  lastAt: Date;
}

/** Attempts written to Redis at most this many at once; past it they are counted, not kept. */
const MAX_PENDING_LOG_WRITES = 10_000;
const FLUSH_INTERVAL_MS = 1000;

/**
 * Writes what the API shows about deliveries: each attempt into the subscription's delivery log
 * and the counters into its stats, off the delivery path. While Redis is away, log entries past
 * a bound are dropped (and counted in the log) rather than held in memory without limit; stats
 * are summed and written once a second.
 */
export class DeliveryRecordsWriter {
  private pendingWrites = 0;
  private droppedWrites = 0;
  private readonly stats = new Map<string, StatsDelta>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly log: DeliveryLogRepository,
    private readonly statsRepository: SubscriptionStatsRepository,
    private readonly logger: Logger,
    private readonly attemptLog: boolean,
  ) {
    this.timer = setInterval(() => void this.flush(), FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  attempt(subscriptionId: string, attempt: DeliveryAttempt): void {
    this.count(subscriptionId, attempt.status === 'succeeded' ? 'delivered' : 'failed');
    if (!this.attemptLog) return;
    if (this.pendingWrites >= MAX_PENDING_LOG_WRITES) {
      this.droppedWrites += 1;
      return;
    }
    this.pendingWrites += 1;
    this.log
      .append(subscriptionId, attempt)
      .catch((error: unknown) => this.logger.debug({ err: error }, 'delivery log write failed'))
      .finally(() => {
        this.pendingWrites -= 1;
      });
  }

  deadLettered(subscriptionId: string): void {
    this.count(subscriptionId, 'deadLettered');
  }

  /** Writes the summed counters; called every second and on shutdown. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.droppedWrites > 0) {
        this.logger.warn(
          { dropped: this.droppedWrites },
          'delivery log entries dropped while Redis was slow',
        );
        this.droppedWrites = 0;
      }
      const batch = [...this.stats];
      this.stats.clear();
      await Promise.all(
        batch.map(([id, delta]) =>
          this.statsRepository
            .record(
              id,
              {
                delivered: delta.delivered,
                failed: delta.failed,
                deadLettered: delta.deadLettered,
              },
              delta.lastAt,
            )
            .catch((error: unknown) => {
              this.logger.debug({ err: error }, 'stats write failed; kept for the next flush');
              this.merge(id, delta);
            }),
        ),
      );
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private count(subscriptionId: string, field: 'delivered' | 'failed' | 'deadLettered'): void {
    this.merge(subscriptionId, {
      delivered: 0,
      failed: 0,
      deadLettered: 0,
      [field]: 1,
      lastAt: new Date(),
    });
  }

  private merge(id: string, delta: StatsDelta): void {
    const current = this.stats.get(id);
    if (!current) {
      this.stats.set(id, { ...delta });
      return;
    }
    current.delivered += delta.delivered;
    current.failed += delta.failed;
    current.deadLettered += delta.deadLettered;
    if (delta.lastAt > current.lastAt) current.lastAt = delta.lastAt;
  }
}
