import type { InFlightLimit } from './send-budget';

/** Round averages the no-load latency is taken from: the lowest of the last this many. */
const WINDOW_ROUNDS = 200;
/** A round is at least this many attempts, so a small limit is not judged on two samples. */
const MIN_ROUND = 10;

/**
 * How many attempts may be in flight to one origin, between a floor and a maximum, found from
 * its latency (after TCP Vegas): the lowest recent latency is what the origin takes unloaded,
 * and `limit × (1 − lowest / current)` is how many requests wait in a queue there instead of
 * being served. The limit grows while that queue stays short and lanes have work waiting for a
 * slot, and is cut back to a short queue when it grows long. A remote endpoint whose latency
 * does not rise with load gets every request its subscriptions' `maxInFlight` allow; one that
 * slows down under load (or a receiver short of CPU) gets about as many as it serves at once,
 * not a queue of them, which only makes each one slower and costs both sides more per request.
 *
 * Each round of `max(limit, 10)` attempts is judged once. From the start the limit doubles
 * each round until a queue shows (slow start), then it grows by `log10(limit)` at a time.
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

  /** Attempts the lane may have in flight now. */
  get limit(): number {
    return Math.floor(this.value);
  }

  /** The lane had a task ready and no slot for it: a higher limit would have been used. */
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
    const queued = averageMs > 0 ? this.value * (1 - unloadedMs / averageMs) : 0;
    const step = Math.max(1, Math.log10(this.value));
    const [alpha, beta] = [3 * step, 6 * step];
    let next = this.value;
    if (queued > beta) {
      this.slowStart = false;
      next = this.value - (queued - alpha);
    } else if (queued < alpha) {
      if (limited) next = this.slowStart ? this.value * 2 : this.value + step;
    } else this.slowStart = false;
    const before = this.limit;
    this.value = Math.max(Math.min(this.floor, this.max), Math.min(this.max, next));
    if (this.limit < before) this.onCut?.(before, this.limit);
  }
}
