import { ConcurrencyLimit } from './concurrency-limit';
import { SendBudget } from './send-budget';

export interface OriginBudgetSettings {
  /** The least an origin's adaptive limit goes down to. */
  readonly minInFlight: number;
  /** The most attempts in flight to one origin, however fast it answers. */
  readonly maxInFlight: number;
  /** An attempt outstanding this long stops counting against its origin's limit. */
  readonly slowAfterMs: number;
}

export interface OriginBudgetEvents {
  /** A sweep found `count` attempts to `origin` slow. */
  slow(origin: string, count: number): void;
  /** `origin`'s latency rose with its load: its limit went down. */
  cut(origin: string, from: number, to: number): void;
  /**
   * `origin` got slower whatever its load (its latency did not fall as cuts lowered the load):
   * its unloaded latency went from `fromMs` to `toMs` and its limit back to `limit`.
   */
  rebase?(origin: string, fromMs: number, toMs: number, limit: number): void;
}

interface Entry {
  readonly budget: SendBudget;
  lanes: number;
}

/** `scheme://host:port` of a webhook URL; the URL itself when it does not parse (never sent). */
export function originOf(url: string | null): string {
  if (url === null) return '';
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

/**
 * One send budget per origin (scheme, host and port) that lanes send to, shared by the lanes of
 * every subscription there, each with its own adaptive limit: subscriptions of one receiver
 * share what it serves without queueing. Kept while a lane uses it.
 */
export class OriginBudgets {
  private readonly entries = new Map<string, Entry>();
  private slowTotal = 0;
  private rebaseTotal = 0;

  constructor(
    private readonly settings: OriginBudgetSettings,
    private readonly events: OriginBudgetEvents,
    private readonly now: () => number = Date.now,
  ) {}

  /** The budget of `origin`, for one more lane. */
  take(origin: string): SendBudget {
    let entry = this.entries.get(origin);
    if (entry === undefined) {
      const limit = new ConcurrencyLimit(
        this.settings.maxInFlight,
        this.settings.minInFlight,
        (from, to) => this.events.cut(origin, from, to),
        {
          // Latency past it is an endpoint that hangs (or times out), not a slower one.
          hangingMs: this.settings.slowAfterMs,
          onRebase: (fromMs, toMs, to) => {
            this.rebaseTotal += 1;
            this.events.rebase?.(origin, fromMs, toMs, to);
          },
        },
      );
      entry = {
        budget: new SendBudget({
          limit,
          slowAfterMs: this.settings.slowAfterMs,
          now: this.now,
          onSlow: (count) => {
            this.slowTotal += count;
            this.events.slow(origin, count);
          },
        }),
        lanes: 0,
      };
      this.entries.set(origin, entry);
    }
    entry.lanes += 1;
    return entry.budget;
  }

  /** A lane no longer sends to `origin`; its budget goes once no lane does. */
  give(origin: string): void {
    const entry = this.entries.get(origin);
    if (entry === undefined) return;
    entry.lanes -= 1;
    if (entry.lanes > 0) return;
    this.entries.delete(origin);
    entry.budget.close();
  }

  /**
   * Across origins: attempts counting, lanes waiting, the limits' sum, attempts turned slow, and
   * limits re-based (an origin got slower whatever its load) since the start.
   */
  totals(): {
    inFlight: number;
    waiting: number;
    limits: number;
    origins: number;
    slow: number;
    rebases: number;
  } {
    let inFlight = 0;
    let waiting = 0;
    let limits = 0;
    for (const { budget } of this.entries.values()) {
      inFlight += budget.inFlight;
      waiting += budget.waiting;
      limits += budget.limit;
    }
    return {
      inFlight,
      waiting,
      limits,
      origins: this.entries.size,
      slow: this.slowTotal,
      rebases: this.rebaseTotal,
    };
  }

  close(): void {
    for (const { budget } of this.entries.values()) budget.close();
    this.entries.clear();
  }
}
