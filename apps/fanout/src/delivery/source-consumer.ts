import { randomUUID } from 'node:crypto';
import { topicPartitionKey, type ConsumerRunner, type IncomingBatch } from '@herald/kafka';
import type { Logger } from '@herald/observability';
import type { ParkingOwner, RetryParkingStore } from '@herald/store';
import type { SubscriptionIndex } from '../subscriptions/subscription-index';
import type { SubscriptionIndexSync } from '../subscriptions/subscription-index.sync';
import type { DeliveryEngine } from './delivery.engine';
import type { DeliveryMetrics } from './delivery.metrics';
import { routeEvent } from './delivery-router';
import { orderingQueueId, type DeliveryTask, type TaskTicket } from './delivery-task';
import { OffsetTracker } from './offset-tracker';
import { parseSourceEvent } from './source-event';

interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  readonly tracker: OffsetTracker;
  readonly owner: ParkingOwner;
  current: boolean;
  committed: number | undefined;
  paused: boolean;
  /** Resolves once ownership is taken in Redis and parked keys are known. */
  ready: Promise<void>;
  /** No claim again (see claimAgain) before this time (ms). */
  claimAgainAfter: number;
}

/** How long after claiming a partition again a refused park may have it claimed once more. */
const CLAIM_AGAIN_PAUSE_MS = 1000;

export interface SourceConsumerOptions {
  readonly group: string;
  readonly topics: readonly string[];
  readonly maxBacklog: number;
  readonly commitIntervalMs: number;
  readonly sessionTimeoutMs: number;
}

/**
 * The delivery engine's side of the consumer group: routes each record of the channel topics to
 * the lanes of matching subscriptions, tracks per partition which records are settled, commits
 * only below the first unsettled one, and pauses a partition whose unsettled backlog passes the
 * bound. A partition that moves to another instance is dropped here at once; its unsettled
 * records are read again there from the committed offset.
 */
export class SourceConsumer {
  private readonly partitions = new Map<string, PartitionState>();
  private readonly instance = randomUUID();
  private generation = 0;
  private commitTimer: NodeJS.Timeout | undefined;
  private committing: Promise<void> = Promise.resolve();
  /** pauseAll() ran: nothing is resumed any more. */
  private pausedForShutdown = false;

  constructor(
    private readonly runner: ConsumerRunner,
    private readonly engine: DeliveryEngine,
    private readonly index: SubscriptionIndex,
    private readonly sync: SubscriptionIndexSync,
    private readonly parking: RetryParkingStore,
    private readonly metrics: DeliveryMetrics,
    private readonly logger: Logger,
    private readonly options: SourceConsumerOptions,
  ) {}

  async start(): Promise<void> {
    this.engine.onOwnerRefused((topic, partition) => this.claimAgain(topic, partition));
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

  /** Commits what is settled one last time and leaves the group. */
  async stop(): Promise<void> {
    clearInterval(this.commitTimer);
    await this.committing;
    await this.commitSettled();
    await this.runner.stop();
  }

  /** Records read and not yet settled, across this instance's partitions. */
  backlog(): number {
    let total = 0;
    for (const state of this.partitions.values()) total += state.tracker.backlog();
    return total;
  }

  private async handle(batch: IncomingBatch): Promise<void> {
    const state = this.stateOf(batch.topic, batch.partition);
    await state.ready;
    const newest = Number(batch.records[batch.records.length - 1]?.timestamp ?? 0);
    await this.sync.freshUntil(newest);
    for (const record of batch.records) {
      const offset = Number(record.offset);
      if (state.tracker.seen(offset)) continue;
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
      const targets = routeEvent(this.index, source);
      state.tracker.add(offset, targets.length);
      if (targets.length === 0) continue;
      const ticket: TaskTicket = {
        settle: () => {
          state.tracker.settle(offset);
          if (state.paused) this.resumeIfDrained(state);
        },
        get current() {
          return state.current;
        },
        owner: state.owner,
      };
      for (const target of targets) {
        const ordered = target.subscription.ordering === 'key' && source.key !== null;
        const task: DeliveryTask = {
          subscriptionId: target.subscription.id,
          source,
          attempt: 1,
          firstAttemptAt: null,
          origin: 'live',
          replayId: null,
          queueId: ordered
            ? orderingQueueId(source, null)
            : `t.${source.topic}.${source.partition}.${offset}`,
          ordered,
          ticket,
          claim: null,
        };
        this.engine.submit(task);
      }
    }
    if (!state.paused && state.tracker.backlog() > this.options.maxBacklog && state.current) {
      state.paused = true;
      this.runner.pause(state.topic, [state.partition]);
      this.metrics.backlogPauses.inc({ topic: state.topic });
      this.logger.info(
        { topic: state.topic, partition: state.partition, backlog: state.tracker.backlog() },
        'partition paused: backlog',
      );
    }
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
        ready: Promise.resolve(),
        claimAgainAfter: 0,
      };
      created.ready = this.takeOwnership(created);
      this.partitions.set(key, created);
      state = created;
    }
    return state;
  }

  /** Claims the partition in Redis (so a previous owner can no longer park) and learns its parked keys. */
  private async takeOwnership(state: PartitionState): Promise<void> {
    // Not once the partition has moved on: a late claim would undo the new owner's.
    for (let attempt = 1; state.current; attempt++) {
      try {
        const parked = await this.parking.ownPartition(
          state.topic,
          state.partition,
          state.owner.token,
        );
        this.engine.markParked(parked, state.topic, state.partition);
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
      this.engine.dropPartition(state.topic, state.partition);
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

  private async commitSettled(): Promise<void> {
    for (const state of [...this.partitions.values()]) {
      const next = state.tracker.committable();
      if (
        next !== undefined &&
        state.current &&
        (state.committed === undefined || next > state.committed)
      ) {
        try {
          await this.runner.commit(state.topic, state.partition, String(next));
          state.committed = next;
        } catch (error) {
          this.logger.debug(
            { err: error, topic: state.topic, partition: state.partition },
            'commit failed; retrying later',
          );
        }
      }
      this.resumeIfDrained(state);
    }
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
