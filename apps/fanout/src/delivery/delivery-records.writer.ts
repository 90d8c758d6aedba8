import { randomUUID } from 'node:crypto';
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
  lastAtMs: number;
}

/** Attempts waiting for (or in) a log write at most; past it they are counted, not kept. */
const MAX_PENDING_LOG_WRITES = 10_000;
const FLUSH_INTERVAL_MS = 1000;
/** Attempts are written to the log in batches, one round trip per subscription this often. */
const LOG_FLUSH_MS = 50;
/** An unchanged held count is written again this often, well inside HELD_REPORT_FRESH_MS. */
const HELD_REFRESH_MS = 5000;

/**
 * Writes what the API shows about deliveries: each attempt into the subscription's delivery log
 * (batched: every 50 ms, one write per subscription) and the counters into its stats, off the
 * delivery path. While Redis is away, log entries past
 * a bound are dropped (and counted in the log) rather than held in memory without limit; stats
 * are summed and written once a second, with this instance's share of each subscription's lag
 * (the events it holds unsettled) when that changed or every few seconds.
 */
export class DeliveryRecordsWriter {
  private pendingWrites = 0;
  private readonly queuedLog = new Map<string, DeliveryAttempt[]>();
  private logTimer: NodeJS.Timeout | undefined;
  private readonly logWrites = new Set<Promise<unknown>>();
  private droppedWrites = 0;
  private readonly stats = new Map<string, StatsDelta>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  private heldSource: (() => ReadonlyMap<string, number>) | undefined;
  private lastHeld = new Map<string, number>();
  private heldWrittenAt = 0;

  constructor(
    private readonly log: DeliveryLogRepository,
    private readonly statsRepository: SubscriptionStatsRepository,
    private readonly logger: Logger,
    private readonly attemptLog: boolean,
    /** This process's id in the lag reports. */
    private readonly instance: string = randomUUID(),
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
    const queued = this.queuedLog.get(subscriptionId);
    if (queued) queued.push(attempt);
    else this.queuedLog.set(subscriptionId, [attempt]);
    this.logTimer ??= setTimeout(() => void this.flushLog(), LOG_FLUSH_MS);
  }

  /** Writes the queued attempts, one round trip per subscription. */
  private flushLog(): Promise<unknown> {
    clearTimeout(this.logTimer);
    this.logTimer = undefined;
    const writes = [...this.queuedLog].map(([subscriptionId, attempts]) => {
      const write: Promise<unknown> = this.log
        .appendMany(subscriptionId, attempts)
        .catch((error: unknown) =>
          this.logger.debug(
            { err: error, subscriptionId, attempts: attempts.length },
            'delivery log write failed',
          ),
        )
        .finally(() => {
          this.pendingWrites -= attempts.length;
          this.logWrites.delete(write);
        });
      return write;
    });
    this.queuedLog.clear();
    for (const write of writes) this.logWrites.add(write);
    return Promise.all([...this.logWrites]);
  }

  /** Where the counts of events held per subscription come from (the engine's lanes). */
  watchHeld(source: () => ReadonlyMap<string, number>): void {
    this.heldSource = source;
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
      await this.reportHeld();
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
              new Date(delta.lastAtMs),
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
    await Promise.all([this.flush(), this.flushLog()]);
  }

  /** This instance's held counts: what changed, or everything every HELD_REFRESH_MS. */
  private async reportHeld(): Promise<void> {
    if (!this.heldSource) return;
    const now = Date.now();
    const held = new Map(this.heldSource());
    // A lane that closed holds nothing now: say so rather than let the old count linger.
    for (const id of this.lastHeld.keys()) if (!held.has(id)) held.set(id, 0);
    const refresh = now - this.heldWrittenAt >= HELD_REFRESH_MS;
    const changed = refresh
      ? held
      : new Map([...held].filter(([id, count]) => this.lastHeld.get(id) !== count));
    try {
      await this.statsRepository.reportHeld(this.instance, changed, now);
      if (refresh) this.heldWrittenAt = now;
      this.lastHeld = new Map([...held].filter(([, count]) => count > 0));
    } catch (error) {
      this.logger.debug({ err: error }, 'lag report failed; sent again on the next flush');
    }
  }

  private count(subscriptionId: string, field: 'delivered' | 'failed' | 'deadLettered'): void {
    const current = this.stats.get(subscriptionId);
    if (current) {
      current[field] += 1;
      current.lastAtMs = Date.now();
      return;
    }
    const delta = { delivered: 0, failed: 0, deadLettered: 0, lastAtMs: Date.now() };
    delta[field] = 1;
    this.stats.set(subscriptionId, delta);
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
    if (delta.lastAtMs > current.lastAtMs) current.lastAtMs = delta.lastAtMs;
  }
}
