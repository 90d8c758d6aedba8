import { performance } from 'node:perf_hooks';

/** How often the clock looks whether the event loop is turning. */
const TICK_MS = 100;
/** The busy share is taken over about this long (a lane's pace window). */
const BUSY_WINDOW_MS = 1000;

/** Milliseconds the event loop has spent busy and idle since the process started. */
export interface LoopTimes {
  readonly active: number;
  readonly idle: number;
}

function nodeLoopTimes(): LoopTimes {
  return performance.eventLoopUtilization();
}

/**
 * The time this process has had to run: wall-clock time less the spells its event loop was
 * blocked (a long synchronous stretch such as a large batch of records, a garbage collection, the
 * machine starving the process of CPU). A tick that comes more than a tick late marks such a
 * spell, and a spell still going on counts as it lasts, so the clock stands still while the loop
 * is blocked and never runs backwards.
 *
 * A lane measures its endpoint's silence and its pace on this clock: an answer that arrived while
 * this process could not read it is not the endpoint's stall. (Taking such a spell for one parked
 * a healthy lane's work in Redis in the benchmark, where it is sent several times slower.)
 *
 * It also tells how busy the event loop has been over the last second (`busyShare`): near 1, this
 * process is the bound, and a lane settles work at its pace, not its endpoint's.
 */
export class LoopClock {
  private lastTick: number;
  private blocked = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The loop's busy and idle times at the last ticks, oldest first (about a second's worth). */
  private readonly times: LoopTimes[];

  constructor(
    private readonly wall: () => number = Date.now,
    private readonly tickMs: number = TICK_MS,
    private readonly loopTimes: () => LoopTimes = nodeLoopTimes,
  ) {
    this.lastTick = wall();
    this.times = [loopTimes()];
  }

  start(): void {
    this.timer ??= setInterval(() => this.tick(), this.tickMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Called every `tickMs` by the timer (by tests directly). */
  tick(): void {
    const wall = this.wall();
    this.blocked += this.overdue(wall);
    this.lastTick = wall;
    this.times.push(this.loopTimes());
    if (this.times.length > Math.max(2, Math.round(BUSY_WINDOW_MS / this.tickMs) + 1))
      this.times.shift();
  }

  /**
   * The share of the last second (since the oldest tick kept) the event loop spent running
   * callbacks rather than waiting for I/O: 0 to 1; 0 before any time has passed.
   */
  busyShare(): number {
    const now = this.loopTimes();
    const since = this.times[0]!;
    const active = now.active - since.active;
    const total = active + now.idle - since.idle;
    return total > 0 ? active / total : 0;
  }

  /** Milliseconds, on the wall clock's scale, less the time the loop spent blocked. */
  now(): number {
    const wall = this.wall();
    return wall - this.blocked - this.overdue(wall);
  }

  /** How far past a tick's slack (one tick late) the tick due at `wall` is. */
  private overdue(wall: number): number {
    return Math.max(0, wall - this.lastTick - 2 * this.tickMs);
  }
}
