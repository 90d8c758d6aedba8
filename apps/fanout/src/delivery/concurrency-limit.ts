import type { InFlightLimit } from './send-budget';

/** Round averages the no-load latency is taken from: the lowest of the last this many. */
const WINDOW_ROUNDS = 200;
/** A round is at least this many attempts, so a small limit is not judged on two samples. */
const MIN_ROUND = 10;
/**
 * A round's average latency up to this many times the unloaded one is no queue: latency that
 * varies by itself (a remote endpoint, a busy network) must not read as load, and a receiver
 * needs a few requests waiting to stay busy.
 */
const TOLERANCE = 1.5;

/**
 * How many attempts may be in flight to one origin, between a floor and a maximum, found from
 * its latency: the lowest recent round average is what the origin takes unloaded. While a
 * round's average stays within 1.5 times that and lanes have work waiting for a slot, the limit
 * grows, doubling from the start (slow start) until the first cut, then by `log10(limit)` a
 * round. A round slower than that means requests queue at the origin: the limit is cut in
 * proportion (to `limit × 1.5 × unloaded / average`, at most halved a round). A remote endpoint
 * whose latency does not rise with load gets every request its subscriptions' `maxInFlight`
 * allow; one that slows down under load (or a receiver short of CPU) gets about as many as it
 * serves at once, not a queue of them, which only makes each one slower and costs both sides
 * more per request.
 *
 * Each round of `max(limit, 10)` attempts is judged once.
 */
export class ConcurrencyLimit implements InFlightLimit {
  private value: number;
  private slowStart = true;
  private roundCount = 0;
  private roundSumMs = 0;
  private limitedInRound = false;
  private readonly rounds: number[] = [];

  constructor(
    private readonly max: number,
    private readonly floor: number,
    /** Told when a queue made the limit go down (for a log line). */
    private readonly onCut?: (from: number, to: number) => void,
  ) {
    this.value = Math.max(1, Math.min(max, floor));
  }

  /** Attempts that may be in flight now. */
  get limit(): number {
    return Math.floor(this.value);
  }

  /** A lane had a task ready and no slot for it: a higher limit would have been used. */
  noteLimited(): void {
    this.limitedInRound = true;
  }

  /** One attempt's latency (connect to response, or to its timeout). */
  sample(latencyMs: number): void {
    this.roundSumMs += latencyMs;
    this.roundCount += 1;
    if (this.roundCount < Math.max(this.limit, MIN_ROUND)) return;
    const averageMs = this.roundSumMs / this.roundCount;
    const limited = this.limitedInRound;
    this.roundCount = 0;
    this.roundSumMs = 0;
    this.limitedInRound = false;
    this.rounds.push(averageMs);
    if (this.rounds.length > WINDOW_ROUNDS) this.rounds.shift();
    const unloadedMs = Math.min(...this.rounds);
    let next = this.value;
    if (averageMs > unloadedMs * TOLERANCE) {
      this.slowStart = false;
      next = this.value * Math.max(0.5, (unloadedMs * TOLERANCE) / averageMs);
    } else if (limited)
      next = this.slowStart ? this.value * 2 : this.value + Math.max(1, Math.log10(this.value));
    const before = this.limit;
    this.value = Math.max(Math.min(this.floor, this.max), Math.min(this.max, next));
    if (this.limit < before) this.onCut?.(before, this.limit);
  }
}
