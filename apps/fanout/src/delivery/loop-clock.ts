/** How often the clock looks whether the event loop is turning. */
const TICK_MS = 100;

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
 */
export class LoopClock {
  private lastTick: number;
  private blocked = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly wall: () => number = Date.now,
    private readonly tickMs: number = TICK_MS,
  ) {
    this.lastTick = wall();
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
