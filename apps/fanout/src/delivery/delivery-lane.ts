import type { ClaimedTask, ParkOutcome } from '@herald/store';
import type { DeliveryTask } from './delivery-task';
import { RateLimiter } from './rate-limiter';
import { SendBudget, type SendPermit } from './send-budget';

export interface LaneSettings {
  /** Requests in flight at once. */
  readonly maxInFlight: number;
  /** Requests started per second, or null for no limit. */
  readonly maxPerSecond: number | null;
  /**
   * Tasks held in memory past which new ones are parked in Redis instead, once the lane has
   * made no progress for `stallMs` (a hanging endpoint: what it holds is parked too, and so is
   * all new work until an attempt is delivered), or would take longer than `drainLimitMs` to send
   * what it holds at the pace it has been settling tasks (a slow or rate-limited endpoint):
   * isolation, since what a lane holds unsettled holds its partitions' backlog, and so the
   * reading for every subscription. A busy lane that keeps pace keeps its work in memory; the
   * partition's backlog bound holds the reading back.
   */
  readonly spillAt: number;
  readonly stallMs: number;
  /** Default 30 s. */
  readonly drainLimitMs?: number;
}

const DEFAULT_DRAIN_LIMIT_MS = 30_000;
/** The lane's pace (tasks settled a millisecond) is measured over windows this long at least. */
const PACE_WINDOW_MS = 1000;
/**
 * A window over which this process's event loop was busy at least this share of the time gives
 * no pace: the lane settled work as fast as this process got to it, whatever its endpoint can take.
 */
const SATURATED_LOOP_SHARE = 0.9;

/** The I/O a lane needs; the delivery engine provides it. */
export interface LaneIo {
  /**
   * Starts an attempt holding `permit` (a slot of the instance's send budget), which the engine
   * releases when the attempt ends, before it calls `finished` with the result.
   */
  send(task: DeliveryTask, permit: SendPermit): void;
  /** Parks a task durably; `append` only joins a queue that exists. */
  park(task: DeliveryTask, mode: 'create' | 'append', dueMs: number): Promise<ParkOutcome>;
  /**
   * How long a copy of an ordered head still in flight is held claimed when its key is spilled
   * (longer than any attempt takes); an instance that dies meanwhile lets it come due.
   */
  readonly inFlightLeaseMs: number;
  /**
   * Settles the parked copy of a spilled head (claimed by this lane) with its attempt's result:
   * removed once delivered or dead-lettered (the rest of its key comes due), its retry written
   * back otherwise.
   */
  finishSpilled(claim: ClaimedTask, task: DeliveryTask, result: TaskResult): Promise<void>;
  /**
   * The lane parked `count` tasks it held in memory: its endpoint went silent, it held more than
   * it would send within the drain limit at its pace, or more than its memory's bound while it
   * held back a partition the others read on.
   */
  spilled(count: number, reason: SpillReason): void;
  now(): number;
  /**
   * The time this process has had to run (see LoopClock), on which the lane measures its
   * endpoint's silence and pace.
   */
  runningNow(): number;
  /** The share of the last second this process's event loop was busy (see LoopClock), 0 to 1. */
  loopBusyShare(): number;
  /**
   * A pace window of this lane's ended with the event loop busy `busyShare` of the time: its
   * pace is this process's, so none is taken (nothing is parked for it).
   */
  paceUnmeasured(busyShare: number): void;
  /** Runs `run` after `delayMs`; returns a cancel function. */
  schedule(delayMs: number, run: () => void): () => void;
  /** A park failed (Redis away); it is tried again. */
  parkFailed(error: unknown): void;
  /**
   * Redis named another owner of a partition this instance holds (its claim was lost with
   * Redis's last writes, or a stale claim of a former owner landed late): claim it again.
   */
  ownerRefused(topic: string, partition: number): void;
}

/** Why a lane parked what it held (see LaneIo.spilled). */
export type SpillReason = 'silent' | 'pace' | 'held_back';

/** What a lane at its own limits keeps in memory, and which rule set it. */
interface MemoryLimit {
  readonly keep: number;
  readonly reason: 'pace' | 'held_back';
}

/**
 * How an attempt of a task from Kafka (not one claimed from parking) ended for the lane:
 * `settled` (delivered, dead-lettered or dropped), `retry` in memory after `delayMs`, `park`
 * durably until `dueMs`, or `abandoned` (its partition moved; nothing more to do here).
 */
export type TaskResult =
  | { readonly kind: 'settled' }
  | { readonly kind: 'retry'; readonly delayMs: number }
  | { readonly kind: 'park'; readonly dueMs: number }
  | { readonly kind: 'abandoned' };

/** The tasks of one ordering key in this lane. */
interface KeyQueue {
  /** Head first; only the head is ever ready or in flight. */
  readonly tasks: DeliveryTask[];
  /** The key has a parked queue in Redis: new tasks go behind it. */
  parked: boolean;
  /** Park calls under way; they run one after another to keep the key's order. */
  pending: number;
  chain: Promise<void>;
  readonly topic: string;
  readonly partition: number;
  /** The key's head still in flight when the key was spilled (its copy heads the parked queue). */
  spilledHead: DeliveryTask | null;
}

/** An ordered head in flight whose key was spilled, and what parking its copy came to. */
interface SpilledHead {
  readonly queue: KeyQueue;
  outcome: ParkOutcome | 'closed' | 'pending';
  /** The copy heads a new parked queue, claimed by this lane until `lease`. */
  claim: ClaimedTask | null;
}

const PARK_RETRY_MS = 500;

/**
 * A park that leaves the task done for the lane: parked in Redis, or refused because its
 * subscription was deleted meanwhile (a deleted subscription's tasks are not delivered; the
 * lane hears of the deletion with the next notice).
 */
function isParkedOrGone(outcome: ParkOutcome | 'closed'): boolean {
  return outcome === 'parked' || outcome === 'queued' || outcome === 'no-subscription';
}

/** A park refused because Redis names another owner of a partition this instance holds. */
class PartitionOwnerMismatchError extends Error {
  constructor(topic: string, partition: number) {
    super(
      `Redis names another owner of ${topic}/${partition}, which this instance holds; claiming it again, then parking again`,
    );
    this.name = 'PartitionOwnerMismatchError';
  }
}

/**
 * One subscription's lane: at most `maxInFlight` requests at once, each holding a slot of its
 * origin's budget (shared with the other subscriptions sending there), optionally at most
 * `maxPerSecond`, and for ordered tasks a FIFO per key of which only the head is ever in
 * flight, so other keys keep flowing while one waits. A key whose head must wait long is parked
 * in Redis with everything behind it, and later tasks of that key join the parked queue. When
 * too many tasks are held in memory (a slow or hanging endpoint), new ones are parked too, so
 * the lane never holds back the partitions other subscriptions read from.
 */
export class DeliveryLane {
  private readonly ready: DeliveryTask[] = [];
  private readyHead = 0;
  private readonly keys = new Map<string, KeyQueue>();
  private limiter: RateLimiter | null;
  private readonly timers = new Set<() => void>();
  private pumpTimer: (() => void) | null = null;
  private inFlightCount = 0;
  /** Tasks from Kafka in memory (queued, waiting, in flight), for the spill decision. */
  private held = 0;
  private closed = false;
  /** When an attempt last finished (or the lane last went from idle to busy). */
  private progressAt: number;
  /**
   * Tasks settled since `paceSince`; the pace of the last full window (null: none, or this
   * process saturated through it); and the lane's pace: the last window's if attempts failed in
   * it, else the better of its last two windows (null unless both gave one).
   */
  private settledSincePace = 0;
  private paceSince: number;
  private lastWindowPace: number | null = null;
  private pace: number | null = null;
  /**
   * An attempt failed (a retry or a park) since `paceSince`, and in the last full window: then
   * the pace is its endpoint's (retries take their time), however busy this process is.
   */
  private failedSincePace = false;
  private lastWindowFailed = false;
  /**
   * Running time until which the lane counts as holding back a partition the other
   * subscriptions keep up with (see holdsBackPartition).
   */
  private holdingBackUntil = -Infinity;
  private closeMode: 'drop' | 'hand-back' = 'drop';
  /** Ordered heads in flight (close and dropPartition leave them to their result). */
  private readonly inFlightHeads = new Set<DeliveryTask>();
  /** Unordered tasks waiting for an in-memory retry. */
  private readonly retrying = new Set<DeliveryTask>();
  /** It stalled and parked what it held: new work is parked too until an attempt is delivered. */
  private spilling = false;
  private readonly spilledHeads = new Map<DeliveryTask, SpilledHead>();
  /** Looks for a stall once `stallMs` has passed without progress while over `spillAt`. */
  private stallTimer: (() => void) | null = null;
  /** Called by the send budget with a slot once the lane's turn comes. */
  private readonly onPermit = (permit: SendPermit): void => this.pump(permit);

  constructor(
    readonly subscriptionId: string,
    private settings: LaneSettings,
    private readonly io: LaneIo,
    /** Shared with the lanes of the same origin: attempts in flight there across all of them. */
    private budget: SendBudget = SendBudget.unlimited(),
  ) {
    this.limiter =
      settings.maxPerSecond === null ? null : new RateLimiter(settings.maxPerSecond, io.now());
    this.progressAt = this.io.runningNow();
    this.paceSince = this.progressAt;
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  /** Tasks held in memory, in flight included. */
  get size(): number {
    return this.held;
  }

  /**
   * How many tasks claimed from parking it can take now (counting `ending` of its attempts in
   * flight as over): as many as it has free slots for and,
   * with a rate limit, no more than it can start within `startWithinMs` (a claim's lease runs
   * out otherwise while the task still waits, and another instance sends it too).
   */
  capacity(startWithinMs: number, ending = 0): number {
    if (this.closed) return 0;
    const slots = this.settings.maxInFlight - this.inFlightCount + ending - this.readyLength();
    if (this.settings.maxPerSecond === null) return Math.max(0, slots);
    const startable = Math.max(1, Math.floor((this.settings.maxPerSecond * startWithinMs) / 1000));
    return Math.max(0, Math.min(slots, startable - this.readyLength()));
  }

  /** New limits (the subscription changed): a new `maxPerSecond` starts a bucket of its own. */
  update(settings: LaneSettings): void {
    if (settings.maxPerSecond !== this.settings.maxPerSecond) {
      this.limiter =
        settings.maxPerSecond === null
          ? null
          : new RateLimiter(settings.maxPerSecond, this.io.now());
      // A wait worked out at the old rate ends now; the new bucket decides.
      this.pumpTimer?.();
      this.pumpTimer = null;
    }
    this.settings = settings;
    this.pump();
  }

  /** Takes a task read from Kafka (live or replay). */
  enqueue(task: DeliveryTask): void {
    if (this.closed) {
      this.settleDropped(task);
      return;
    }
    if (this.held === 0 && this.inFlightCount === 0) {
      // Busy again after idling: an idle spell says nothing of its pace.
      this.progressAt = this.io.runningNow();
      this.paceSince = this.progressAt;
      this.settledSincePace = 0;
    }
    // Past the bound (with this task): a second without progress spills what it holds.
    if (!this.spilling && this.held + 1 >= this.settings.spillAt) {
      if (
        this.held >= this.settings.spillAt &&
        this.io.runningNow() - this.progressAt >= this.settings.stallMs
      )
        this.spillHeld();
      // Past its pace, new work is parked below (stalled); what it holds past that is parked on
      // the watch, when no new work may come (its partitions paused for the backlog).
      else this.watchStall();
    }
    if (!task.ordered) {
      if (this.stalled()) this.parkAlone(task, this.io.now());
      else this.accept(task);
      return;
    }
    let queue = this.keys.get(task.queueId);
    if (queue?.parked) {
      this.chainPark(queue, task, 'append');
      return;
    }
    if (queue && queue.tasks.length > 0) {
      queue.tasks.push(task);
      this.held += 1;
      return;
    }
    queue = this.newQueue(task);
    if (this.stalled()) {
      queue.parked = true;
      this.chainPark(queue, task, 'create');
      return;
    }
    queue.tasks.push(task);
    this.accept(task);
  }

  /** Takes a task claimed from parking: it goes straight to the ready queue. */
  enqueueClaimed(task: DeliveryTask): void {
    this.pushReady(task);
    this.pump();
  }

  /** Records that `queueId` has a parked queue in Redis (learnt when a partition is assigned). */
  markParked(queueId: string, topic: string, partition: number): void {
    const queue = this.keys.get(queueId);
    if (queue) queue.parked = true;
    else
      this.keys.set(queueId, {
        tasks: [],
        parked: true,
        pending: 0,
        chain: Promise.resolve(),
        topic,
        partition,
        spilledHead: null,
      });
  }

  /** The keys this lane knows to have a parked queue in Redis. */
  parkedKeys(): { queueId: string; topic: string; partition: number }[] {
    return [...this.keys]
      .filter(([, queue]) => queue.parked)
      .map(([queueId, queue]) => ({ queueId, topic: queue.topic, partition: queue.partition }));
  }

  /** How long an attempt took its endpoint to answer (or to time out), for the origin's limit. */
  noteLatency(latencyMs: number): void {
    this.budget.sample(latencyMs);
  }

  /** The subscription moved to another origin: its next attempts count against that one's budget. */
  moveTo(budget: SendBudget): void {
    if (budget === this.budget) return;
    this.budget.cancel(this.onPermit);
    this.budget = budget;
    this.pump();
  }

  /**
   * A partition this lane has work of was paused at its backlog bound with many more of this
   * lane's tasks unsettled than another subscription reading it has. Such a lane may drain what it
   * holds within the drain limit and still be slower than its traffic (what the partitions it
   * reads may hold unsettled is less than the drain limit's worth at its pace): then it holds
   * them back at its pace. For `drainLimitMs` after, renewed while it is still over, a lane at
   * its own limits with a pace keeps `spillAt` tasks in memory and parks the rest, newest first.
   */
  holdsBackPartition(): void {
    if (this.closed) return;
    this.holdingBackUntil = this.io.runningNow() + this.drainLimitMs();
    if (this.spilling || this.held < this.settings.spillAt) return;
    const limit = this.paceLimit();
    if (limit !== null) this.spillExcess(limit);
    // Without a pace yet: the watch looks again while it holds that much.
    this.watchStall();
  }

  /**
   * An attempt of this lane's was delivered (claimed from parking or not): its endpoint answers
   * again, so new work is held in memory again.
   */
  delivered(): void {
    this.spilling = false;
  }

  /** The engine's report on a task this lane sent. */
  finished(task: DeliveryTask, result: TaskResult): void {
    this.inFlightCount -= 1;
    this.progressAt = this.io.runningNow();
    if (result.kind === 'retry' || result.kind === 'park') this.failedSincePace = true;
    if (task.claim === null) this.settleResult(task, result);
    this.pump();
  }

  /**
   * Forgets the tasks read from a partition that moved to another instance, without settling
   * them: the new owner reads them again from the committed offset.
   */
  dropPartition(topic: string, partition: number): void {
    const fromPartition = (task: DeliveryTask) =>
      task.claim === null &&
      task.origin === 'live' &&
      task.source.topic === topic &&
      task.source.partition === partition;
    const dropped = new Set<DeliveryTask>();
    const keep = this.readyTasks().filter((task) => {
      if (!fromPartition(task)) return true;
      dropped.add(task);
      return false;
    });
    this.ready.length = 0;
    this.readyHead = 0;
    this.ready.push(...keep);
    for (const task of this.retrying) if (fromPartition(task)) dropped.add(task);
    for (const task of dropped) this.retrying.delete(task);
    for (const [queueId, queue] of this.keys) {
      if (queue.topic !== topic || queue.partition !== partition || queueId.startsWith('r.'))
        continue;
      // An in-flight head is reported as abandoned later and counted then.
      for (const task of queue.tasks) if (!this.inFlightHeads.has(task)) dropped.add(task);
      queue.tasks.length = 0;
      this.keys.delete(queueId);
    }
    this.held -= dropped.size;
  }

  /**
   * Stops the lane and returns the tasks claimed from parking for the engine to finish. `drop`
   * (the subscription was deleted, paused or disabled): tasks from Kafka are settled as dropped.
   * `hand-back` (shutdown): they are left unsettled, so their offsets are not committed and
   * whoever reads the partition next sends them; attempts in flight settle only if delivered.
   */
  close(mode: 'drop' | 'hand-back' = 'drop'): DeliveryTask[] {
    this.closed = true;
    this.closeMode = mode;
    this.budget.cancel(this.onPermit);
    for (const cancel of this.timers) cancel();
    this.timers.clear();
    this.pumpTimer?.();
    this.stallTimer?.();
    this.stallTimer = null;
    const claimed: DeliveryTask[] = [];
    const drop = mode === 'drop';
    for (const task of this.readyTasks()) {
      if (task.claim) claimed.push(task);
      else if (!task.ordered && drop) task.ticket?.settle(task.subscriptionId);
    }
    this.ready.length = 0;
    this.readyHead = 0;
    if (drop) for (const task of this.retrying) task.ticket?.settle(task.subscriptionId);
    this.retrying.clear();
    for (const queue of this.keys.values()) {
      // An in-flight head settles when its result comes back.
      if (drop)
        for (const task of queue.tasks)
          if (!this.inFlightHeads.has(task)) task.ticket?.settle(task.subscriptionId);
      // Emptied, so a park of the key still waiting in its chain finds nothing to park (and
      // settle a second time).
      queue.tasks.length = 0;
    }
    this.keys.clear();
    return claimed;
  }

  private settleResult(task: DeliveryTask, result: TaskResult): void {
    this.inFlightHeads.delete(task);
    const spilled = this.spilledHeads.get(task);
    if (spilled) {
      this.finishSpilledHead(task, spilled, result);
      return;
    }
    const queue = task.ordered ? this.keys.get(task.queueId) : undefined;
    if (this.closed) {
      const done =
        this.closeMode === 'drop' ? result.kind !== 'abandoned' : result.kind === 'settled';
      if (done) task.ticket?.settle(task.subscriptionId);
      return;
    }
    switch (result.kind) {
      case 'settled':
      case 'abandoned':
        this.held -= 1;
        this.notePace();
        if (result.kind === 'settled') task.ticket?.settle(task.subscriptionId);
        if (queue && queue.tasks[0] === task) {
          queue.tasks.shift();
          this.advance(queue, task.queueId);
        }
        return;
      case 'retry': {
        if (!queue) this.retrying.add(task);
        const cancel = this.io.schedule(result.delayMs, () => {
          this.timers.delete(cancel);
          if (this.closed) return;
          if (queue ? queue.tasks[0] !== task : !this.retrying.delete(task)) return; // dropped meanwhile
          this.pushReady(task);
          this.pump();
        });
        this.timers.add(cancel);
        return;
      }
      case 'park':
        if (queue && queue.tasks[0] === task) this.parkQueue(queue, result.dueMs);
        else {
          this.held -= 1;
          this.parkAlone(task, result.dueMs);
        }
        return;
    }
  }

  private stalled(): boolean {
    if (this.spilling) return true;
    if (this.held < this.settings.spillAt) return false;
    if (this.io.runningNow() - this.progressAt >= this.settings.stallMs) return true;
    // Only a lane at its own limits (every `maxInFlight` slot taken, or waiting for its
    // `maxPerSecond`) is slow by its endpoint or its settings; one held back by its origin's
    // shared limit or by this instance's pace is as behind as the lanes beside it, and parking
    // its work would only cost Redis round trips.
    return this.paceLimit() !== null;
  }

  /**
   * What the lane may hold in memory at its pace (what it would send within `drainLimitMs`, or
   * `spillAt` while it holds back a partition the others keep up with), when it holds more
   * while at its own limits (every `maxInFlight` slot taken, or waiting for its
   * `maxPerSecond`); null otherwise. A lane held
   * back by its origin's shared limit or by this instance's pace (its event loop saturated over
   * the pace's window, when no pace is taken, or now) is as behind as the lanes beside it, and
   * parking its work would only cost Redis round trips.
   */
  private paceLimit(): MemoryLimit | null {
    if (this.pace === null || this.held < this.settings.spillAt) return null;
    const atOwnLimits = this.inFlightCount >= this.settings.maxInFlight || this.pumpTimer !== null;
    const now = this.io.runningNow();
    // Holding back a partition the others keep up with, its memory's bound is all it keeps.
    const holdingBack = now < this.holdingBackUntil;
    const limit = holdingBack ? this.settings.spillAt : this.pace * this.drainLimitMs();
    // A pace taken with time to spare says nothing while this process is the bound now, unless
    // the endpoint's failures made it.
    const over =
      atOwnLimits &&
      this.held > limit &&
      (this.lastWindowFailed || this.io.loopBusyShare() < SATURATED_LOOP_SHARE);
    if (!over) return null;
    // Still behind its traffic: it goes on holding the partition back unless it parks.
    if (holdingBack) this.holdingBackUntil = now + this.drainLimitMs();
    return {
      keep: Math.max(this.settings.spillAt, Math.floor(limit)),
      reason: holdingBack ? 'held_back' : 'pace',
    };
  }

  private drainLimitMs(): number {
    return this.settings.drainLimitMs ?? DEFAULT_DRAIN_LIMIT_MS;
  }

  /**
   * A slow or failing endpoint's lane holds more than it would send within the drain limit:
   * what it holds past that is parked, newest first (unordered tasks alone, a waiting key whole),
   * so its records settle and the partitions it held back are read on for the others.
   */
  private spillExcess(limit: MemoryLimit): void {
    const parked = this.parkWaiting(limit.keep, true);
    if (parked > 0) this.io.spilled(parked, limit.reason);
  }

  /**
   * Parks what waits in memory until the lane holds `keep` at most: unordered tasks alone, a key
   * whose head waits whole (not tasks claimed from parking, nor keys whose head is in flight or
   * waits for a retry). Oldest first, or newest first. Returns how many tasks it parks.
   */
  private parkWaiting(keep: number, newestFirst: boolean): number {
    const nowMs = this.io.now();
    const ready = this.readyTasks();
    const order = newestFirst ? [...ready].reverse() : ready;
    const before = this.held;
    const alone: DeliveryTask[] = [];
    const queues: KeyQueue[] = [];
    const spilled = new Set<DeliveryTask>();
    let left = before;
    for (const task of order) {
      if (left <= keep) break;
      if (task.claim !== null) continue;
      if (!task.ordered) {
        alone.push(task);
        spilled.add(task);
        left -= 1;
        continue;
      }
      const queue = this.keys.get(task.queueId);
      if (!queue || queue.tasks[0] !== task || queue.parked) continue;
      queues.push(queue);
      spilled.add(task);
      left -= queue.tasks.length;
    }
    if (spilled.size === 0) return 0;
    this.ready.length = 0;
    this.readyHead = 0;
    this.ready.push(...ready.filter((task) => !spilled.has(task)));
    for (const task of alone) {
      this.held -= 1;
      this.parkAlone(task, nowMs);
    }
    // Takes each key's tasks out of memory (and `held`) as its park call runs.
    for (const queue of queues) this.parkQueue(queue, nowMs);
    return before - left;
  }

  /**
   * One more task settled: the pace is taken again once a window is full, only over windows the
   * lane spent holding at least `spillAt` (at its limits: a quiet lane's pace is its traffic's,
   * not what its endpoint can take, and a burst to it must not be taken for a backlog), and with
   * this process's event loop not saturated through it unless attempts failed in it. Called from
   * `finished`, whose `progressAt` is the time now.
   */
  private notePace(): void {
    const now = this.progressAt;
    if (this.held < this.settings.spillAt) {
      this.settledSincePace = 0;
      this.failedSincePace = false;
      this.paceSince = now;
      return;
    }
    this.settledSincePace += 1;
    if (now - this.paceSince < PACE_WINDOW_MS) return;
    const busyShare = this.io.loopBusyShare();
    const failed = this.failedSincePace;
    // With this process the bound (every slot full while answers wait to be read), an endpoint
    // that does not fail may be fast, and parking would only add Redis round trips to a busy
    // process.
    const saturated = busyShare >= SATURATED_LOOP_SHARE && !failed;
    const windowPace = saturated ? null : this.settledSincePace / (now - this.paceSince);
    if (saturated) this.io.paceUnmeasured(busyShare);
    // An endpoint that failed is judged on the window alone. Otherwise one slow second (a
    // start-up's connections and read-ahead, a long garbage collection, a broker's hiccup) does
    // not make a pace: the better of two windows in a row does.
    if (windowPace === null || failed) this.pace = windowPace;
    else
      this.pace = this.lastWindowPace === null ? null : Math.max(windowPace, this.lastWindowPace);
    this.lastWindowPace = windowPace;
    this.lastWindowFailed = failed;
    this.settledSincePace = 0;
    this.failedSincePace = false;
    this.paceSince = now;
  }

  /** Looks for a stall once `stallMs` has passed since the last progress, while over `spillAt`. */
  private watchStall(): void {
    if (this.stallTimer !== null || this.closed) return;
    const waitMs = Math.max(1, this.progressAt + this.settings.stallMs - this.io.runningNow());
    this.stallTimer = this.io.schedule(waitMs, () => {
      this.stallTimer = null;
      if (this.closed || this.spilling || this.held < this.settings.spillAt) return;
      if (this.io.runningNow() - this.progressAt >= this.settings.stallMs) {
        this.spillHeld();
        return;
      }
      // Progressing, but too slowly for what it holds (a slow or failing endpoint).
      const limit = this.paceLimit();
      if (limit !== null) this.spillExcess(limit);
      this.watchStall();
    });
  }

  /**
   * The endpoint stopped answering: everything held in memory that is not in flight is parked
   * in Redis (settling its records, so the partitions it holds back are read on), and new work
   * is parked too until an attempt is delivered. Unordered tasks are parked alone; a key whose head
   * waits is parked with everything behind it; a key whose head is in flight is parked behind a
   * copy of that head, claimed by this lane until the attempt's result decides it. A key whose
   * head waits for an in-memory retry stays (at most one retry's delay).
   */
  private spillHeld(): void {
    if (this.closed) return;
    this.spilling = true;
    const parked = this.parkWaiting(0, false);
    const before = this.held;
    for (const queue of this.keys.values()) {
      const head = queue.tasks[0];
      if (head && !queue.parked && this.inFlightHeads.has(head)) this.spillBehind(queue, head);
    }
    this.io.spilled(parked + before - this.held, 'silent');
  }

  /** Parks a copy of the key's in-flight head, claimed, and everything behind it, in order. */
  private spillBehind(queue: KeyQueue, head: DeliveryTask): void {
    const behind = queue.tasks.splice(0).slice(1);
    this.held -= behind.length;
    queue.parked = true;
    queue.spilledHead = head;
    queue.pending += 1;
    const spilled: SpilledHead = { queue, outcome: 'pending', claim: null };
    this.spilledHeads.set(head, spilled);
    const lease = Math.round(this.io.now() + this.io.inFlightLeaseMs);
    queue.chain = queue.chain.then(async () => {
      // Due only when the lease ends: a claim, as the poller's, that this lane holds.
      const outcome = await this.parkWithRetry(head, 'create', lease);
      spilled.outcome = outcome;
      if (outcome === 'parked')
        spilled.claim = {
          subscriptionId: this.subscriptionId,
          queueId: head.queueId,
          task: '',
          lease,
        };
      // Parked (or its subscription gone): the copy is what gets it delivered now.
      if (isParkedOrGone(outcome)) head.ticket?.settle(head.subscriptionId);
      queue.pending -= 1;
    });
    for (const task of behind) this.chainPark(queue, task, 'append');
  }

  /**
   * The result of a spilled head's attempt, once its copy's park is done (they share the key's
   * chain): the claimed copy is finished with it. A copy that went behind a queue already
   * there is sent again from it.
   */
  private finishSpilledHead(task: DeliveryTask, spilled: SpilledHead, result: TaskResult): void {
    this.spilledHeads.delete(task);
    if (!this.closed) {
      this.held -= 1;
      this.notePace();
    }
    const { queue } = spilled;
    queue.chain = queue.chain.then(async () => {
      if (spilled.claim) await this.io.finishSpilled(spilled.claim, task, result);
      else if (spilled.outcome === 'not-owner' || spilled.outcome === 'closed') {
        // Never parked: the attempt's own result counts, as for any task.
        const done =
          spilled.outcome === 'closed' && this.closeMode === 'drop'
            ? result.kind !== 'abandoned'
            : result.kind === 'settled';
        if (done) task.ticket?.settle(task.subscriptionId);
      }
      if (queue.spilledHead === task) queue.spilledHead = null;
      // Tasks a drained queue sent back to memory meanwhile wait no longer for the head.
      const next = queue.tasks[0];
      if (next && !queue.parked && !this.closed) {
        this.pushReady(next);
        this.pump();
      }
    });
  }

  /** A task the closed lane gave up on: done only when the lane was closed to drop its work. */
  private settleDropped(task: DeliveryTask): void {
    if (this.closeMode === 'drop') task.ticket?.settle(task.subscriptionId);
  }

  /** The key's head is done: the next task of the key becomes ready. */
  private advance(queue: KeyQueue, queueId: string): void {
    const next = queue.tasks[0];
    if (next) this.pushReady(next);
    else if (!queue.parked && queue.pending === 0) this.keys.delete(queueId);
  }

  private accept(task: DeliveryTask): void {
    this.held += 1;
    this.pushReady(task);
    this.pump();
  }

  private newQueue(task: DeliveryTask): KeyQueue {
    const queue: KeyQueue = {
      tasks: [],
      parked: false,
      pending: 0,
      chain: Promise.resolve(),
      topic: task.source.topic,
      partition: task.source.partition,
      spilledHead: null,
    };
    this.keys.set(task.queueId, queue);
    return queue;
  }

  private parkAlone(task: DeliveryTask, dueMs: number): void {
    void this.parkWithRetry(task, 'create', dueMs).then((outcome) => {
      // not-owner: the partition moved; the new owner reads the task again.
      if (isParkedOrGone(outcome)) task.ticket?.settle(task.subscriptionId);
      else if (outcome === 'closed') this.settleDropped(task);
    });
  }

  /** Parks `task` behind the key's earlier park calls (which keep their order). */
  private chainPark(queue: KeyQueue, task: DeliveryTask, mode: 'create' | 'append'): void {
    queue.pending += 1;
    const dueMs = this.io.now();
    queue.chain = queue.chain.then(async () => {
      const outcome = await this.parkWithRetry(task, mode, dueMs);
      queue.pending -= 1;
      if (isParkedOrGone(outcome)) task.ticket?.settle(task.subscriptionId);
      else if (outcome === 'closed' || (outcome === 'no-queue' && this.closed))
        this.settleDropped(task);
      else if (outcome === 'no-queue') {
        // The parked queue drained meanwhile: the task waits in memory behind any earlier ones.
        queue.tasks.push(task);
        this.held += 1;
        // Not before a spilled head still in flight: its result comes first.
        if (queue.tasks.length === 1 && queue.spilledHead === null) {
          this.pushReady(task);
          this.pump();
        }
      }
      if (queue.pending === 0 && queue.tasks.length > 0) queue.parked = false;
    });
  }

  /**
   * Parks the key's head (whose wait is long) and every task behind it, in order; the key stays
   * parked so later tasks join the queue in Redis.
   */
  private parkQueue(queue: KeyQueue, dueMs: number): void {
    queue.parked = true;
    queue.pending += 1;
    queue.chain = queue.chain.then(async () => {
      // Taken when the call runs, so tasks that earlier calls put back in memory come along.
      const tasks = queue.tasks.splice(0);
      this.held -= tasks.length;
      for (const task of tasks) {
        // `create` joins the queue the head made, or (if that drained meanwhile: its head was
        // claimed and delivered) starts a new one: never dropped as `append` would be.
        const outcome = await this.parkWithRetry(task, 'create', dueMs);
        if (outcome === 'not-owner') break;
        if (outcome === 'closed') this.settleDropped(task);
        // Parked, or its subscription deleted (nothing to deliver).
        else task.ticket?.settle(task.subscriptionId);
      }
      queue.pending -= 1;
    });
  }

  private async parkWithRetry(
    task: DeliveryTask,
    mode: 'create' | 'append',
    dueMs: number,
  ): Promise<ParkOutcome | 'closed'> {
    for (;;) {
      if (task.ticket && !task.ticket.current) return 'not-owner';
      try {
        const outcome = await this.io.park(task, mode, dueMs);
        // Redis names another owner while this instance still holds the partition: its claim
        // there was lost or overwritten. Claimed again, then parked on the next try.
        if (outcome !== 'not-owner' || !task.ticket?.current) return outcome;
        this.io.parkFailed(
          new PartitionOwnerMismatchError(task.source.topic, task.source.partition),
        );
        this.io.ownerRefused(task.source.topic, task.source.partition);
      } catch (error) {
        this.io.parkFailed(error);
      }
      await new Promise<void>((resolve) => {
        const cancel = this.io.schedule(PARK_RETRY_MS, () => {
          this.timers.delete(cancel);
          resolve();
        });
        this.timers.add(() => {
          cancel();
          resolve();
        });
      });
      if (this.closed) return 'closed';
    }
  }

  /** Starts ready tasks while the lane's limits and the instance's budget allow; `given` is a slot the budget handed over. */
  private pump(given?: SendPermit): void {
    if (this.closed || this.pumpTimer) {
      given?.release();
      return;
    }
    while (this.inFlightCount < this.settings.maxInFlight && this.readyLength() > 0) {
      const permit = given ?? this.budget.tryTake();
      given = undefined;
      if (permit === null) {
        this.budget.wait(this.onPermit);
        return;
      }
      if (this.limiter) {
        const waitMs = this.limiter.take(this.io.now());
        if (waitMs > 0) {
          permit.release();
          const cancel = this.io.schedule(waitMs, () => {
            this.pumpTimer = null;
            this.pump();
          });
          this.pumpTimer = cancel;
          return;
        }
      }
      const task = this.ready[this.readyHead]!;
      this.readyHead += 1;
      if (this.readyHead > 1024 && this.readyHead * 2 > this.ready.length) {
        this.ready.splice(0, this.readyHead);
        this.readyHead = 0;
      }
      this.inFlightCount += 1;
      if (task.ordered && task.claim === null) this.inFlightHeads.add(task);
      this.io.send(task, permit);
    }
    given?.release();
  }

  private pushReady(task: DeliveryTask): void {
    this.ready.push(task);
  }

  private readyLength(): number {
    return this.ready.length - this.readyHead;
  }

  private readyTasks(): DeliveryTask[] {
    return this.ready.slice(this.readyHead);
  }
}
