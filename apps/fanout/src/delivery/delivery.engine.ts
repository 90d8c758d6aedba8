import {
  buildWebhookRequest,
  decide,
  describeOutcome,
  type RetryDecision,
  type WebhookAttemptResult,
  type WebhookClient,
} from '@herald/delivery';
import type { Logger, Tracer } from '@herald/observability';
import {
  activeSecrets,
  type ClaimedTask,
  type ParkedOutcome,
  type PendingDisable,
  type PendingDisableStore,
  type RetryParkingStore,
  SubscriptionNotFoundError,
  type SubscriptionRepository,
} from '@herald/store';
import type { IndexedSubscription } from '../subscriptions/compiled-subscription';
import type { SubscriptionIndex } from '../subscriptions/subscription-index';
import type { DeadLetterWriter, DisableReason } from './dead-letter.writer';
import {
  DeliveryLane,
  type LaneSettings,
  type SpillReason,
  type TaskResult,
} from './delivery-lane';
import type { DeliveryMetrics } from './delivery.metrics';
import type { DeliveryRecordsWriter } from './delivery-records.writer';
import { acceptsSource } from './delivery-router';
import { parseClaimedTask, serializeTask, type DeliveryTask } from './delivery-task';
import type { BackfillGate } from './backfill-gate';
import type { FanoutDeliveryConfig } from './delivery.config';
import { LogThrottle } from './log-throttle';
import { LoopClock } from './loop-clock';
import { OriginBudgets, originOf } from './origin-budgets';
import type { SendPermit } from './send-budget';

/** A claim outlives the longest attempt (15 s by default) with room to spare. */
const CLAIM_LEASE_MARGIN_MS = 5_000;
const HEALTH_WRITE_INTERVAL_MS = 1000;
/** What a lane's spill is logged as, by its reason. */
const SPILL_LOG_LINES: Readonly<Record<SpillReason, string>> = {
  silent:
    'webhook endpoint stopped answering: what its lane held is parked, and its new work too until an attempt is delivered',
  pace: 'webhook endpoint slower than its traffic: what its lane holds past 30 s of its pace is parked, and its new work past that too',
  held_back:
    'webhook endpoint behind the other subscriptions on a paused partition: what its lane holds past HERALD_DELIVERY_LANE_MEMORY is parked, and its new work past that too',
};
/** A lane with no attempt finished for this long counts as stalled (see LaneSettings). */
const LANE_STALL_MS = 1000;
const STORE_RETRY_MS = 500;
/** A live event held behind its subscription's backfill is looked at again this often. */
export const BACKFILL_RECHECK_MS = 1000;
/**
 * A pending disable younger than this is left to the instance that recorded it (it may be
 * writing the status or publishing the event right now).
 */
export const PENDING_DISABLE_GRACE_MS = 30_000;
/** How often the pending disables other instances left behind are looked for. */
const PENDING_DISABLE_SWEEP_MS = 60_000;
/** When a task parked because its subscription's secrets cannot be used falls due again. */
const SECRETS_RECHECK_MS = 5_000;

export interface DeliveryEngineDeps {
  readonly index: SubscriptionIndex;
  readonly client: WebhookClient;
  readonly parking: RetryParkingStore;
  readonly pendingDisables: PendingDisableStore;
  readonly repository: SubscriptionRepository;
  readonly records: DeliveryRecordsWriter;
  readonly deadLetters: DeadLetterWriter;
  readonly backfills: BackfillGate;
  readonly metrics: DeliveryMetrics;
  readonly tracer: Tracer;
  readonly config: FanoutDeliveryConfig;
  readonly requestTimeoutMs: number;
  readonly version: string;
  readonly logger: Logger;
}

interface ParkedKey {
  readonly queueId: string;
  readonly topic: string;
  readonly partition: number;
}

interface Health {
  lastWriteMs: number;
  failingSinceMs: number | null;
  lastSuccessMs: number | null;
}

/**
 * Runs every subscription's lane: sends attempts, applies the retry policy to their results,
 * parks long waits in Redis, dead-letters exhausted deliveries, disables subscriptions that
 * answer 410 or fail too long, and records attempts for the API. Lanes come and go with the
 * subscriptions in the index.
 */
export class DeliveryEngine {
  private readonly lanes = new Map<string, DeliveryLane>();
  /**
   * Parked keys of owned partitions for subscriptions without a lane (paused, disabled, or not
   * yet seen active), so a lane made later sends a key's new events behind its parked queue,
   * not before it. A key that has drained since costs one park call that finds no queue.
   */
  private readonly parkedWithoutLane = new Map<string, ParkedKey[]>();
  private readonly health = new Map<string, Health>();
  /** Disables in progress, by subscription: a second 410 meanwhile waits for the same one. */
  private readonly disabling = new Map<string, Promise<boolean>>();
  /** Attempts in flight, with their tasks. */
  private readonly running = new Map<Promise<void>, DeliveryTask>();
  private stopped = false;
  private ownerRefusedHandler: ((topic: string, partition: number) => void) | undefined;
  /** Attempts in flight per origin, shared by the lanes sending there (see OriginBudgets). */
  private readonly budgets: OriginBudgets;
  /** Each lane's origin, whose budget it holds. */
  private readonly laneOrigins = new Map<string, string>();
  private slowAttemptsUnlogged = 0;
  /** One line a minute for each: slow attempts, limit cuts and rebases, spills, pace, hold-backs. */
  private readonly slowAttemptsLog = new LogThrottle();
  private readonly cutsLog = new LogThrottle();
  private readonly rebasesLog = new LogThrottle();
  private readonly spillsLog = new LogThrottle();
  private readonly paceUnmeasuredLog = new LogThrottle();
  private readonly heldBackLog = new LogThrottle();
  private sweepTimer: NodeJS.Timeout | undefined;
  /** The lease of a task claimed from parking (as the poller's claims). */
  private readonly claimLeaseMs: number;
  /** The lanes' clock of progress: time the event loop was blocked does not count as silence. */
  private readonly clock = new LoopClock();

  constructor(private readonly deps: DeliveryEngineDeps) {
    this.claimLeaseMs = claimLeaseMs(deps.requestTimeoutMs);
    this.clock.start();
    this.budgets = new OriginBudgets(deps.config.originBudget, {
      slow: (_origin, count) => this.noteSlowAttempts(count),
      cut: (origin, from, to) => this.noteLimitCut(origin, from, to),
      rebase: (origin, fromMs, toMs, limit) => this.noteLimitRebase(origin, fromMs, toMs, limit),
    });
    deps.metrics.watchBudgets(this.budgets);
    deps.index.onChange((previous, next) => this.onSubscriptionChange(previous, next));
    deps.records.watchHeld(() => this.heldBySubscription());
  }

  /**
   * Takes a task read from Kafka. Once the engine has stopped it is left unsettled (its offset is
   * not committed, nor handed over as done): whoever reads the partition next sends it.
   */
  submit(task: DeliveryTask): void {
    if (this.stopped) return;
    const lane = this.laneFor(task.subscriptionId);
    if (lane) lane.enqueue(task);
    else task.ticket?.settle(task.subscriptionId);
  }

  /**
   * How many parked tasks a subscription's lane can start now, counting `ending` of its attempts
   * in flight as over: none while its secrets cannot be used (they stay parked, not claimed again
   * and again, until the secrets are fixed).
   */
  capacity(subscriptionId: string, startWithinMs: number, ending = 0): number {
    if (this.deps.index.get(subscriptionId)?.secretsProblem) return 0;
    return this.laneFor(subscriptionId)?.capacity(startWithinMs, ending) ?? 0;
  }

  /** Takes a task claimed from parking. False when its subscription has no lane (gone, paused). */
  submitClaimed(task: DeliveryTask): boolean {
    const lane = this.laneFor(task.subscriptionId);
    if (!lane) return false;
    lane.enqueueClaimed(task);
    return true;
  }

  /**
   * Who claims a partition again when Redis names another owner of one this instance holds (the
   * source consumer, which knows the partitions).
   */
  onOwnerRefused(handler: (topic: string, partition: number) => void): void {
    this.ownerRefusedHandler = handler;
  }

  private ownerRefused(topic: string, partition: number): void {
    this.ownerRefusedHandler?.(topic, partition);
  }

  /** Tells the lanes which keys of a newly owned partition are parked. */
  markParked(
    parked: ReadonlyMap<string, ReadonlySet<string>>,
    topic: string,
    partition: number,
  ): void {
    for (const [subscriptionId, queues] of parked) {
      const keys = [...queues].map((queueId) => ({ queueId, topic, partition }));
      const lane = this.laneFor(subscriptionId);
      if (lane) for (const key of keys) lane.markParked(key.queueId, key.topic, key.partition);
      else this.rememberParked(subscriptionId, keys);
    }
  }

  /**
   * A partition was paused at its backlog bound, held back by `behind` (subscriptions with many
   * more of its tasks unsettled than another one reading it; see OffsetTracker.holdingBack):
   * their lanes, at their own limits, keep their memory's bound and park the rest (see
   * DeliveryLane.holdsBackPartition). Counted once a pause (`newPause`), logged at most once a
   * minute.
   */
  partitionHeldBack(
    topic: string,
    partition: number,
    behind: readonly string[],
    newPause: boolean,
  ): void {
    for (const id of behind) this.lanes.get(id)?.holdsBackPartition();
    if (!newPause) return;
    this.deps.metrics.backlogHeldBack.inc({ topic });
    if (!this.heldBackLog.due()) return;
    this.deps.logger.info(
      { topic, partition, behind: behind.slice(0, 10), subscriptionsBehind: behind.length },
      'partition paused: its backlog waits on subscriptions behind the others; those at their own limits park what they hold past HERALD_DELIVERY_LANE_MEMORY, so the others read on',
    );
  }

  /**
   * Forgets what the lanes hold from a partition that moved to another instance; resolves once
   * the attempts in flight from it have finished (each settles its task if it succeeded).
   */
  dropPartition(topic: string, partition: number): Promise<void> {
    for (const lane of this.lanes.values()) lane.dropPartition(topic, partition);
    // Its new owner learns the partition's parked keys from Redis.
    for (const [subscriptionId, keys] of this.parkedWithoutLane) {
      const kept = keys.filter((key) => key.topic !== topic || key.partition !== partition);
      if (kept.length > 0) this.parkedWithoutLane.set(subscriptionId, kept);
      else this.parkedWithoutLane.delete(subscriptionId);
    }
    const attempts: Promise<void>[] = [];
    for (const [attempt, task] of this.running)
      if (
        task.ticket !== null &&
        task.origin === 'live' &&
        task.source.topic === topic &&
        task.source.partition === partition
      )
        attempts.push(attempt);
    return Promise.all(attempts).then(() => undefined);
  }

  private rememberParked(subscriptionId: string, keys: readonly ParkedKey[]): void {
    if (keys.length === 0) return;
    this.parkedWithoutLane.set(subscriptionId, [
      ...(this.parkedWithoutLane.get(subscriptionId) ?? []),
      ...keys,
    ]);
  }

  /** Requests in flight across all lanes (slow ones included). */
  inFlight(): number {
    let total = 0;
    for (const lane of this.lanes.values()) total += lane.inFlight;
    return total;
  }

  /** Tasks held in memory per subscription with any (each one's lag as this instance sees it). */
  heldBySubscription(): Map<string, number> {
    const held = new Map<string, number>();
    for (const [id, lane] of this.lanes) if (lane.size > 0) held.set(id, lane.size);
    return held;
  }

  /** Tasks held in memory for one subscription (its lag as this instance sees it). */
  held(subscriptionId: string): number {
    return this.lanes.get(subscriptionId)?.size ?? 0;
  }

  /**
   * Stops starting attempts and waits (up to `timeoutMs`) for those in flight; claimed parked
   * tasks not yet sent are handed back (due at once) for another instance.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweepTimer);
    this.clock.stop();
    const handBack: Promise<unknown>[] = [];
    for (const lane of this.lanes.values())
      for (const task of lane.close('hand-back'))
        if (task.claim)
          handBack.push(this.finishClaim(task.claim, { kind: 'release', dueMs: Date.now() }, task));
    this.lanes.clear();
    this.laneOrigins.clear();
    this.budgets.close();
    const deadline = new Promise((resolve) => setTimeout(resolve, timeoutMs).unref());
    await Promise.race([Promise.allSettled([...this.running.keys(), ...handBack]), deadline]);
  }

  /**
   * Publishes, now and every minute, the `herald.subscription.disabled` events of disables an
   * instance wrote but died before publishing.
   */
  startSweeps(): void {
    const sweep = () =>
      void this.sweepPendingDisables().catch((error: unknown) =>
        this.deps.logger.warn({ err: error }, 'could not look for unpublished disabled events'),
      );
    sweep();
    this.sweepTimer = setInterval(sweep, PENDING_DISABLE_SWEEP_MS);
    this.sweepTimer.unref();
  }

  /**
   * Each pending disable older than the grace period: its event published if the subscription
   * is disabled (its instance died after the status write), dropped if the subscription is
   * still active (it died before) or gone.
   */
  async sweepPendingDisables(nowMs = Date.now()): Promise<void> {
    for (const [id, pending] of await this.deps.pendingDisables.list()) {
      if (this.stopped) return;
      if (nowMs - pending.at < PENDING_DISABLE_GRACE_MS || this.disabling.has(id)) continue;
      const subscription = await this.deps.repository.get(id);
      if (subscription?.status === 'disabled') {
        await this.deps.deadLetters.subscriptionDisabled(
          subscription,
          pending.reason as DisableReason,
          pending,
        );
        this.deps.metrics.disabledEventsRecovered.inc();
        this.deps.logger.warn(
          {
            subscriptionId: id,
            reason: pending.reason,
            recordedAt: new Date(pending.at).toISOString(),
          },
          'published the disabled event of a subscription whose instance stopped before it could',
        );
      }
      await this.deps.pendingDisables.remove(id);
    }
  }

  private laneFor(subscriptionId: string): DeliveryLane | undefined {
    if (this.stopped) return undefined;
    const existing = this.lanes.get(subscriptionId);
    if (existing) return existing;
    const entry = this.deps.index.get(subscriptionId);
    if (
      !entry ||
      entry.subscription.status !== 'active' ||
      entry.subscription.kind !== 'webhook' ||
      entry.secretsProblem !== null
    )
      return undefined;
    const origin = originOf(entry.subscription.url);
    this.laneOrigins.set(subscriptionId, origin);
    const lane = new DeliveryLane(
      subscriptionId,
      this.laneSettings(entry),
      {
        send: (task, permit) => this.track(this.attempt(lane, task, permit), task),
        park: (task, mode, dueMs) =>
          this.deps.parking.park({
            subscriptionId,
            queueId: task.queueId,
            task: serializeTask(task),
            dueMs,
            mode,
            owner: task.ticket?.owner ?? null,
          }),
        inFlightLeaseMs: this.claimLeaseMs,
        finishSpilled: (claim, task, result) =>
          this.finishClaim(claim, spilledOutcome(task, result), task),
        spilled: (count, reason) => this.noteSpill(subscriptionId, count, reason),
        now: () => Date.now(),
        runningNow: () => this.clock.now(),
        loopBusyShare: () => this.clock.busyShare(),
        paceUnmeasured: (busyShare) => this.notePaceUnmeasured(busyShare),
        schedule: (delayMs, run) => {
          const timer = setTimeout(run, delayMs);
          return () => clearTimeout(timer);
        },
        parkFailed: (error) =>
          this.deps.logger.warn(
            { err: error, subscriptionId },
            'parking a retry failed; trying again',
          ),
        ownerRefused: (topic, partition) => this.ownerRefused(topic, partition),
      },
      this.budgets.take(origin),
    );
    this.lanes.set(subscriptionId, lane);
    for (const key of this.parkedWithoutLane.get(subscriptionId) ?? [])
      lane.markParked(key.queueId, key.topic, key.partition);
    this.parkedWithoutLane.delete(subscriptionId);
    return lane;
  }

  private laneSettings(entry: IndexedSubscription): LaneSettings {
    return {
      maxInFlight: Math.max(1, entry.subscription.maxInFlight),
      maxPerSecond: entry.subscription.maxPerSecond,
      spillAt: this.deps.config.laneMemory,
      stallMs: LANE_STALL_MS,
    };
  }

  private onSubscriptionChange(
    previous: IndexedSubscription | null,
    next: IndexedSubscription | null,
  ): void {
    const id = (next ?? previous)!.subscription.id;
    const active =
      next !== null &&
      next.subscription.status === 'active' &&
      next.subscription.kind === 'webhook';
    // Its failing period ends with it (Redis forgets it when it becomes active again): one
    // resumed soon after would otherwise be judged by the old period kept here.
    if (!active) this.health.delete(id);
    const lane = this.lanes.get(id);
    if (!lane) return;
    if (active) {
      lane.update(this.laneSettings(next));
      const origin = originOf(next.subscription.url);
      const previousOrigin = this.laneOrigins.get(id);
      if (previousOrigin !== undefined && origin !== previousOrigin) {
        lane.moveTo(this.budgets.take(origin));
        this.budgets.give(previousOrigin);
        this.laneOrigins.set(id, origin);
      }
      return;
    }
    this.lanes.delete(id);
    const origin = this.laneOrigins.get(id);
    this.laneOrigins.delete(id);
    this.deps.client.release(id);
    // Paused or disabled, it may come back while its parked queues are still in Redis (they
    // are dropped only once due).
    if (next !== null) this.rememberParked(id, lane.parkedKeys());
    // Paused, disabled or deleted: what it held is not kept for later (SPEC §5).
    for (const task of lane.close())
      if (task.claim) void this.finishClaim(task.claim, { kind: 'drop-queue' }, task);
    if (origin !== undefined) this.budgets.give(origin);
    this.deps.logger.info(
      { subscriptionId: id, status: next?.subscription.status ?? 'deleted' },
      'subscription no longer active; its lane is closed',
    );
  }

  /** A lane parked what it held; at most one line a minute for each subscription. */
  private noteSpill(subscriptionId: string, count: number, reason: SpillReason): void {
    this.deps.metrics.laneSpills.inc({ reason });
    if (!this.spillsLog.due(subscriptionId)) return;
    this.deps.logger.info({ subscriptionId, parked: count, reason }, SPILL_LOG_LINES[reason]);
  }

  /**
   * A busy lane's pace window ended with this process's event loop saturated; at most one line a
   * minute for the whole instance (every busy lane sees the same).
   */
  private notePaceUnmeasured(busyShare: number): void {
    this.deps.metrics.paceUnmeasured.inc();
    if (!this.paceUnmeasuredLog.due()) return;
    this.deps.logger.info(
      { busyShare: Math.round(busyShare * 1000) / 1000 },
      'fanout’s event loop is saturated: busy lanes send at its pace, not their endpoints’, so none is parked for its pace (more fanout instances or CPU would deliver faster)',
    );
  }

  /** At most one line a minute: a hanging endpoint turns every one of its attempts slow. */
  private noteSlowAttempts(count: number): void {
    this.slowAttemptsUnlogged += count;
    if (!this.slowAttemptsLog.due()) return;
    this.deps.logger.info(
      {
        attempts: this.slowAttemptsUnlogged,
        slowAfterMs: this.deps.config.originBudget.slowAfterMs,
      },
      'webhook attempts still outstanding after HERALD_DELIVERY_SLOW_REQUEST_MS no longer count against the in-flight budget',
    );
    this.slowAttemptsUnlogged = 0;
  }

  /** An origin slowed down under its load; at most one line a minute for each. */
  private noteLimitCut(origin: string, from: number, to: number): void {
    if (!this.cutsLog.due(origin)) return;
    this.deps.logger.info(
      { origin, from, to },
      'webhook latency rose with the load on an origin; fewer attempts in flight there',
    );
  }
  /** An origin got slower whatever its load; at most one line a minute for each. */
  private noteLimitRebase(origin: string, fromMs: number, toMs: number, limit: number): void {
    if (!this.rebasesLog.due(origin)) return;
    this.deps.logger.info(
      { origin, unloadedMs: toMs, previousUnloadedMs: fromMs, limit },
      'webhook latency on an origin did not fall with the load; its limit takes it as the unloaded latency',
    );
  }

  private track(work: Promise<void>, task: DeliveryTask): void {
    this.running.set(work, task);
    void work.finally(() => this.running.delete(work));
  }

  /** One attempt of `task`, then what its result means. Never rejects. */
  private async attempt(lane: DeliveryLane, task: DeliveryTask, permit: SendPermit): Promise<void> {
    let result: TaskResult = { kind: 'settled' };
    try {
      result = await this.attemptOnce(lane, task);
    } catch (error) {
      this.deps.logger.error(
        { err: error, subscriptionId: task.subscriptionId },
        'delivery attempt failed unexpectedly',
      );
      result = task.claim ? { kind: 'settled' } : { kind: 'retry', delayMs: STORE_RETRY_MS };
    }
    // Its slot goes to the next waiting lane first, then this lane starts what it can.
    permit.release();
    lane.finished(task, result);
  }

  private async attemptOnce(lane: DeliveryLane, task: DeliveryTask): Promise<TaskResult> {
    if (task.ticket && !task.ticket.current) return { kind: 'abandoned' };
    const entry = this.deps.index.get(task.subscriptionId);
    const { subscription } = entry ?? {};
    // Checked again now, not only when routed: the subscription may have changed meanwhile.
    if (
      !entry ||
      !subscription ||
      subscription.status !== 'active' ||
      !acceptsSource(entry, task.source, task.origin === 'live')
    ) {
      if (task.claim) await this.finishClaim(task.claim, { kind: 'drop-queue' }, task);
      return { kind: 'settled' };
    }
    const nowMs = Date.now();
    // Its secrets stopped working while the lane held this task (logged and counted once by the
    // index): not an attempt, and not lost. It waits parked until they are fixed.
    if (entry.secretsProblem !== null) {
      const dueMs = nowMs + SECRETS_RECHECK_MS;
      if (!task.claim) return { kind: 'park', dueMs };
      await this.finishClaim(task.claim, { kind: 'release', dueMs }, task);
      return { kind: 'settled' };
    }
    // A live event of a key waits, parked, while the subscription's backfill (its events from
    // before the subscription) runs: order per key holds across the two. Not an attempt.
    const held =
      task.origin === 'live' && task.ordered
        ? this.deps.backfills.holds(subscription, entry.backfill, nowMs)
        : false;
    if (held !== false && (await held)) {
      this.deps.metrics.backfillHolds.inc();
      const dueMs = nowMs + BACKFILL_RECHECK_MS;
      if (!task.claim) return { kind: 'park', dueMs };
      await this.finishClaim(task.claim, { kind: 'retry', task: serializeTask(task), dueMs }, task);
      return { kind: 'settled' };
    }
    task.firstAttemptAt ??= new Date(nowMs).toISOString();
    // One client span per attempt, continuing the producer's trace; it is the receiver's parent.
    const span = this.deps.tracer.startSpan('herald.deliver', {
      kind: 'client',
      traceparent: task.source.event.traceparent,
      // Built only when spans are exported (without an exporter nothing reads them).
      attributes: this.deps.tracer.enabled
        ? {
            'herald.subscription.id': subscription.id,
            'herald.event.id': task.source.event.id,
            'herald.event.type': task.source.event.type,
            'herald.attempt': task.attempt,
            'herald.replay': task.origin === 'replay',
          }
        : undefined,
    });
    const request = buildWebhookRequest({
      event: task.source.event,
      subscription: {
        id: subscription.id,
        url: subscription.url ?? '',
        format: subscription.format,
        secrets: entry.secrets.signing ? activeSecrets(entry.secrets.signing, nowMs) : [],
        headers: subscription.headers,
        auth: entry.secrets.auth,
      },
      attempt: task.attempt,
      replay: task.origin === 'replay',
      nowMs,
      version: this.deps.version,
      traceparent: span.traceparent(),
    });
    // Connections are the subscription's own, as many as it may have in flight.
    const result = await this.deps.client.send(request, {
      key: subscription.id,
      connections: Math.max(1, subscription.maxInFlight),
    });
    // What the endpoint took to answer sets how many requests its lane keeps in flight; an
    // attempt that never reached it (refused, unreachable) says nothing about that.
    if (result.kind === 'response' || result.error === 'timeout')
      lane.noteLatency(result.durationMs);
    const decision = decide(result, task.attempt, entry.retryDelays);
    this.record(task, result, decision, nowMs);
    if (result.kind === 'response') span.setAttribute('http.response.status_code', result.status);
    span.setAttribute('herald.outcome', decision.action);
    span.end(decision.action === 'success' ? undefined : new Error(describeOutcome(result)));

    switch (decision.action) {
      case 'success':
        lane.delivered();
        this.noteSuccess(subscription.id);
        this.deps.metrics.webhookDelivered(
          Math.max(0, Date.now() - task.source.eventTimeMs) / 1000,
        );
        task.ticket?.outcome?.('delivered');
        if (task.claim) await this.finishClaim(task.claim, { kind: 'done' }, task, 1);
        return { kind: 'settled' };
      case 'retry': {
        void this.noteFailure(entry, result);
        task.attempt += 1;
        const dueMs = Date.now() + decision.delayMs;
        if (task.claim) {
          await this.finishClaim(
            task.claim,
            { kind: 'retry', task: serializeTask(task), dueMs },
            task,
          );
          return { kind: 'settled' };
        }
        if (decision.delayMs <= this.deps.config.parkAfterMs)
          return { kind: 'retry', delayMs: decision.delayMs };
        this.deps.logger.debug(
          {
            subscriptionId: subscription.id,
            eventId: task.source.event.id,
            attempt: task.attempt,
            dueMs,
          },
          'retry parked',
        );
        return { kind: 'park', dueMs };
      }
      case 'dead-letter':
        await this.untilDone('dead letter', () =>
          this.deps.deadLetters.deadLetter(task, subscription, lastAttempt(result)),
        );
        this.deps.metrics.deadLettered(subscription.id);
        this.deps.records.deadLettered(subscription.id);
        // Still a failure without a success: with an empty schedule, or a request that cannot
        // be sent, every failure ends here, and the subscription must still be disabled in time.
        void this.noteFailure(entry, result);
        this.deps.logger.warn(
          {
            subscriptionId: subscription.id,
            eventId: task.source.event.id,
            attempts: task.attempt,
            reason: decision.reason,
          },
          'delivery dead-lettered',
        );
        task.ticket?.outcome?.('dead-lettered');
        if (task.claim) await this.finishClaim(task.claim, { kind: 'done' }, task, 1);
        return { kind: 'settled' };
      case 'disable': {
        const disabled = await this.disable(
          entry,
          'endpoint_gone',
          result.kind === 'response' ? result.status : null,
        );
        if (!disabled) {
          // Neither delivered nor dead-lettered, and the subscription is still active: sent
          // again, and its next 410 tries the disable again.
          task.attempt += 1;
          if (!task.claim) return { kind: 'retry', delayMs: STORE_RETRY_MS };
          const dueMs = Date.now() + STORE_RETRY_MS;
          await this.finishClaim(
            task.claim,
            { kind: 'retry', task: serializeTask(task), dueMs },
            task,
          );
          return { kind: 'settled' };
        }
        if (task.claim) await this.finishClaim(task.claim, { kind: 'drop-queue' }, task);
        return { kind: 'settled' };
      }
    }
  }

  private record(
    task: DeliveryTask,
    result: WebhookAttemptResult,
    decision: RetryDecision,
    startedMs: number,
  ): void {
    const status = result.kind === 'response' ? result.status : null;
    const succeeded = decision.action === 'success';
    this.deps.metrics.attempt(
      succeeded ? 'delivered' : decision.action === 'dead-letter' ? 'dead_lettered' : 'failed',
      status,
      result.durationMs,
      task.subscriptionId,
    );
    this.deps.records.attempt(task.subscriptionId, {
      eventId: task.source.event.id,
      type: task.source.event.type,
      attempt: task.attempt,
      at: new Date(startedMs).toISOString(),
      status: succeeded ? 'succeeded' : 'failed',
      statusCode: status,
      durationMs: result.durationMs,
      error: succeeded ? null : describeOutcome(result),
      responseBody: result.kind === 'response' ? result.body : null,
      replay: task.origin === 'replay',
      test: false,
    });
  }

  private noteSuccess(subscriptionId: string): void {
    const health = this.healthOf(subscriptionId);
    const now = Date.now();
    health.failingSinceMs = null;
    health.lastSuccessMs = now;
    if (now - health.lastWriteMs < HEALTH_WRITE_INTERVAL_MS) return;
    health.lastWriteMs = now;
    this.deps.parking
      .noteSuccess(subscriptionId, now)
      .catch((error: unknown) =>
        this.deps.logger.debug({ err: error }, 'could not record a success'),
      );
  }

  /** Counts a failure toward the disable-after period (shared by all instances through Redis). */
  private async noteFailure(
    entry: IndexedSubscription,
    result: WebhookAttemptResult,
  ): Promise<void> {
    const id = entry.subscription.id;
    const health = this.healthOf(id);
    const now = Date.now();
    if (now - health.lastWriteMs >= HEALTH_WRITE_INTERVAL_MS || health.failingSinceMs === null) {
      health.lastWriteMs = now;
      try {
        health.failingSinceMs = await this.deps.parking.noteFailure(id, now, health.lastSuccessMs);
      } catch (error) {
        this.deps.logger.debug({ err: error }, 'could not record a failure');
        return;
      }
    }
    if (
      health.failingSinceMs !== null &&
      now - health.failingSinceMs >= this.deps.config.disableAfterMs
    ) {
      await this.disable(
        entry,
        'failing_too_long',
        result.kind === 'response' ? result.status : null,
      );
    }
  }

  private healthOf(subscriptionId: string): Health {
    let health = this.health.get(subscriptionId);
    if (!health) {
      health = { lastWriteMs: 0, failingSinceMs: null, lastSuccessMs: null };
      this.health.set(subscriptionId, health);
    }
    return health;
  }

  /**
   * Disables the subscription (once, if still active) and publishes `herald.subscription.disabled`.
   * True when it is no longer active (disabled now or before, or deleted); false when the store
   * could not be updated, so the caller's next failure tries again.
   */
  private disable(
    entry: IndexedSubscription,
    reason: DisableReason,
    lastStatus: number | null,
  ): Promise<boolean> {
    const id = entry.subscription.id;
    const running = this.disabling.get(id);
    if (running) return running;
    const disabling = this.disableOnce(entry, reason, lastStatus).finally(() =>
      this.disabling.delete(id),
    );
    this.disabling.set(id, disabling);
    return disabling;
  }

  private async disableOnce(
    entry: IndexedSubscription,
    reason: DisableReason,
    lastStatus: number | null,
  ): Promise<boolean> {
    const id = entry.subscription.id;
    const health = this.healthOf(id);
    // Recorded first: an instance that dies after the status write leaves the event to the
    // sweep of another (or of this one, restarted), rather than losing it.
    const pending: PendingDisable = {
      reason,
      lastStatus,
      lastSuccessAt:
        health.lastSuccessMs === null ? null : new Date(health.lastSuccessMs).toISOString(),
      failingSince:
        health.failingSinceMs === null ? null : new Date(health.failingSinceMs).toISOString(),
      at: Date.now(),
    };
    try {
      await this.deps.pendingDisables.add(id, pending);
      let changed = false;
      const updated = await this.deps.repository.update(id, (current) => {
        changed = current.subscription.status === 'active';
        if (!changed) return current;
        return {
          ...current,
          subscription: {
            ...current.subscription,
            status: 'disabled',
            statusReason:
              reason === 'endpoint_gone'
                ? 'the endpoint answered 410 Gone'
                : `no successful delivery for ${Math.round(this.deps.config.disableAfterMs / 3_600_000)} hours`,
          },
        };
      });
      if (!changed) {
        await this.forgetPendingDisable(id);
        return true;
      }
      // Apply at once rather than waiting for the notice: nothing more is sent.
      this.deps.index.upsert(updated);
      await this.untilDone('disabled event', () =>
        this.deps.deadLetters.subscriptionDisabled(updated.subscription, reason, pending),
      );
      await this.forgetPendingDisable(id);
      this.deps.logger.warn(
        { subscriptionId: id, tenant: entry.subscription.tenant, reason },
        'subscription disabled',
      );
      return true;
    } catch (error) {
      // Deleted meanwhile: nothing is left to disable, nor to deliver.
      if (error instanceof SubscriptionNotFoundError) return true;
      this.deps.logger.error(
        { err: error, subscriptionId: id, reason },
        'could not disable the subscription; its next failure tries again',
      );
      return false;
    }
  }

  /** The sweep drops it otherwise (publishing the event again, if disabled: at least once). */
  private async forgetPendingDisable(id: string): Promise<void> {
    try {
      await this.deps.pendingDisables.remove(id);
    } catch (error) {
      this.deps.logger.debug(
        { err: error, subscriptionId: id },
        'could not drop a pending disable',
      );
    }
  }

  /** `ending`: 1 when called from within the task's attempt, whose slot frees right after. */
  private async finishClaim(
    claim: ClaimedTask,
    outcome: ParkedOutcome,
    task: DeliveryTask,
    ending = 0,
  ): Promise<void> {
    // Live tasks were parked by their partition's owner, which lists the queue under the partition.
    const source =
      task.origin === 'live'
        ? { topic: task.source.topic, partition: task.source.partition }
        : null;
    // A key's parked queue: its next task is claimed in the same step and sent at once, if the
    // lane has room (else the poller claims it), so a key drains at its endpoint's pace rather
    // than one task a poll.
    const chained =
      outcome.kind === 'done' &&
      task.ordered &&
      !this.stopped &&
      this.capacity(claim.subscriptionId, this.claimLeaseMs / 2, ending) > 0;
    if (!chained) {
      const kept = await this.untilDone('parked task update', () =>
        this.deps.parking.finish(claim, outcome, source),
      );
      if (!kept) this.noteClaimLost(claim);
      return;
    }
    const { kept, next } = await this.untilDone('parked task update', () =>
      this.deps.parking.finishAndClaimNext(claim, source, this.claimLeaseMs),
    );
    if (!kept) this.noteClaimLost(claim);
    if (next) await this.takeChained(next, source);
  }

  /** Sends the next task of a key's parked queue, claimed as its head was finished. */
  private async takeChained(
    claim: ClaimedTask,
    source: { topic: string; partition: number } | null,
  ): Promise<void> {
    const task = parseClaimedTask(claim);
    if (task && this.submitClaimed(task)) {
      this.deps.metrics.chainedClaims.inc();
      return;
    }
    if (!task)
      this.deps.logger.error(
        { subscriptionId: claim.subscriptionId, queueId: claim.queueId },
        'unreadable parked task dropped',
      );
    // Unreadable, it goes with its queue (as the poller does); with no lane (the subscription
    // paused or gone meanwhile), it is handed back to the poller, which knows what to do with it.
    const outcome: ParkedOutcome = task
      ? { kind: 'release', dueMs: Date.now() }
      : { kind: 'drop-queue' };
    const kept = await this.untilDone('parked task update', () =>
      this.deps.parking.finish(claim, outcome, source),
    );
    if (!kept) this.noteClaimLost(claim);
  }

  private noteClaimLost(claim: ClaimedTask): void {
    this.deps.logger.warn(
      { subscriptionId: claim.subscriptionId, queueId: claim.queueId },
      'a parked task outlived its claim; another instance owns it now',
    );
  }

  /** Retries a write to Kafka or Redis until it succeeds (they come back; the task waits). */
  private async untilDone<T>(what: string, write: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await write();
      } catch (error) {
        this.deps.logger.warn({ err: error, attempt }, `${what} failed; retrying`);
        await new Promise((resolve) =>
          setTimeout(resolve, Math.min(attempt * STORE_RETRY_MS, 5000)),
        );
      }
    }
  }
}

/** What the result of a spilled head's attempt makes of its parked, claimed copy. */
function spilledOutcome(task: DeliveryTask, result: TaskResult): ParkedOutcome {
  switch (result.kind) {
    case 'settled':
      return { kind: 'done' };
    case 'retry':
      return { kind: 'retry', task: serializeTask(task), dueMs: Date.now() + result.delayMs };
    case 'park':
      return { kind: 'retry', task: serializeTask(task), dueMs: result.dueMs };
    case 'abandoned':
      return { kind: 'release', dueMs: Date.now() };
  }
}

function lastAttempt(result: WebhookAttemptResult): {
  status: number | null;
  error: string | null;
} {
  return result.kind === 'response'
    ? { status: result.status, error: `HTTP ${result.status}` }
    : { status: null, error: `${result.error}: ${result.message}` };
}

/** How long a claimed parked task may take before another instance may claim it again. */
export function claimLeaseMs(requestTimeoutMs: number): number {
  // Twice the attempt: the task may wait for a free slot in its lane before being sent.
  return 2 * requestTimeoutMs + CLAIM_LEASE_MARGIN_MS;
}
