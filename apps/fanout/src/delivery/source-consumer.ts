import { randomUUID } from 'node:crypto';
import { topicPartitionKey, type ConsumerRunner, type IncomingBatch } from '@herald/kafka';
import type { Logger } from '@herald/observability';
import type {
  ParkingOwner,
  PartitionHandoverStore,
  RetryParkingStore,
  StoredHandover,
} from '@herald/store';
import type { IndexedSubscription } from '../subscriptions/compiled-subscription';
import type { SubscriptionIndex } from '../subscriptions/subscription-index';
import type { SubscriptionIndexSync } from '../subscriptions/subscription-index.sync';
import type { DeliveryEngine } from './delivery.engine';
import type { DeliveryMetrics } from './delivery.metrics';
import { routeEvent } from './delivery-router';
import { orderingQueueId, type DeliveryTask, type TaskTicket } from './delivery-task';
import { LogThrottle } from './log-throttle';
import { OffsetTracker } from './offset-tracker';
import { PartitionHandover } from './partition-handover';
import { parseSourceEvent, type SourceEvent } from './source-event';

interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  readonly tracker: OffsetTracker;
  readonly owner: ParkingOwner;
  current: boolean;
  committed: number | undefined;
  paused: boolean;
  /** Its backlog pause was found held back by subscriptions behind the others (counted once). */
  heldBack: boolean;
  /** Resolves once ownership is taken in Redis and parked keys are known. */
  ready: Promise<void>;
  /** No claim again (see claimAgain) before this time (ms). */
  claimAgainAfter: number;
  /** What the previous owner settled, until reading passes its end. */
  handover: PartitionHandover | undefined;
  /** Hand-over writes, one after another: the final one lands last. */
  handoverWrites: Promise<void>;
  /** The last progress note written (not written again while nothing changed). */
  lastNote: string | undefined;
  /** A progress note is being written (the next waits for the interval after it). */
  noting: boolean;
  /** Records routed with an index not confirmed fresh, oldest first, to route again once it is. */
  stale: StaleRecord[];
  /** A batch of it is being handled (it routes its stale records itself). */
  handling: boolean;
  /** The commit timer is checking whether its stale records can be routed again. */
  checkingStale: boolean;
}

/**
 * A record routed while the index was not known to hold every change made before it: a
 * subscription created or changed in that time may be missing from its targets. It keeps one
 * task more than it was given (`INDEX_CHECK`, settled once it is routed again), so its offset
 * is not committed before then and a crash meanwhile loses nothing.
 */
interface StaleRecord {
  readonly offset: number;
  readonly source: SourceEvent;
  /** Subscriptions it went to, or whose task a previous owner settled: not given it again. */
  readonly routed: readonly string[];
}

/** The extra task of a stale record (never a subscription's id: those begin with `sub_`). */
const INDEX_CHECK = 'index-check';

/** How long after claiming a partition again a refused park may have it claimed once more. */
const CLAIM_AGAIN_PAUSE_MS = 1000;
/** How long an instance's running mark lasts in Redis; it is renewed three times as often. */
const RUNNING_MARK_TTL_MS = 6_000;
/** How long a partition's hand-over is kept in Redis. */
const HANDOVER_TTL_MS = 7 * 24 * 3_600_000;
/** How often a new owner looks again for the previous owner's hand-over. */
const HANDOVER_POLL_MS = 50;
/** How long the commit timer's look at a partition's stale records waits for a fresh index. */
const STALE_RECHECK_WAIT_MS = 1000;
/**
 * How many runs of settled tasks (one subscription's, over consecutive pending records) a
 * progress note names at most; the rest of those tasks are only sent again after a crash.
 */
const MAX_NOTE_RUNS = 10_000;
/** How long a stopping instance gives its hand-overs (its shutdown budget is short). */
const STOP_HANDOVER_MS = 2000;
/** How often a batch waiting for its partition tells the group this member is alive. */
const WAITING_HEARTBEAT_MS = 1000;

export interface SourceConsumerOptions {
  readonly group: string;
  readonly topics: readonly string[];
  readonly maxBacklog: number;
  readonly commitIntervalMs: number;
  readonly sessionTimeoutMs: number;
  /**
   * How long an instance that lost a partition waits for the attempts it has in flight from it
   * before handing it over (the request timeout: by then each has an answer).
   */
  readonly releaseWaitMs: number;
  /**
   * How long a new owner waits for the hand-over of a previous owner that is still running
   * (more than `releaseWaitMs`); past it, the work that owner settled may be sent again.
   */
  readonly handoverWaitMs: number;
}

/**
 * The delivery engine's side of the consumer group: routes each record of the channel topics to
 * the lanes of matching subscriptions, tracks per partition which records are settled, commits
 * only below the first unsettled one, and pauses a partition whose unsettled backlog passes the
 * bound. A partition that moves to another instance is dropped here at once; its unsettled
 * records are read again there from the committed offset.
 *
 * A healthy move sends nothing twice (SPEC §6). This instance may no longer commit a partition
 * it has lost (its group generation is over), so it waits for the attempts it has in flight
 * from it and leaves in Redis what it settled past the committed offset: its hand-over. The new
 * owner, before reading the partition, waits for that hand-over (only while the previous owner
 * is still running) and skips the records, and the tasks of a record, that it names.
 */
export class SourceConsumer {
  private readonly partitions = new Map<string, PartitionState>();
  private readonly instance = randomUUID();
  private generation = 0;
  private commitTimer: NodeJS.Timeout | undefined;
  private committing: Promise<void> = Promise.resolve();
  /** pauseAll() ran: nothing is resumed any more. */
  private pausedForShutdown = false;
  /** stop() began: partitions are handed over without waiting for attempts in flight. */
  private stopping = false;
  private runningTimer: NodeJS.Timeout | undefined;
  /** Hand-overs being written. */
  private readonly releasing = new Set<Promise<void>>();
  private readonly staleLog = new LogThrottle();

  constructor(
    private readonly runner: ConsumerRunner,
    private readonly engine: DeliveryEngine,
    private readonly index: SubscriptionIndex,
    private readonly sync: SubscriptionIndexSync,
    private readonly parking: RetryParkingStore,
    private readonly handovers: PartitionHandoverStore,
    private readonly metrics: DeliveryMetrics,
    private readonly logger: Logger,
    private readonly options: SourceConsumerOptions,
  ) {
    metrics.watchStaleRecords(() => {
      let held = 0;
      for (const state of this.partitions.values()) held += state.stale.length;
      return held;
    });
  }

  async start(): Promise<void> {
    this.engine.onOwnerRefused((topic, partition) => this.claimAgain(topic, partition));
    // Running before joining: an instance that takes a partition from this one waits for its
    // hand-over only while this mark says it can still write one.
    await this.markRunning();
    this.runningTimer = setInterval(() => void this.markRunning(), RUNNING_MARK_TTL_MS / 3);
    this.runningTimer.unref();
    await this.runner.run({
      groupId: this.options.group,
      topics: [...this.options.topics],
      // A new group starts at the beginning; each subscription's start time keeps out what
      // was published before it existed, and nothing accepted before the first start is lost.
      fromBeginning: true,
      commit: 'manual',
      concurrency: 64,
      sessionTimeoutMs: this.options.sessionTimeoutMs,
      eachBatch: (batch) => this.handle(batch),
      onAssignment: (assignment) => this.onAssignment(assignment),
    });
    this.commitTimer = setInterval(() => {
      // Notes first, and apart from the commits: a commit round can take seconds while the
      // broker is away or the group rebalances (kafkajs retries its coordinator lookups), and
      // notes that waited for it were missing when this instance died meanwhile.
      for (const state of this.partitions.values()) {
        this.noteProgress(state);
        // A paused one: the others may catch up only after it paused.
        this.checkHeldBack(state);
        // A partition with no new records would otherwise keep its stale ones until it has some.
        if (state.stale.length > 0 && !state.handling) void this.routeStaleWhenFresh(state);
      }
      this.committing = this.committing.then(() => this.commitSettled());
    }, this.options.commitIntervalMs);
    this.commitTimer.unref();
  }

  /** Stops reading new records (work in hand goes on) ahead of a shutdown. */
  pauseAll(): void {
    this.pausedForShutdown = true;
    for (const topic of this.options.topics) {
      try {
        this.runner.pause(topic);
      } catch (error) {
        this.logger.debug({ err: error }, 'pause before shutdown failed');
      }
    }
  }

  /**
   * Commits what is settled one last time, leaves the group and hands every partition over
   * (what was settled past the commit, for whoever takes it).
   */
  async stop(): Promise<void> {
    clearInterval(this.commitTimer);
    await this.committing;
    await this.commitSettled();
    this.stopping = true;
    // Leaving the group drops every partition (onAssignment with none), which hands each over.
    await this.runner.stop();
    clearInterval(this.runningTimer);
    // Bounded: with Redis gone, the shutdown must still fit its budget (a new owner then waits
    // for the running mark to expire, and sends again what was settled past the commit).
    const handedOver = Promise.all(this.releasing).then(async () => {
      try {
        await this.handovers.markStopped(this.instance);
      } catch (error) {
        this.logger.debug(
          { err: error },
          'could not clear the running mark; it expires on its own',
        );
      }
    });
    await Promise.race([handedOver, delay(STOP_HANDOVER_MS)]);
  }

  private async markRunning(): Promise<void> {
    try {
      await this.handovers.markRunning(this.instance, RUNNING_MARK_TTL_MS);
    } catch (error) {
      this.logger.debug({ err: error }, 'could not renew the running mark');
    }
  }

  /** Records read and not yet settled, across this instance's partitions. */
  backlog(): number {
    let total = 0;
    for (const state of this.partitions.values()) total += state.tracker.backlog();
    return total;
  }

  private async handle(batch: IncomingBatch): Promise<void> {
    const state = this.stateOf(batch.topic, batch.partition);
    state.handling = true;
    try {
      await this.handleRecords(state, batch);
    } finally {
      state.handling = false;
    }
  }

  private async handleRecords(state: PartitionState, batch: IncomingBatch): Promise<void> {
    await this.untilReady(state, batch);
    // Moved on while it waited: its new owner reads these records.
    if (!state.current) return;
    const newest = Math.max(
      Number(batch.records[batch.records.length - 1]?.timestamp ?? 0),
      newestOf(state.stale),
    );
    const fresh = await this.sync.freshUntil(newest);
    if (!state.current) return;
    if (!fresh) this.noteStaleIndex(state.topic);
    // Before this batch's records, so that order per key holds for a subscription they reach.
    else if (state.stale.length > 0) this.routeStale(state, state.stale.length);
    let skipped = 0;
    for (const record of batch.records) {
      const offset = Number(record.offset);
      if (state.tracker.seen(offset)) continue;
      // The previous owner's hand-over says what it settled: not sent again.
      let done: readonly string[] | undefined;
      const handover = state.handover;
      if (handover !== undefined) {
        if (offset >= handover.end) state.handover = undefined;
        else if (handover.settled(offset)) {
          state.tracker.add(offset, 0);
          skipped += 1;
          continue;
        } else done = handover.doneFor(offset);
      }
      const parsed = parseSourceEvent(record);
      if (!parsed.ok) {
        this.metrics.badRecords.inc({ topic: record.topic });
        this.logger.warn(
          { topic: record.topic, partition: record.partition, offset, reason: parsed.reason },
          'record skipped: not a valid event',
        );
        state.tracker.add(offset, 0);
        continue;
      }
      const source = parsed.source;
      let targets = routeEvent(this.index, source);
      if (done !== undefined) {
        const settled = done;
        targets = targets.filter((target) => !settled.includes(target.subscription.id));
        skipped += 1;
      }
      state.tracker.add(offset, targets.length + (fresh ? 0 : 1), done);
      if (!fresh)
        state.stale.push({
          offset,
          source,
          routed: [...targets.map((target) => target.subscription.id), ...(done ?? [])],
        });
      this.submitTasks(state, offset, source, targets);
    }
    if (skipped > 0) this.metrics.handoverSkips.inc({ topic: state.topic }, skipped);
    if (!state.paused && state.tracker.backlog() > this.options.maxBacklog && state.current) {
      state.paused = true;
      state.heldBack = false;
      this.runner.pause(state.topic, [state.partition]);
      this.metrics.backlogPauses.inc({ topic: state.topic });
      this.logger.info(
        { topic: state.topic, partition: state.partition, backlog: state.tracker.backlog() },
        'partition paused: backlog',
      );
      this.checkHeldBack(state);
    }
  }

  /**
   * A partition paused for its backlog: the subscriptions holding a quarter of its bound or more
   * in unsettled tasks, more than twice as many as another subscription reading it, hold it back
   * from the others, and their lanes are told so. At the pause and again on each commit tick
   * while it stays paused (the others may catch up only after it paused, and a lane told before
   * it had a pace is told again); counted once a pause.
   */
  private checkHeldBack(state: PartitionState): void {
    if (!state.paused || !state.current || this.pausedForShutdown) return;
    const behind = state.tracker.holdingBack(Math.ceil(this.options.maxBacklog / 4));
    if (behind.length === 0) return;
    this.engine.partitionHeldBack(state.topic, state.partition, behind, !state.heldBack);
    state.heldBack = true;
  }

  /** Gives the record at `offset` to each of `targets` (its tasks are in the tracker already). */
  private submitTasks(
    state: PartitionState,
    offset: number,
    source: SourceEvent,
    targets: readonly IndexedSubscription[],
  ): void {
    if (targets.length === 0) return;
    const ticket: TaskTicket = {
      settle: (subscriptionId) => {
        state.tracker.settle(offset, subscriptionId);
        if (state.paused) this.resumeIfDrained(state);
      },
      get current() {
        return state.current;
      },
      owner: state.owner,
    };
    // The event's queues, made once for all its subscriptions: its key's, or one of its own.
    let keyQueue: string | undefined;
    let ownQueue: string | undefined;
    for (const target of targets) {
      state.tracker.given(target.subscription.id, offset);
      const ordered = target.subscription.ordering === 'key' && source.key !== null;
      const task: DeliveryTask = {
        subscriptionId: target.subscription.id,
        source,
        attempt: 1,
        firstAttemptAt: null,
        origin: 'live',
        replayId: null,
        queueId: ordered
          ? (keyQueue ??= orderingQueueId(source, null))
          : (ownQueue ??= `t.${source.topic}.${source.partition}.${offset}`),
        ordered,
        ticket,
        claim: null,
      };
      this.engine.submit(task);
    }
  }

  /**
   * Between batches (on the commit timer): routes the partition's stale records again once the
   * index is confirmed fresh for them, unless a batch comes first (it does so itself).
   */
  private async routeStaleWhenFresh(state: PartitionState): Promise<void> {
    if (state.checkingStale) return;
    state.checkingStale = true;
    try {
      // Those of them now; records added while it waits are newer and wait for the next look.
      const count = state.stale.length;
      const first = state.stale[0];
      const fresh = await this.sync.freshUntil(newestOf(state.stale, count), STALE_RECHECK_WAIT_MS);
      // Unless a batch routed them meanwhile (then newer ones may stand first now).
      if (fresh && state.current && !state.handling && state.stale[0] === first)
        this.routeStale(state, count);
    } finally {
      state.checkingStale = false;
    }
  }

  /**
   * Routes the first `count` stale records again with the index now confirmed fresh for them,
   * oldest first, to the subscriptions they had missed (created or changed in the meantime),
   * then settles each one's extra task.
   */
  private routeStale(state: PartitionState, count: number): void {
    const records = state.stale.splice(0, count);
    let tasks = 0;
    for (const { offset, source, routed } of records) {
      const missed = routeEvent(this.index, source).filter(
        (target) => !routed.includes(target.subscription.id),
      );
      if (missed.length > 0) {
        state.tracker.addTasks(offset, missed.length);
        this.submitTasks(state, offset, source, missed);
        tasks += missed.length;
      }
      state.tracker.settle(offset, INDEX_CHECK);
    }
    if (tasks > 0) {
      this.metrics.staleIndexRerouted.inc({ topic: state.topic }, tasks);
      this.logger.info(
        { topic: state.topic, partition: state.partition, records: records.length, tasks },
        'records routed while the subscription index was stale, routed again now that it is fresh: delivered to subscriptions it had missed',
      );
    }
    if (state.paused) this.resumeIfDrained(state);
  }

  /**
   * A batch routed with an index not known to hold every change made before its records: a
   * subscription created in that time is not among their targets yet. They are routed again once
   * it is fresh (routeStale). Counted; logged at most once a minute.
   */
  private noteStaleIndex(topic: string): void {
    this.metrics.staleIndexBatches.inc({ topic });
    if (!this.staleLog.due()) return;
    this.logger.warn(
      { topic },
      'routing with a subscription index Redis did not confirm fresh within 2 s: these records are routed again, and not committed, until it is',
    );
  }

  private stateOf(topic: string, partition: number): PartitionState {
    const key = topicPartitionKey(topic, partition);
    let state = this.partitions.get(key);
    if (!state) {
      const owner: ParkingOwner = {
        topic,
        partition,
        token: `${this.instance}:${this.generation}`,
      };
      const created: PartitionState = {
        topic,
        partition,
        tracker: new OffsetTracker(),
        owner,
        current: true,
        committed: undefined,
        paused: false,
        heldBack: false,
        ready: Promise.resolve(),
        claimAgainAfter: 0,
        handover: undefined,
        handoverWrites: Promise.resolve(),
        lastNote: undefined,
        noting: false,
        stale: [],
        handling: false,
        checkingStale: false,
      };
      created.ready = this.takeOwnership(created, true);
      this.partitions.set(key, created);
      state = created;
    }
    return state;
  }

  /**
   * Claims the partition in Redis (so a previous owner can no longer park) and learns its parked
   * keys; the first time, also takes the previous owner's hand-over.
   */
  private async takeOwnership(state: PartitionState, first = false): Promise<void> {
    // Not once the partition has moved on: a late claim would undo the new owner's.
    for (let attempt = 1; state.current; attempt++) {
      try {
        const { parked, previousOwner } = await this.parking.ownPartition(
          state.topic,
          state.partition,
          state.owner.token,
        );
        this.engine.markParked(parked, state.topic, state.partition);
        if (first) state.handover = await this.takeHandover(state, previousOwner);
        return;
      } catch (error) {
        this.logger.warn(
          { err: error, topic: state.topic, partition: state.partition },
          'could not take the partition over in Redis; retrying',
        );
        await new Promise((resolve) => setTimeout(resolve, Math.min(attempt * 500, 5000)));
      }
    }
  }

  /**
   * The hand-over of the partition's previous owner: waited for while that owner is still
   * running (it is finishing its attempts in flight), up to `handoverWaitMs`. An older hand-over
   * is used as it is: what it says was settled still is. Never rejects.
   */
  private async takeHandover(
    state: PartitionState,
    previousOwner: string | null,
  ): Promise<PartitionHandover | undefined> {
    const started = Date.now();
    const awaited = previousOwner !== null && previousOwner !== state.owner.token;
    let stored: StoredHandover | null = null;
    /** `stored` read, when it is the previous owner's (the one waited for). */
    let handover: PartitionHandover | null = null;
    for (;;) {
      try {
        stored = await this.handovers.read(state.topic, state.partition);
        handover = stored?.token === previousOwner ? PartitionHandover.decode(stored.state) : null;
        // Its progress notes are not enough while it runs: it may still be finishing attempts.
        const final = handover?.final === true;
        if (!awaited || final || !(await this.handovers.isRunning(instanceOf(previousOwner))))
          break;
      } catch (error) {
        this.logger.debug({ err: error }, 'could not read the hand-over of a partition');
      }
      if (!state.current) break;
      if (Date.now() - started >= this.options.handoverWaitMs) {
        this.metrics.handovers.inc({ outcome: 'missed' });
        this.logger.warn(
          {
            topic: state.topic,
            partition: state.partition,
            previousOwner,
            waitedMs: Date.now() - started,
          },
          'the previous owner of a partition did not hand it over in time: what it settled since its last commit may be sent again',
        );
        break;
      }
      await delay(HANDOVER_POLL_MS);
    }
    if (stored === null) return undefined;
    handover ??= PartitionHandover.decode(stored.state);
    if (!handover) {
      this.logger.warn(
        { topic: state.topic, partition: state.partition },
        'the hand-over of a partition could not be read; what it names may be sent again',
      );
      return undefined;
    }
    if (stored.token === previousOwner) this.metrics.handovers.inc({ outcome: 'taken' });
    this.logger.info(
      {
        topic: state.topic,
        partition: state.partition,
        from: stored.token,
        current: stored.token === previousOwner,
        final: handover.final,
        end: handover.end,
        waitedMs: Date.now() - started,
      },
      'partition taken over',
    );
    return handover;
  }

  /**
   * Leaves the hand-over of a partition this instance lost, once its attempts in flight from
   * it have finished (not waited for when stopping: the engine already has). Never rejects.
   */
  private async handOver(state: PartitionState, inFlight: Promise<void>): Promise<void> {
    const started = Date.now();
    await state.ready;
    if (!this.stopping) await Promise.race([inFlight, delay(this.options.releaseWaitMs)]);
    // After any progress note still being written: the final word lands last.
    await state.handoverWrites;
    // Written even when nothing was read: the new owner waits for a hand-over from this token.
    const encoded = PartitionHandover.encode(state.tracker.snapshot(), state.handover);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.handovers.write(
          state.topic,
          state.partition,
          { token: state.owner.token, state: encoded.text },
          HANDOVER_TTL_MS,
        );
        break;
      } catch (error) {
        if (this.stopping || Date.now() - started >= this.options.handoverWaitMs) {
          this.metrics.handovers.inc({ outcome: 'failed' });
          this.logger.warn(
            { err: error, topic: state.topic, partition: state.partition },
            'could not hand a partition over: what was settled since the last commit may be sent again',
          );
          return;
        }
        await delay(Math.min(attempt * 100, 1000));
      }
    }
    this.metrics.handovers.inc({ outcome: 'given' });
    this.logger.info(
      {
        topic: state.topic,
        partition: state.partition,
        end: encoded.end,
        pending: encoded.pending,
        leftOut: encoded.leftOut,
        tookMs: Date.now() - started,
      },
      'partition handed over',
    );
  }

  /**
   * Waits for the partition to be taken over (its hand-over may take a moment), telling the
   * group meanwhile that this member is alive: kafkajs heartbeats only between batches.
   */
  private async untilReady(state: PartitionState, batch: IncomingBatch): Promise<void> {
    const ready = state.ready.then(() => true);
    while (!(await Promise.race([ready, delay(WAITING_HEARTBEAT_MS, false)])))
      await batch.heartbeat();
  }

  /**
   * Redis refused a park from a partition this instance holds, naming another owner: the claim
   * there was lost (Redis came back without its last writes) or overwritten (a former owner's
   * claim, queued while its connection was down, landed late). The group says the partition is
   * this instance's, so it is claimed again; parks then go through. At most once a second: were
   * this instance wrong (its session lapsed unnoticed), the group tells it within a heartbeat.
   */
  private claimAgain(topic: string, partition: number): void {
    const state = this.partitions.get(topicPartitionKey(topic, partition));
    const now = Date.now();
    if (!state || !state.current || now < state.claimAgainAfter) return;
    state.claimAgainAfter = now + CLAIM_AGAIN_PAUSE_MS;
    this.logger.warn(
      { topic, partition },
      'partition claimed again in Redis: it named another owner of a partition this instance holds',
    );
    void state.ready.then(() => this.takeOwnership(state));
  }

  private onAssignment(assignment: ReadonlyMap<string, readonly number[]>): void {
    this.generation += 1;
    const kept: string[] = [];
    for (const [key, state] of this.partitions) {
      if (assignment.get(state.topic)?.includes(state.partition)) {
        kept.push(`${state.topic}/${state.partition}`);
        // Claimed again in Redis with the same token: if this instance's group session lapsed
        // and another instance held the partition meanwhile, its claim is undone, and parks
        // refused in between go through again. Records need not wait for it.
        void state.ready.then(() => this.takeOwnership(state));
        // kafkajs resumes a kept partition from the committed offset; already-seen records are skipped.
        continue;
      }
      state.current = false;
      this.partitions.delete(key);
      const release = this.handOver(state, this.engine.dropPartition(state.topic, state.partition));
      this.releasing.add(release);
      void release.finally(() => this.releasing.delete(release));
    }
    const assigned = [...assignment].flatMap(([topic, partitions]) =>
      partitions.map((p) => `${topic}/${p}`),
    );
    this.logger.info({ group: this.options.group, assigned }, 'partitions rebalanced');
    this.liftStalePauses();
  }

  /**
   * kafkajs keeps a partition's pause across rebalances, so one paused here for its backlog,
   * then taken away and given back, would never be read again. Only a partition this instance
   * holds paused (its backlog still high) stays paused.
   */
  private liftStalePauses(): void {
    if (this.pausedForShutdown) return;
    for (const { topic, partitions } of this.runner.paused()) {
      const stale = partitions.filter(
        (partition) => !this.partitions.get(topicPartitionKey(topic, partition))?.paused,
      );
      if (stale.length === 0) continue;
      try {
        this.runner.resume(topic, stale);
        this.logger.info({ topic, partitions: stale }, 'partition resumed: paused before it moved');
      } catch (error) {
        this.logger.warn({ err: error, topic, partitions: stale }, 'resume failed');
      }
    }
  }

  /** Commits what is settled, every partition that moved on in one request. */
  private async commitSettled(): Promise<void> {
    const due: { state: PartitionState; next: number }[] = [];
    for (const state of this.partitions.values()) {
      const next = state.tracker.committable();
      if (
        next !== undefined &&
        state.current &&
        (state.committed === undefined || next > state.committed)
      )
        due.push({ state, next });
    }
    if (due.length > 0) {
      try {
        await this.runner.commitMany(
          due.map(({ state, next }) => ({
            topic: state.topic,
            partition: state.partition,
            nextOffset: String(next),
          })),
        );
        for (const { state, next } of due) state.committed = next;
      } catch (error) {
        this.logger.debug({ err: error, partitions: due.length }, 'commit failed; retrying later');
      }
    }
    for (const state of this.partitions.values()) this.resumeIfDrained(state);
  }

  /**
   * Every commit interval, a progress note of what is settled past the committed offset: should
   * this instance die, the next owner (once this one's running mark has lapsed) skips that work
   * rather than sending it again, so a crash resends about a commit interval's work, not all
   * that was settled past the first unsettled record. Written only when it changed, one write
   * at a time (a slow Redis is not handed a queue of them); a failed write is only logged (the
   * next interval writes again).
   */
  private noteProgress(state: PartitionState): void {
    if (!state.current || this.stopping || state.noting) return;
    const reading = state.tracker.snapshot();
    // Nothing read yet (maybe still waiting for the previous owner's word, which a note from
    // this one would overwrite).
    if (reading.end === undefined) return;
    // Bounded: written every commit interval, it must stay cheap beside delivery (with many
    // subscriptions most records past the commit are settled for some of them only).
    const { text } = PartitionHandover.encode(reading, state.handover, {
      final: false,
      maxRuns: MAX_NOTE_RUNS,
    });
    if (text === state.lastNote) return;
    state.lastNote = text;
    state.noting = true;
    state.handoverWrites = state.handoverWrites.then(async () => {
      try {
        if (!state.current) return;
        await this.handovers.write(
          state.topic,
          state.partition,
          { token: state.owner.token, state: text },
          HANDOVER_TTL_MS,
        );
      } catch (error) {
        state.lastNote = undefined;
        this.logger.debug(
          { err: error, topic: state.topic, partition: state.partition },
          'could not write a progress note of a partition; the next interval tries again',
        );
      } finally {
        state.noting = false;
      }
    });
  }

  /**
   * Resumes a partition paused for its backlog once half of that is settled: called as each
   * task settles, so the partition is read again at once rather than at the next commit.
   */
  private resumeIfDrained(state: PartitionState): void {
    if (
      !state.paused ||
      !state.current ||
      this.pausedForShutdown ||
      state.tracker.backlog() > this.options.maxBacklog / 2
    )
      return;
    state.paused = false;
    try {
      this.runner.resume(state.topic, [state.partition]);
      this.logger.info({ topic: state.topic, partition: state.partition }, 'partition resumed');
    } catch (error) {
      state.paused = true;
      this.logger.debug({ err: error }, 'resume failed');
    }
  }
}

/** The instance part of an owner token (`<instance>:<generation>`). */
function instanceOf(token: string): string {
  const colon = token.indexOf(':');
  return colon < 0 ? token : token.slice(0, colon);
}

/** The newest record time (ms) of the first `count` stale records (0 for none). */
function newestOf(records: readonly StaleRecord[], count = records.length): number {
  let newest = 0;
  for (let i = 0; i < count; i++) newest = Math.max(newest, records[i]!.source.timestampMs);
  return newest;
}

function delay<T = void>(ms: number, value?: T): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(value as T), ms).unref());
}
