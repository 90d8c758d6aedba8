/** The interval of fanout's throttled log lines: at most one a minute for each. */
const LOG_INTERVAL_MS = 60_000;

/**
 * Lets a log line through at most once an interval, for the whole instance or for each key (a
 * subscription, an origin), so a condition that holds on every attempt or batch is logged, not
 * repeated. Past `maxKeys` keys it forgets them all (a line more, never a growing map).
 */
export class LogThrottle {
  private readonly loggedAt = new Map<string, number>();

  constructor(
    private readonly intervalMs = LOG_INTERVAL_MS,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 10_000,
  ) {}

  /** True when a line for `key` may be written now; it is then counted as written. */
  due(key = ''): boolean {
    const nowMs = this.now();
    const last = this.loggedAt.get(key);
    if (last !== undefined && nowMs - last < this.intervalMs) return false;
    if (last === undefined && this.loggedAt.size >= this.maxKeys) this.loggedAt.clear();
    this.loggedAt.set(key, nowMs);
    return true;
  }
}
