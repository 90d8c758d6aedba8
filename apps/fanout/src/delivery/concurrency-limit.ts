import type { InFlightLimit } from './send-budget';

/** A round is at least this many attempts, so a small limit is not judged on two samples. */
const MIN_ROUND = 10;
/**
 * A round's latency up to this many times the unloaded one is no queue: latency that varies by
 * itself (a remote endpoint, a busy network) must not read as load, and a receiver needs a few
 * requests waiting to stay busy.
 */
const TOLERANCE = 1.5;

export interface ConcurrencyLimitOptions {
  /**
   * Told when a cut proved not to be the origin's queue (the origin got slower whatever we
   * send): the unloaded latency was re-based from `fromMs` to `toMs` and the limit put back to
   * `limit` (for a log line).
   */
  readonly onRebase?: (fromMs: number, toMs: number, limit: number) => void;
  /**
   * Milliseconds: a round this slow is an origin that hangs or times out, never re-based to (a
   * timeout caps latency, which hides whether a queue is ours; and attempts this old stop
   * counting against the limit anyway). Default 1,000, as `HERALD_DELIVERY_SLOW_REQUEST_MS`.
   */
  readonly hangingMs?: number;
}

/** A round too slow, after a cut: the limit the lanes filled, and the latency over unloaded. */
interface Reference {
  readonly limit: number;
  readonly excessMs: number;
}

/** Rounds above the tolerance, and the cuts they caused. */
interface Episode {
  /** The limit before the first cut: what a re-base puts back. */
  readonly start: number;
  /** What the next decisive round is judged against. */
  reference?: Reference;
}

/**
 * How many attempts may be in flight to one origin, between a floor and a maximum, found from
 * its latency. Each round of `max(limit, 10)` attempts is judged once, on its median latency (a
 * queue delays every request, while a few slow ones are the endpoint's own variance).
 *
 * The lowest round latency seen is what the origin takes unloaded. While a round stays within
 * 1.5 times that and lanes have work waiting for a slot, the limit grows, doubling from the start
 * (slow start) until the first cut, then by `log10(limit)` a round. A round slower than that may
 * mean requests queue at the origin: the limit is cut in proportion (to
 * `limit × 1.5 × unloaded / latency`, at most halved a round). The attempts still in flight from
 * before a cut are not judged: they tell of the old limit.
 *
 * The cuts test that guess. By Little's law a queue of ours shrinks as we send less: at a lower
 * limit latency falls about in proportion to the load (what the origin serves a second stays),
 * while an origin that got slower by itself (its database went from 5 to 50 ms) answers as
 * slowly as before (what it serves a second fell with the cuts). The first round after a cut
 * that is still too slow, with the lanes filling the limit, is the reference (not the round
 * that caused the cut: that one may mix attempts from before a rise with those after it). A
 * later round still too slow decides once the limit is half the reference's or less (a smaller
 * fall of the load is lost in noise), or at the floor (where it can fall no further): if its
 * excess over the unloaded latency (the queue's part: the network's and the service's do not
 * change with the load) did not fall by at least the square root of the load's fall (the
 * geometric middle between "fell in proportion" and "did not fall"), the latency is not ours. Its level becomes the unloaded latency (a re-base), the cuts are undone and the limit
 * grows from there as from the start. Else the cuts go on, judged against that round from then
 * on. A round back within the tolerance ends the test: the cuts were right. A round at or above
 * `hangingMs` is never re-based to.
 *
 * So a remote endpoint whose latency does not rise with load gets every request its
 * subscriptions' `maxInFlight` allow, also after it got slower; one that slows down under load
 * (or a receiver short of CPU) gets about as many as it serves at once, not a queue of them,
 * which only makes each one slower and costs both sides more per request. The unloaded latency
 * otherwise only goes down: it does not creep up while a queue is held, as a window of recent
 * rounds would once it forgot the unloaded ones.
 */
export class ConcurrencyLimit implements InFlightLimit {
  private value: number;
  private slowStart = true;
  private unloadedMs = Infinity;
  private readonly round: number[] = [];
  private limitedInRound = false;
  /** Samples still to come from attempts sent before the last cut: not judged. */
  private draining = 0;
  private episode: Episode | undefined;
  private readonly lowest: number;
  private readonly hangingMs: number;

  constructor(
    private readonly max: number,
    floor: number,
    /** Told when a queue made the limit go down (for a log line). */
    private readonly onCut?: (from: number, to: number) => void,
    private readonly options: ConcurrencyLimitOptions = {},
  ) {
    this.lowest = Math.max(1, Math.min(max, floor));
    this.value = this.lowest;
    this.hangingMs = options.hangingMs ?? 1000;
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
    if (this.lowest >= this.max) return; // a fixed limit
    if (this.draining > 0) {
      this.draining -= 1;
      return;
    }
    this.round.push(latencyMs);
    if (this.round.length < Math.max(this.limit, MIN_ROUND)) return;
    const roundMs = median(this.round);
    const limited = this.limitedInRound;
    this.round.length = 0;
    this.limitedInRound = false;
    this.unloadedMs = Math.min(this.unloadedMs, roundMs);
    const ceilingMs = this.unloadedMs * TOLERANCE;
    if (roundMs <= ceilingMs) {
      this.episode = undefined;
      if (limited)
        this.set(
          this.slowStart ? this.value * 2 : this.value + Math.max(1, Math.log10(this.value)),
        );
      return;
    }
    const excessMs = roundMs - this.unloadedMs;
    const episode = this.episode;
    if (episode === undefined) this.episode = { start: this.limit };
    else if (episode.reference === undefined || this.decides(episode.reference)) {
      if (episode.reference !== undefined && this.notOurs(episode.reference, roundMs)) {
        this.rebase(episode.start, roundMs);
        return;
      }
      // Only a limit the lanes filled falls with the load when it is cut.
      if (limited) episode.reference = { limit: this.limit, excessMs };
    }
    const before = this.limit;
    this.slowStart = false;
    this.set(this.value * Math.max(0.5, ceilingMs / roundMs));
    if (this.limit >= before) return;
    this.draining = before;
    this.onCut?.(before, this.limit);
  }

  /** The load fell enough since `reference` to tell (or can fall no further). */
  private decides(reference: Reference): boolean {
    return this.limit <= reference.limit / 2 || this.limit <= this.lowest;
  }

  /** The latency did not fall with the load since `reference`. */
  private notOurs(reference: Reference, roundMs: number): boolean {
    const fall = this.limit / reference.limit;
    return (
      roundMs < this.hangingMs && roundMs - this.unloadedMs >= reference.excessMs * Math.sqrt(fall)
    );
  }

  private rebase(limit: number, roundMs: number): void {
    const fromMs = this.unloadedMs;
    this.unloadedMs = roundMs;
    this.episode = undefined;
    this.slowStart = true;
    this.set(limit);
    this.options.onRebase?.(fromMs, roundMs, this.limit);
  }

  private set(next: number): void {
    this.value = Math.max(this.lowest, Math.min(this.max, next));
  }
}

/** The middle value (the mean of the middle two); sorts `values`. */
function median(values: number[]): number {
  values.sort((a, b) => a - b);
  const middle = values.length >> 1;
  return values.length % 2 === 1 ? values[middle]! : (values[middle - 1]! + values[middle]!) / 2;
}
