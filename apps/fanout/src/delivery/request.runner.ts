import type { ContractRegistry } from '@herald/contract';
import {
  topicPartitionKey,
  type OffsetLookup,
  type OffsetRangeReader,
  type PartitionRange,
  decodeCursor,
  type CursorPositions,
  InvalidCursorError,
} from '@herald/kafka';
import type { Logger } from '@herald/observability';
import {
  LeaseLostError,
  type ClaimedRedrive,
  type ClaimedReplay,
  type DeadLetter,
  type DeadLetterRepository,
  type RedriveRequest,
  type ReplayEnd,
  type ReplayPosition,
  type ReplayProgress,
  type ReplayRepository,
  type RetryParkingStore,
} from '@herald/store';
import type { IndexedSubscription } from '../subscriptions/compiled-subscription';
import type { SubscriptionIndex } from '../subscriptions/subscription-index';
import type { SubscriptionIndexSync } from '../subscriptions/subscription-index.sync';
import type { DeliveryEngine } from './delivery.engine';
import type { DeliveryMetrics } from './delivery.metrics';
import { matchingAmong } from './delivery-router';
import {
  orderingQueueId,
  serializeTask,
  type DeliveryTask,
  type TaskTicket,
} from './delivery-task';
import { HeldLease, type LeaseKind } from './held-lease';
import { parseSourceEvent, type SourceEvent } from './source-event';

const POLL_INTERVAL_MS = 2000;
const PROGRESS_INTERVAL_MS = 500;
const BACKPRESSURE_WAIT_MS = 20;

/**
 * Carries out what the subscription API queued for the engine.
 *
 * Replays: the offsets of the start time are looked up in every topic carrying a type the
 * subscription matches (ListOffsets by timestamp), or taken from a stream cursor; the end offsets
 * are captured (or looked up for the end time, or taken from the end cursor), and a reader outside the consumer group feeds exactly that range into the
 * subscription's lane, marked `herald-replay: true`, ordered per key among themselves, while
 * live delivery goes on beside it.
 *
 * Redrives: each dead letter's event is read back from Kafka by its offset and parked, due at
 * once, as a fresh delivery, so it survives a crash from the moment the redrive is accepted.
 */
export class RequestRunner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private readonly abort = new AbortController();
  private wake = false;
  private stopped = false;
  /** The replays this instance runs, by id: each runs on its own, beside redrives and the others. */
  private readonly replaysRunning = new Map<string, Promise<void>>();
  /**
   * The redrive this instance carries out, if any: one at a time, in the background, so a long
   * one (a page of letters is a consumer group join) does not hold up replay claims.
   */
  private redriving: Promise<void> | null = null;

  constructor(
    private readonly deps: {
      readonly contract: ContractRegistry;
      readonly index: SubscriptionIndex;
      readonly sync: SubscriptionIndexSync;
      readonly engine: DeliveryEngine;
      readonly replays: ReplayRepository;
      readonly deadLetters: DeadLetterRepository;
      readonly parking: RetryParkingStore;
      readonly offsets: OffsetLookup;
      readonly reader: OffsetRangeReader;
      readonly metrics: DeliveryMetrics;
      readonly logger: Logger;
      readonly laneMemory: number;
      /** The lease of a claimed replay or redrive (`HERALD_DELIVERY_CLAIM_LEASE_MS`). */
      readonly leaseMs: number;
      /** Replays this instance runs at once (`HERALD_DELIVERY_REPLAY_CONCURRENCY`). */
      readonly replayConcurrency: number;
      /** Replays of one tenant running at once across instances (`HERALD_DELIVERY_REPLAYS_PER_TENANT`). */
      readonly replaysPerTenant: number;
      /** Dead letters a redrive reads back and hands over at a time (`HERALD_DELIVERY_REDRIVE_PAGE_SIZE`). */
      readonly redrivePageSize: number;
    },
  ) {}

  start(): void {
    this.deps.sync.onWork(() => this.trigger());
    this.trigger();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort.abort();
    await this.running;
    await Promise.all([...this.replaysRunning.values(), this.redriving]);
    await this.deps.offsets.close();
  }

  private trigger(): void {
    if (this.stopped) return;
    this.wake = true;
    this.running = this.running.then(async () => {
      while (this.wake && !this.stopped) {
        this.wake = false;
        await this.drainQueues();
      }
    });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.trigger(), POLL_INTERVAL_MS);
    this.timer.unref();
  }

  /**
   * Starts the oldest queued redrive when this instance runs none, then queued replays while it
   * has room. Both run in the background (a replay can take hours behind a slow endpoint, a
   * redrive of many letters minutes), so neither kind waits for the other.
   */
  private async drainQueues(): Promise<void> {
    try {
      for (const id of await this.deps.deadLetters.takeOverExpiredRedrives())
        this.deps.logger.warn(
          { redriveId: id },
          'redrive taken over: it was claimed and not finished within its lease; it runs again',
        );
      // `stopped` is checked before each claim. A redrive this instance stops in the middle of
      // stays claimed and is taken over once its lease runs out (its marked pages are done).
      if (!this.stopped && this.redriving === null) {
        const redrive = await this.deps.deadLetters.claimRedrive(Date.now(), this.deps.leaseMs);
        if (redrive) this.startRedrive(redrive);
      }
      for (const id of await this.deps.replays.takeOverExpired())
        this.deps.logger.warn(
          { replayId: id },
          'replay taken over: the instance running it stopped; it starts again from its beginning',
        );
      while (!this.stopped && this.replaysRunning.size < this.deps.replayConcurrency) {
        const replay = await this.deps.replays.claim(this.deps.leaseMs, this.deps.replaysPerTenant);
        if (!replay) break;
        this.startReplay(replay);
      }
    } catch (error) {
      this.deps.logger.warn({ err: error }, 'replay or redrive work failed; trying again later');
    }
  }

  private startRedrive(redrive: ClaimedRedrive): void {
    this.redriving = this.whileLeased(
      'redrive',
      { redriveId: redrive.id },
      () => this.deps.deadLetters.renewRedrive(redrive, Date.now(), this.deps.leaseMs),
      (lease) => this.redrive(redrive, lease),
    )
      .catch((error: unknown) =>
        this.deps.logger.warn(
          { err: error, redriveId: redrive.id },
          'redrive failed; its lease runs out and it is taken over',
        ),
      )
      .finally(() => {
        this.redriving = null;
        // The next queued one, if any.
        this.trigger();
      });
  }

  private startReplay(replay: ClaimedReplay): void {
    const run = this.replay(replay)
      .catch((error: unknown) =>
        this.deps.logger.warn(
          { err: error, replayId: replay.id },
          'replay could not be ended; its lease runs out and it is taken over',
        ),
      )
      .finally(() => {
        // Claimed again here while this run was ending (it lost its lease): that run's entry stays.
        if (this.replaysRunning.get(replay.id) === run) this.replaysRunning.delete(replay.id);
        this.deps.metrics.replaysRunning.set(this.replaysRunning.size);
        // Room for the next one.
        this.trigger();
      });
    this.replaysRunning.set(replay.id, run);
    this.deps.metrics.replaysRunning.set(this.replaysRunning.size);
  }

  /**
   * Hands the request's letters back to the engine a page at a time: a page's events are read
   * back from Kafka and parked, and its letters marked redriven, before the next page is read, so
   * a redrive of all never holds a subscription's whole list. One taken over after a crash goes
   * on past the pages already marked (all), or parks them again (by id: at least once).
   */
  private async redrive(request: ClaimedRedrive, lease: HeldLease): Promise<void> {
    let letters = 0;
    let parked = 0;
    for await (const page of this.redrivePages(request)) {
      const pageParked = await this.redrivePage(request, page, lease.signal);
      if (pageParked === null) {
        // Lost: whileLeased says so. Stopping: handed back, for another instance to go on at
        // once (with the letters not yet marked, for a redrive of all).
        if (!lease.lost) {
          lease.settle();
          await this.deps.deadLetters.handBackRedrive(request);
          this.deps.logger.info(
            { subscriptionId: request.subscriptionId, redriveId: request.id, letters, parked },
            'redrive handed back: this instance is stopping; another one goes on with it',
          );
        }
        return;
      }
      letters += page.length;
      parked += pageParked;
    }
    lease.settle();
    await this.deps.deadLetters.finishRedrive(request);
    this.deps.logger.info(
      {
        subscriptionId: request.subscriptionId,
        redriveId: request.id,
        letters,
        parked,
      },
      'dead letters redriven',
    );
  }

  /** The request's letters, a page at a time: its ids, or every letter not yet redriven. */
  private async *redrivePages(request: RedriveRequest): AsyncGenerator<DeadLetter[]> {
    if (request.ids === null) {
      yield* this.notRedriven(request.subscriptionId);
      return;
    }
    // At most the API's 1,000 ids: paged all the same, to hold as little as a redrive of all.
    for (let i = 0; i < request.ids.length; i += this.deps.redrivePageSize) {
      const ids = request.ids.slice(i, i + this.deps.redrivePageSize);
      const page = await this.deps.deadLetters.get(request.subscriptionId, ids);
      if (page.length > 0) yield page;
    }
  }

  /**
   * Parks the events of one page of letters, due at once, and marks the letters redriven; null
   * when `signal` ended it (this instance is stopping, or the redrive was taken over) while
   * reading them: the page is then left unmarked, as its events may not all have been read.
   * The marks are written under the request's claim: refused (LeaseLostError) once another
   * instance took the redrive over.
   */
  private async redrivePage(
    request: ClaimedRedrive,
    letters: readonly DeadLetter[],
    signal: AbortSignal,
  ): Promise<number | null> {
    const byId = new Map(
      letters.map((letter) => [
        `${letter.topic}\u0000${letter.partition}\u0000${letter.offset}`,
        letter,
      ]),
    );
    const events = await this.readEvents(letters, signal);
    if (signal.aborted) return null;
    let parked = 0;
    for (const [position, source] of events) {
      const letter = byId.get(position);
      if (!letter) continue;
      const task: DeliveryTask = {
        subscriptionId: request.subscriptionId,
        source,
        attempt: 1,
        firstAttemptAt: null,
        origin: 'redrive',
        replayId: null,
        queueId: `d.${letter.id}`,
        ordered: false,
        ticket: null,
        claim: null,
      };
      const outcome = await this.deps.parking.park({
        subscriptionId: request.subscriptionId,
        queueId: task.queueId,
        task: serializeTask(task),
        dueMs: Date.now(),
        mode: 'create',
        owner: null,
      });
      // Not parked when the subscription was deleted meanwhile ('no-subscription').
      if (outcome === 'parked' || outcome === 'queued') parked += 1;
    }
    await this.deps.deadLetters.markRedriven(
      request.subscriptionId,
      letters.map((l) => l.id),
      request,
    );
    return parked;
  }

  /**
   * The letters not yet redriven, oldest first, a page at a time, up to the newest one there is
   * when it starts: those dead-lettered meanwhile (this redrive's own deliveries failing again
   * among them) wait for the next redrive, or a failing endpoint would keep this one going.
   */
  private async *notRedriven(subscriptionId: string): AsyncGenerator<DeadLetter[]> {
    const until = await this.deps.deadLetters.newestId(subscriptionId);
    if (until === null) return;
    let cursor: string | null = null;
    do {
      const page = await this.deps.deadLetters.list(subscriptionId, {
        limit: this.deps.redrivePageSize,
        cursor,
        until,
      });
      const waiting = page.items.filter((letter) => letter.redrivenAt === null);
      if (waiting.length > 0) yield waiting;
      cursor = page.nextCursor;
    } while (cursor !== null);
  }

  /** The events at the letters' positions, read back from Kafka, by `topic\0partition\0offset`. */
  private async readEvents(
    letters: readonly DeadLetter[],
    signal: AbortSignal,
  ): Promise<Map<string, SourceEvent>> {
    const wanted = new Set(letters.map((l) => `${l.topic}\u0000${l.partition}\u0000${l.offset}`));
    const spans = new Map<string, PartitionRange>();
    for (const letter of letters) {
      const key = topicPartitionKey(letter.topic, letter.partition);
      const span = spans.get(key);
      const from = BigInt(letter.offset);
      spans.set(key, {
        topic: letter.topic,
        partition: letter.partition,
        from: String(span && BigInt(span.from) < from ? BigInt(span.from) : from),
        to: String(span && BigInt(span.to) > from + 1n ? BigInt(span.to) : from + 1n),
      });
    }
    const events = new Map<string, SourceEvent>();
    await this.deps.reader.read(
      [...spans.values()],
      ({ records }) => {
        for (const record of records) {
          const key = `${record.topic}\u0000${record.partition}\u0000${record.offset}`;
          if (!wanted.has(key)) continue;
          const parsed = parseSourceEvent(record);
          if (parsed.ok) events.set(key, parsed.source);
        }
        return Promise.resolve();
      },
      { signal },
    );
    return events;
  }

  private async replay(replay: ClaimedReplay): Promise<void> {
    await this.whileLeased(
      'replay',
      { replayId: replay.id },
      () => this.deps.replays.renew(replay, this.deps.leaseMs),
      (lease) => this.runReplay(replay, lease),
    );
  }

  /**
   * Runs `work` while renewing its claim's lease every sixth of it: the lease says this instance
   * is alive; without renewals another instance takes the work over. Once a renewal or one of
   * the work's writes is refused (LeaseLostError: this instance stalled past its lease and the
   * work was taken over), the lease's signal stops the work and nothing more is written under
   * the claim; tasks already handed to the lane may be sent twice, as at least once allows.
   */
  private async whileLeased(
    kind: LeaseKind,
    claimed: { replayId: string } | { redriveId: string },
    renew: () => Promise<void>,
    work: (lease: HeldLease) => Promise<void>,
  ): Promise<void> {
    const lease = new HeldLease(this.abort.signal);
    const renewing = setInterval(
      () =>
        void renew().catch((error: unknown) => {
          if (error instanceof LeaseLostError) lease.renewalRefused();
          else this.deps.logger.debug({ err: error, ...claimed }, 'lease renewal failed');
        }),
      Math.max(100, Math.floor(this.deps.leaseMs / 6)),
    );
    try {
      await work(lease);
    } catch (error) {
      // Once the lease is lost, whatever cut the work short was that.
      if (!(error instanceof LeaseLostError) && !lease.lost) throw error;
      lease.lose();
    } finally {
      clearInterval(renewing);
    }
    if (!lease.lost) return;
    this.deps.metrics.leasesLost.inc({ kind });
    this.deps.logger.warn(claimed, `${kind} lease lost: taken over by another instance`);
  }

  private async runReplay(replay: ClaimedReplay, lease: HeldLease): Promise<void> {
    // A backfill is requested right after its subscription is created: have that in the index.
    await this.deps.sync.freshUntil(Date.now());
    const entry = this.deps.index.get(replay.subscriptionId);
    if (!entry || entry.subscription.status !== 'active' || entry.subscription.kind !== 'webhook') {
      lease.settle();
      await this.deps.replays.finish(replay, {
        status: 'failed',
        error: 'the subscription is not an active webhook',
      });
      return;
    }
    if (entry.secretsProblem !== null) {
      lease.settle();
      await this.deps.replays.finish(replay, {
        status: 'failed',
        error: `the subscription's secrets cannot be used (${entry.secretsProblem}); fix them and replay again`,
      });
      return;
    }
    let from: ReplayBound;
    let to: ReplayBound | null;
    try {
      from = replayBound(replay.from);
      to = replay.to === null ? null : replayBound(replay.to);
    } catch (error) {
      if (!(error instanceof InvalidCursorError)) throw error;
      this.deps.logger.warn({ replayId: replay.id, reason: error.message }, 'replay refused');
      lease.settle();
      await this.deps.replays.finish(replay, { status: 'failed', error: error.message });
      return;
    }
    try {
      const ranges = await this.replayRanges(replay, entry, from, to);
      this.deps.logger.info(
        {
          replayId: replay.id,
          subscriptionId: replay.subscriptionId,
          ranges,
          running: this.replaysRunning.size,
        },
        'replay started',
      );
      const outcome = await this.feed(replay, entry, ranges, lease);
      // Taken over: the instance that holds it now ends it.
      if (lease.lost) return;
      if (!this.stopped) {
        lease.settle();
        await this.deps.replays.finish(replay, outcome);
        this.deps.logger.info({ replayId: replay.id, ...outcome }, 'replay finished');
        return;
      }
    } catch (error) {
      // Taken over (a write refused, or the reading cut short): not this instance's to end.
      if (error instanceof LeaseLostError || lease.lost) throw error;
      if (!this.stopped) {
        this.deps.logger.warn({ err: error, replayId: replay.id }, 'replay failed');
        lease.settle();
        await this.deps.replays.finish(replay, {
          status: 'failed',
          error: (error as Error).message,
        });
        return;
      }
    }
    // Interrupted by this instance's shutdown, whether it ended or failed meanwhile.
    lease.settle();
    await this.handBack(replay);
  }

  /**
   * A shutdown interrupted `replay`: back to the queue, to run again from its start in the next
   * instance that looks (a backfill is asked for once; nobody would ask for it again).
   */
  private async handBack(replay: ClaimedReplay): Promise<void> {
    const queued = await this.deps.replays.handBack(replay);
    this.deps.logger.info(
      { replayId: replay.id, subscriptionId: replay.subscriptionId, queued },
      'replay handed back: this instance is stopping; it runs again from its start',
    );
  }

  private async replayRanges(
    replay: ClaimedReplay,
    entry: IndexedSubscription,
    from: ReplayBound,
    to: ReplayBound | null,
  ): Promise<PartitionRange[]> {
    const topics = this.deps.contract
      .topics()
      .filter((topic) => topic.types.some((type) => entry.matchesType(type)));
    // Each partition's first offset to read and (as `firstEnds` keeps them) the first not to.
    const starts: { topic: string; partition: number; offset: string }[] = [];
    const ends: ReplayEnd[] = [];
    for (const { topic } of topics) {
      // A partition a start cursor does not name is read from its beginning: nothing is skipped.
      const topicStarts = await this.offsetsOf(topic, from, () =>
        this.deps.offsets.startOffsets(topic),
      );
      const topicEnds =
        to === null
          ? await this.deps.offsets.endOffsets(topic)
          : await this.offsetsOf(topic, to, () => this.deps.offsets.endOffsets(topic));
      for (const { partition, offset } of topicStarts) starts.push({ topic, partition, offset });
      for (const { partition, offset } of topicEnds) ends.push({ topic, partition, offset });
    }
    // Without `to`: the ends its first run saw, so a run again after a take-over or a hand-back
    // reads the same range, not up to a later end.
    const bounds = to === null ? await this.deps.replays.firstEnds(replay, ends) : ends;
    const endOf = new Map(
      bounds.map((end) => [topicPartitionKey(end.topic, end.partition), BigInt(end.offset)]),
    );
    return starts.flatMap(({ topic, partition, offset }) => {
      const end = endOf.get(topicPartitionKey(topic, partition));
      return end !== undefined && end > BigInt(offset)
        ? [{ topic, partition, from: offset, to: end.toString() }]
        : [];
    });
  }

  /** Each partition's offset at `bound`; `unnamed` answers for partitions a cursor leaves out. */
  private async offsetsOf(
    topic: string,
    bound: ReplayBound,
    unnamed: () => Promise<{ partition: number; offset: string }[]>,
  ): Promise<{ partition: number; offset: string }[]> {
    if (bound.kind === 'time') return this.deps.offsets.offsetsAt(topic, bound.ms);
    return (await unnamed()).map(({ partition, offset }) => ({
      partition,
      offset: (
        bound.positions.get(topicPartitionKey(topic, partition)) ?? BigInt(offset)
      ).toString(),
    }));
  }

  /** Reads the ranges into the lane and waits until every task is settled. */
  private async feed(
    replay: ClaimedReplay,
    entry: IndexedSubscription,
    ranges: PartitionRange[],
    lease: HeldLease,
  ): Promise<{ status: 'completed' | 'cancelled'; error?: string }> {
    const id = entry.subscription.id;
    const delta: { -readonly [K in keyof ReplayProgress]: number } = {
      scanned: 0,
      matched: 0,
      delivered: 0,
      deadLettered: 0,
    };
    let unsettled = 0;
    let cancelled = false;
    const flush = async () => {
      const now = { ...delta };
      delta.scanned = delta.matched = delta.delivered = delta.deadLettered = 0;
      if (Object.values(now).some((n) => n > 0)) await this.deps.replays.addProgress(replay, now);
    };
    // Counters are best effort: one flush lost to a Redis error is not retried. A refused one
    // means the replay was taken over: this run stops.
    const flushFailed = (error: unknown) => {
      if (error instanceof LeaseLostError) lease.lose();
    };
    const progress = setInterval(() => void flush().catch(flushFailed), PROGRESS_INTERVAL_MS);
    const active = () => {
      const current = this.deps.index.get(id);
      cancelled ||=
        this.stopped || lease.lost || !current || current.subscription.status !== 'active';
      return !cancelled;
    };
    const ticket: TaskTicket = {
      settle: () => {
        unsettled -= 1;
      },
      get current() {
        return !cancelled;
      },
      owner: null,
      outcome: (how) => {
        if (how === 'delivered') delta.delivered += 1;
        else delta.deadLettered += 1;
      },
    };
    try {
      await this.deps.reader.read(
        ranges,
        async (batch) => {
          for (const record of batch.records) {
            if (!active()) return;
            delta.scanned += 1;
            const parsed = parseSourceEvent(record);
            if (!parsed.ok) continue;
            const source = parsed.source;
            const current = this.deps.index.get(id);
            if (
              !current ||
              !current.matchesType(source.event.type) ||
              matchingAmong([current], source, false).length === 0
            )
              continue;
            delta.matched += 1;
            // Keep the lane's memory for live work: wait while the replay fills half of it.
            while (this.deps.engine.held(id) > this.deps.laneMemory / 2 && active()) {
              await new Promise((resolve) => setTimeout(resolve, BACKPRESSURE_WAIT_MS));
            }
            const ordered = current.subscription.ordering === 'key' && source.key !== null;
            unsettled += 1;
            this.deps.engine.submit({
              subscriptionId: id,
              source,
              attempt: 1,
              firstAttemptAt: null,
              origin: 'replay',
              replayId: replay.id,
              queueId: ordered
                ? orderingQueueId(source, replay.id)
                : `t.r.${replay.id}.${source.topic}.${source.partition}.${source.offset}`,
              ordered,
              ticket,
              claim: null,
            });
          }
        },
        { signal: lease.signal },
      );
      while (unsettled > 0 && active())
        await new Promise((resolve) => setTimeout(resolve, BACKPRESSURE_WAIT_MS * 5));
    } finally {
      clearInterval(progress);
      await flush().catch(flushFailed);
    }
    // Stopped: the caller hands the replay back rather than end it.
    if (cancelled || this.stopped)
      return { status: 'cancelled', error: 'the subscription is no longer active' };
    return { status: 'completed' };
  }
}

type ReplayBound =
  | { readonly kind: 'time'; readonly ms: number }
  | { readonly kind: 'cursor'; readonly positions: CursorPositions };

/** A replay's stored bound, read: a time, or the positions of a stream cursor (checked here). */
function replayBound(position: ReplayPosition): ReplayBound {
  if ('time' in position) return { kind: 'time', ms: Date.parse(position.time) };
  return { kind: 'cursor', positions: decodeCursor(position.cursor) };
}
