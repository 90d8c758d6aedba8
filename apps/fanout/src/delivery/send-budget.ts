/** A slot of the send budget, held by one attempt until it ends. */
export interface SendPermit {
  /** The attempt ended; its slot goes to the next waiting lane. Safe to call more than once. */
  release(): void;
}

/** Called with a permit once a slot is free; it must send with it or release it. */
export type PermitWaiter = (permit: SendPermit) => void;

/** How many attempts may count at once: a fixed number, or one that adapts (ConcurrencyLimit). */
export interface InFlightLimit {
  readonly limit: number;
  /** A lane had work ready and no slot for it. */
  noteLimited(): void;
  /** One attempt's latency. */
  sample(latencyMs: number): void;
}

/** A limit that never changes. */
export function fixedLimit(limit: number): InFlightLimit {
  return { limit, noteLimited: () => undefined, sample: () => undefined };
}

/** The settings of a send budget. */
export interface SendBudgetSettings {
  /** Attempts in flight at once across the lanes sharing the budget. */
  readonly limit: InFlightLimit;
  /**
   * An attempt outstanding this long stops counting against `limit`: a hanging endpoint holds
   * the budget no longer than this, and its lane's own `maxInFlight` bounds it from then on.
   */
  readonly slowAfterMs: number;
  readonly now: () => number;
  /** Told how many attempts a sweep found slow (for a log line). */
  readonly onSlow?: (count: number) => void;
}

const RELEASED = 1;
const SLOW = 2;

class Permit implements SendPermit {
  state = 0;
  constructor(
    private readonly budget: SendBudget,
    readonly startMs: number,
  ) {}

  release(): void {
    if (this.state === RELEASED) return;
    const counted = this.state === 0;
    this.state = RELEASED;
    if (counted) this.budget.freed();
  }
}

const NO_BUDGET: SendPermit = { release: () => undefined };

/**
 * How many webhook attempts the lanes sharing it (the subscriptions of one origin) have in
 * flight at once. Each lane keeps its own `maxInFlight`; without a bound across them, a hundred
 * busy subscriptions of one receiver at 64 each would hold 6,400 requests open there at once,
 * which serves none of them sooner and costs both sides far more per request. Free slots go to
 * waiting lanes in turn, one each, so a busy subscription does not crowd out a quiet one.
 *
 * Isolation comes first: an attempt still outstanding after `slowAfterMs` (a slow or hanging
 * endpoint) gives its slot back, so an endpoint that hangs holds the budget only briefly, and
 * from then on only its lane's own limit applies, as it would without the budget.
 */
export class SendBudget {
  /** Attempts that count: started, not ended, not yet slow. */
  private counted = 0;
  /** Permits in start order (hence in order of becoming slow), from `head` on. */
  private readonly started: Permit[] = [];
  private head = 0;
  private readonly waiters = new Set<PermitWaiter>();
  private waking = false;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(private readonly settings: SendBudgetSettings) {}

  /** No bound: every take succeeds (a lane on its own, as in unit tests). */
  static unlimited(): SendBudget {
    return new SendBudget({ limit: fixedLimit(Infinity), slowAfterMs: Infinity, now: () => 0 });
  }

  /** Attempts that may count at once now. */
  get limit(): number {
    return this.settings.limit.limit;
  }

  /** Attempts counting against the budget now. */
  get inFlight(): number {
    return this.counted;
  }

  /** Lanes waiting for a slot. */
  get waiting(): number {
    return this.waiters.size;
  }

  /**
   * A slot now, or null when none is free or other lanes wait for one (they come first: then
   * `wait` with the lane's waiter).
   */
  tryTake(): SendPermit | null {
    const limit = this.settings.limit.limit;
    if (limit === Infinity) return NO_BUDGET;
    if (this.counted >= limit) {
      this.settings.limit.noteLimited();
      return null;
    }
    return this.waiters.size > 0 ? null : this.grant();
  }

  /** How long an attempt took its endpoint (an adaptive limit learns from it). */
  sample(latencyMs: number): void {
    this.settings.limit.sample(latencyMs);
    this.wake();
  }

  /** `waiter` is called with a permit when a slot is free; once, however often it asks. */
  wait(waiter: PermitWaiter): void {
    this.waiters.add(waiter);
    this.wake();
  }

  /** `waiter` no longer wants a slot (its lane closed). */
  cancel(waiter: PermitWaiter): void {
    this.waiters.delete(waiter);
  }

  /** Stops the sweep (the engine stopped). */
  close(): void {
    clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    this.waiters.clear();
  }

  /** A counted permit was released. */
  freed(): void {
    this.counted -= 1;
    this.wake();
  }

  private grant(): Permit {
    const permit = new Permit(this, this.settings.now());
    this.counted += 1;
    this.started.push(permit);
    this.sweepTimer ??= setTimeout(() => this.sweep(), this.settings.slowAfterMs).unref();
    return permit;
  }

  /** Hands free slots to waiting lanes, oldest waiter first; never re-entered. */
  private wake(): void {
    if (this.waking) return;
    this.waking = true;
    try {
      while (this.waiters.size > 0 && this.counted < this.settings.limit.limit) {
        const waiter: PermitWaiter = this.waiters.values().next().value!;
        this.waiters.delete(waiter);
        waiter(this.grant());
      }
    } finally {
      this.waking = false;
    }
  }

  /** Forgets ended permits and stops counting the slow ones; runs while any are outstanding. */
  private sweep(): void {
    this.sweepTimer = undefined;
    const now = this.settings.now();
    let nextDueMs: number | undefined;
    let slow = 0;
    while (this.head < this.started.length) {
      const permit = this.started[this.head]!;
      if (permit.state === 0) {
        const dueMs = permit.startMs + this.settings.slowAfterMs;
        if (dueMs > now) {
          nextDueMs = dueMs;
          break;
        }
        permit.state = SLOW;
        this.counted -= 1;
        slow += 1;
      }
      this.head += 1;
    }
    if (slow > 0) this.settings.onSlow?.(slow);
    this.started.splice(0, this.head);
    this.head = 0;
    if (this.started.length > 0)
      this.sweepTimer = setTimeout(
        () => this.sweep(),
        Math.max(10, (nextDueMs ?? now) - now),
      ).unref();
    this.wake();
  }
}
