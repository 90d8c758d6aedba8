import type { Logger } from '@herald/observability';
import type {
  DeadLetter,
  DeadLetterLimits,
  DeadLetterRepository,
  DeadLettersTrimmed,
  NewDeadLetter,
} from '@herald/store';
import type { DeliveryMetrics } from './delivery.metrics';

/** How often an instance sweeps every subscription's dead letters; the first sweep comes sooner. */
export const DEAD_LETTER_SWEEP_INTERVAL_MS = 10 * 60 * 1000;
/** After a start: an instance restarted more often than the interval still sweeps. */
const FIRST_SWEEP_DELAY_MS = 60 * 1000;
/** Subscription ids named in the summary line, at most. */
const LOGGED_SUBSCRIPTIONS = 10;

/**
 * Keeps each subscription's listed dead letters within `limits` (`herald.dlq.delivery` keeps
 * them all): an add drops the oldest beyond them in the same Redis script, so the cap holds at
 * every moment; a sweep of every subscription in the index, every ten minutes on each instance,
 * drops those grown too old where nothing is added any more. Trims are idempotent, so instances
 * sweeping at once only repeat a cheap look. Each trim counts in
 * `herald_dead_letters_trimmed_total`; the log gets one summary line a sweep, not one a letter.
 */
export class DeadLetterRetention {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> = Promise.resolve();
  private stopped = false;
  private unlogged = { cap: 0, age: 0, subscriptions: new Set<string>() };

  constructor(
    private readonly repository: DeadLetterRepository,
    /** The subscriptions to sweep: every one in the index, whatever its status. */
    private readonly subscriptionIds: () => Iterable<string>,
    private readonly metrics: DeliveryMetrics,
    private readonly logger: Logger,
    readonly limits: DeadLetterLimits,
    private readonly intervalMs = DEAD_LETTER_SWEEP_INTERVAL_MS,
  ) {}

  /**
   * Stores a letter, dropping the subscription's oldest beyond the limits. Null when the
   * subscription was deleted meanwhile: the letter is not listed (its delete took the list, and
   * no sweep would visit one written after it); `herald.dlq.delivery` still has it.
   */
  async add(input: NewDeadLetter): Promise<DeadLetter | null> {
    const { letter, trimmed } = await this.repository.add(input, this.limits);
    if (letter === null) {
      this.logger.info(
        { subscriptionId: input.subscriptionId, eventId: input.eventId },
        'dead letter not listed: its subscription is deleted',
      );
      return null;
    }
    this.count(input.subscriptionId, trimmed);
    return letter;
  }

  start(): void {
    this.schedule(Math.min(FIRST_SWEEP_DELAY_MS, this.intervalMs));
  }

  /** Trims every subscription's letters to the limits as of `nowMs`, then logs what went. */
  sweep(nowMs: number = Date.now()): Promise<void> {
    this.sweeping = this.sweeping.then(async () => {
      try {
        for (const subscriptionId of [...this.subscriptionIds()]) {
          if (this.stopped) break;
          this.count(
            subscriptionId,
            await this.repository.trim(subscriptionId, this.limits, nowMs),
          );
        }
      } catch (error) {
        this.logger.warn({ err: error }, 'dead-letter sweep failed; the next one goes on');
      }
      this.logTrimmed();
    });
    return this.sweeping;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.sweeping;
    this.logTrimmed();
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.sweep().then(() => this.schedule(this.intervalMs));
    }, delayMs);
    this.timer.unref();
  }

  private count(subscriptionId: string, trimmed: DeadLettersTrimmed): void {
    if (trimmed.cap === 0 && trimmed.age === 0) return;
    this.metrics.trimmedDeadLetters(trimmed);
    this.unlogged.cap += trimmed.cap;
    this.unlogged.age += trimmed.age;
    this.unlogged.subscriptions.add(subscriptionId);
  }

  private logTrimmed(): void {
    const { cap, age, subscriptions } = this.unlogged;
    if (subscriptions.size === 0) return;
    this.unlogged = { cap: 0, age: 0, subscriptions: new Set() };
    this.logger.info(
      {
        overCap: cap,
        tooOld: age,
        subscriptions: subscriptions.size,
        subscriptionIds: [...subscriptions].slice(0, LOGGED_SUBSCRIPTIONS),
        maxPerSubscription: this.limits.maxPerSubscription,
        maxAgeHours: this.limits.maxAgeMs / 3_600_000,
      },
      'dead letters trimmed from the listed index',
    );
  }
}
