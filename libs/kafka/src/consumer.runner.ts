import type { Admin, Consumer, EachBatchPayload, IHeaders, KafkaMessage } from 'kafkajs';
import type { Counter, Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { KafkaConnection } from './kafka.connection';
import { consumerLagGauge, fetchLingerCounter, type ConsumerLagGauge } from './kafka.metrics';
import { topicPartitionKey, type TopicPartitionKey } from './topic-partition.key';

/** A record as read from Kafka. Offsets and timestamps are decimal strings (64-bit in Kafka). */
export interface IncomingRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | undefined>;
  /** Milliseconds since the epoch, as a decimal string. */
  timestamp: string;
}

/** Consecutive records of one partition, in offset order. */
export interface IncomingBatch {
  topic: string;
  partition: number;
  records: IncomingRecord[];
  /** The partition's end offset when the batch was fetched. */
  highWatermark: string;
  /** Tells the group this member is alive; call it during long batches. */
  heartbeat(): Promise<void>;
  /** False once the runner is stopping or the partition moved to another member: finish early. */
  isActive(): boolean;
}

export interface RunOptions {
  groupId: string;
  topics: string[];
  /** Where a group with no committed offset starts: the oldest record (true) or new ones only (false, default). */
  fromBeginning?: boolean;
  /**
   * `after-batch` (default): commit the offset after the batch's last record once `eachBatch`
   * resolves. `manual`: never commit on its own; the caller commits with `commit()` what it has
   * settled.
   */
  commit?: 'after-batch' | 'manual';
  /** How many partitions are handled at once (default 1). */
  concurrency?: number;
  /** Longest a fetch waits for new records (ms, default 500); also bounds how long `stop()` waits for one. */
  maxWaitMs?: number;
  /**
   * After a fetch that brought records, the next one begins no sooner than this long after it
   * did (ms, default from config, `KAFKA_FETCH_LINGER_MS`; 0 = at once). Only with `concurrency`
   * above 1: the pause holds a batch's worker, and with one worker the batches other brokers'
   * fetches brought would wait behind it.
   */
  fetchLingerMs?: number;
  /**
   * How long the group waits for a silent member before handing its partitions to others (ms,
   * default 30000): shorter means a crashed member's partitions move sooner.
   */
  sessionTimeoutMs?: number;
  /**
   * Handles one batch. A rejection, whatever the error, leaves the batch uncommitted and kafkajs
   * reads it again (a `TypeError` too, which kafkajs alone would take as fatal).
   */
  eachBatch: (batch: IncomingBatch) => Promise<void>;
  /**
   * Called after every rebalance with the partitions this member now holds, by topic (and with
   * none when it stops), so the caller can drop work of partitions that moved elsewhere.
   */
  onAssignment?: (assignment: ReadonlyMap<string, readonly number[]>) => void;
}

export interface ConsumerRunnerOptions {
  /**
   * Where `herald_kafka_consumer_lag` and `herald_kafka_consumer_fetch_linger_seconds_total` are
   * registered; no metrics without one.
   */
  registry?: Registry;
  /** How often lag is refreshed from the broker between batches (ms; default from config). */
  lagIntervalMs?: number;
}

/**
 * One kafkajs consumer in a group, with offsets committed only for work that is done: a crash
 * makes the group read records again, never skip them.
 */
export class ConsumerRunner {
  private consumer: Consumer | undefined;
  private admin: Admin | undefined;
  private groupId = '';
  private readonly lag: ConsumerLagGauge | undefined;
  private readonly lingerSeconds: Counter<'group'> | undefined;
  private readonly lagIntervalMs: number;
  private lagTimer: NodeJS.Timeout | undefined;
  private assigned = new Map<string, number[]>();
  private readonly highWatermarks = new Map<TopicPartitionKey, bigint>();
  private readonly committed = new Map<TopicPartitionKey, bigint>();
  private stopping: Promise<void> | undefined;
  private stopped = false;
  private groupCommit: EachBatchPayload['commitOffsetsIfNecessary'] | undefined;
  private assignmentListener: RunOptions['onAssignment'];
  /** Why kafkajs gave up on the consumer for good (a crash it does not restart), if it has. */
  private failure: Error | undefined;
  private fetchLingerMs = 0;
  /** When the latest fetch was sent (`performance.now()`: a wall-clock step moves nothing). */
  private fetchStartedAt = 0;
  /** The pause before the next fetch, shared by the batches of the fetch in hand. */
  private lingering: { done: Promise<void>; end: () => void } | undefined;

  constructor(
    private readonly connection: KafkaConnection,
    private readonly logger: Logger,
    options: ConsumerRunnerOptions = {},
  ) {
    this.lag = options.registry ? consumerLagGauge(options.registry) : undefined;
    this.lingerSeconds = options.registry ? fetchLingerCounter(options.registry) : undefined;
    this.lagIntervalMs = options.lagIntervalMs ?? connection.config.consumer.lagIntervalMs;
  }

  /** Joins the group and starts handing batches to `eachBatch`; resolves once consuming has started. */
  async run(options: RunOptions): Promise<void> {
    if (this.consumer) throw new Error('ConsumerRunner.run was already called');
    const { groupId, topics, fromBeginning = false, commit = 'after-batch' } = options;
    this.groupId = groupId;
    this.assignmentListener = options.onAssignment;
    const consumer = this.connection.kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      minBytes: this.connection.config.consumer.fetchMinBytes,
      maxWaitTimeInMs: options.maxWaitMs ?? this.connection.config.consumer.fetchMaxWaitMs,
      // Partitions added to a subscribed topic are noticed when the metadata is refreshed.
      metadataMaxAge: this.connection.config.consumer.metadataMaxAgeMs,
      // kafkajs restarts a crashed consumer on a timer that disconnect() does not cancel; once
      // stop() has begun, a crash must end the consumer, or it reconnects forever.
      retry: { restartOnFailure: () => Promise.resolve(this.stopping === undefined) },
      ...(options.sessionTimeoutMs === undefined
        ? {}
        : {
            sessionTimeout: options.sessionTimeoutMs,
            heartbeatInterval: Math.min(3000, Math.floor(options.sessionTimeoutMs / 3)),
          }),
    });
    this.consumer = consumer;
    this.fetchLingerMs =
      (options.concurrency ?? 1) > 1
        ? (options.fetchLingerMs ?? this.connection.config.consumer.fetchLingerMs)
        : 0;
    if (this.fetchLingerMs > 0)
      consumer.on(consumer.events.FETCH_START, () => {
        this.fetchStartedAt = performance.now();
      });
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.onAssignment(payload.memberAssignment);
      options.onAssignment?.(this.assigned);
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.logger.error(
        { err: payload.error, groupId, restart: payload.restart },
        'Kafka consumer crashed',
      );
      if (payload.restart || this.stopping !== undefined) return;
      // kafkajs will not try again (a refusal such as a bad session timeout or missing rights):
      // the process holds no consumer any more, so `health()` fails from here on.
      this.failure = payload.error;
      this.logger.error(
        { err: payload.error, groupId },
        'Kafka consumer stopped for good: it will not consume again until the process restarts',
      );
    });
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: options.concurrency ?? 1,
      eachBatch: (payload) => this.handleBatch(payload, options.eachBatch, commit),
    });
    this.logger.info(
      {
        groupId,
        topics,
        fetchMinBytes: this.connection.config.consumer.fetchMinBytes,
        fetchLingerMs: this.fetchLingerMs,
      },
      'consuming as a member of the group',
    );
    if (this.lag) {
      this.lagTimer = setInterval(() => {
        this.refreshLag().catch((error: unknown) =>
          this.logger.debug({ err: error, groupId }, 'consumer lag refresh failed'),
        );
      }, this.lagIntervalMs);
      this.lagTimer.unref();
    }
  }

  /**
   * A readiness check: rejects once kafkajs has given up on the consumer after a crash (one it
   * does not restart), resolves otherwise, also before `run` and while stopping.
   */
  health(): Promise<void> {
    if (!this.failure) return Promise.resolve();
    return Promise.reject(
      new Error(`the consumer of group ${this.groupId} crashed for good: ${this.failure.message}`),
    );
  }

  /** Stops fetching from `partitions` of `topic` (all of them when omitted) until `resume`. */
  pause(topic: string, partitions?: number[]): void {
    this.requireConsumer().pause([partitions ? { topic, partitions } : { topic }]);
  }

  resume(topic: string, partitions?: number[]): void {
    this.requireConsumer().resume([partitions ? { topic, partitions } : { topic }]);
  }

  /**
   * The assigned partitions kafkajs will not fetch. kafkajs keeps a pause across rebalances: a
   * partition paused, taken away and later given back is still paused.
   */
  paused(): { topic: string; partitions: number[] }[] {
    return this.requireConsumer().paused();
  }

  /**
   * Commits `nextOffset` (the offset of the first record not yet done) for the group. Works until
   * `stop()` has left the group, including while it waits for the batch in hand; fails after.
   */
  commit(topic: string, partition: number, nextOffset: string): Promise<void> {
    return this.commitMany([{ topic, partition, nextOffset }]);
  }

  /**
   * Commits several partitions' positions in one OffsetCommit request: one round trip however
   * many partitions the caller settled, where one request each queues behind the others (and
   * behind the fetches on the same connection). All or nothing for the caller: a rejection
   * means it commits them again. As `commit` otherwise.
   */
  async commitMany(
    positions: readonly { topic: string; partition: number; nextOffset: string }[],
  ): Promise<void> {
    if (positions.length === 0) return;
    const consumer = this.requireConsumer();
    if (this.stopped) throw new Error('ConsumerRunner has stopped; the group was left');
    const byTopic = new Map<string, { partition: number; offset: string }[]>();
    for (const { topic, partition, nextOffset } of positions) {
      const partitions = byTopic.get(topic) ?? [];
      partitions.push({ partition, offset: nextOffset });
      byTopic.set(topic, partitions);
    }
    const offsets = { topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) };
    // kafkajs's consumer.commitOffsets silently does nothing once stopping has begun, which
    // would drop the commit of the batch stop() waits for; the batch's own commit goes
    // straight to the group.
    if (this.groupCommit) await this.groupCommit(offsets);
    else
      await consumer.commitOffsets(
        positions.map(({ topic, partition, nextOffset }) => ({
          topic,
          partition,
          offset: nextOffset,
        })),
      );
    for (const { topic, partition, nextOffset } of positions) {
      this.committed.set(topicPartitionKey(topic, partition), BigInt(nextOffset));
      this.setLag(topic, partition);
    }
  }

  /**
   * Finishes the batch in hand (and its commit), leaves the group and disconnects. Safe to call
   * more than once.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      clearInterval(this.lagTimer);
      // The batch stop() waits for may be lingering: it need not wait out the pause.
      this.lingering?.end();
      try {
        // kafkajs waits for the running eachBatch, which includes its commit, before leaving.
        await this.consumer?.disconnect();
      } finally {
        this.stopped = true;
        await this.admin?.disconnect();
        this.onAssignment({});
        this.assignmentListener?.(this.assigned);
      }
    })();
    return this.stopping;
  }

  /** Reads end offsets and the group's committed offsets for the assigned partitions into the lag gauge. */
  async refreshLag(): Promise<void> {
    if (!this.lag || this.stopping) return;
    const topics = [...this.assigned.keys()];
    if (topics.length === 0) return;
    // Gives up within seconds when the cluster does not answer (the next refresh tries again);
    // the admin is dropped then, so the next one connects from scratch.
    const admin = (this.admin ??= this.connection.quickAdmin());
    try {
      await admin.connect();
      const groupOffsets = await admin.fetchOffsets({ groupId: this.groupId, topics });
      for (const { topic, partitions } of groupOffsets) {
        const ends = await admin.fetchTopicOffsets(topic);
        const mine = new Set(this.assigned.get(topic) ?? []);
        for (const end of ends) {
          if (!mine.has(end.partition)) continue;
          const key = topicPartitionKey(topic, end.partition);
          const remote = partitions.find((p) => p.partition === end.partition)?.offset ?? '-1';
          // No commit yet: everything still held counts as lag.
          const committed = BigInt(remote) >= 0n ? BigInt(remote) : BigInt(end.low);
          this.highWatermarks.set(key, BigInt(end.high));
          const local = this.committed.get(key);
          this.committed.set(key, local !== undefined && local > committed ? local : committed);
          this.setLag(topic, end.partition);
        }
      }
    } catch (error) {
      if (this.admin === admin) this.admin = undefined;
      await admin.disconnect().catch(() => undefined);
      throw error;
    }
  }

  private async handleBatch(
    payload: EachBatchPayload,
    eachBatch: RunOptions['eachBatch'],
    commit: 'after-batch' | 'manual',
  ): Promise<void> {
    const { batch } = payload;
    this.groupCommit = (offsets) => payload.commitOffsetsIfNecessary(offsets);
    const key = topicPartitionKey(batch.topic, batch.partition);
    this.highWatermarks.set(key, BigInt(batch.highWatermark));
    const last = batch.messages[batch.messages.length - 1];
    if (!last) {
      this.setLag(batch.topic, batch.partition);
      return;
    }
    if (!this.committed.has(key)) this.committed.set(key, BigInt(batch.messages[0]!.offset));
    try {
      await eachBatch({
        topic: batch.topic,
        partition: batch.partition,
        records: batch.messages.map((m) => toIncomingRecord(batch.topic, batch.partition, m)),
        highWatermark: batch.highWatermark,
        heartbeat: () => payload.heartbeat(),
        isActive: () => payload.isRunning() && !payload.isStale(),
      });
    } catch (error) {
      this.logger.warn(
        { err: error, groupId: this.groupId, topic: batch.topic, partition: batch.partition },
        'batch handler failed; the batch will be read again',
      );
      throw retriableForKafkajs(error);
    }
    if (commit === 'after-batch')
      await this.commit(batch.topic, batch.partition, (BigInt(last.offset) + 1n).toString());
    else this.setLag(batch.topic, batch.partition);
    await this.linger();
  }

  /**
   * Holds the next fetch until `fetchLingerMs` after the one in hand began. kafkajs fetches again
   * once every batch of a fetch is handled, and with `fetchMinBytes` 1 the broker answers as soon
   * as one record is there: at a moderate rate nearly every record came with a fetch of its own,
   * whose request and answer over every assigned partition cost more than the record. Only a fetch
   * that brought records waits (an idle consumer's come back empty and go out again at once), and
   * at most the linger after it began: a fetch that took longer waits nothing.
   */
  private linger(): Promise<void> {
    if (this.fetchLingerMs === 0 || this.stopping) return Promise.resolve();
    if (this.lingering) return this.lingering.done;
    // Never more than the linger, whichever fetch (of several brokers') began last.
    const waitMs = Math.min(
      this.fetchLingerMs,
      this.fetchStartedAt + this.fetchLingerMs - performance.now(),
    );
    if (waitMs <= 0) return Promise.resolve();
    this.lingerSeconds?.inc({ group: this.groupId }, waitMs / 1000);
    let end!: () => void;
    const done = new Promise<void>((resolve) => {
      const timer = setTimeout(() => end(), waitMs);
      end = () => {
        clearTimeout(timer);
        if (this.lingering?.done === done) this.lingering = undefined;
        resolve();
      };
    });
    this.lingering = { done, end };
    return done;
  }

  private onAssignment(assignment: Record<string, number[] | undefined>): void {
    const next = new Map<string, number[]>();
    for (const [topic, partitions] of Object.entries(assignment))
      if (partitions && partitions.length > 0) next.set(topic, [...partitions]);
    // Partitions that moved to another member are that member's to report.
    for (const [topic, partitions] of this.assigned)
      for (const partition of partitions)
        if (!next.get(topic)?.includes(partition)) {
          this.lag?.remove({ group: this.groupId, topic, partition: String(partition) });
          this.highWatermarks.delete(topicPartitionKey(topic, partition));
          this.committed.delete(topicPartitionKey(topic, partition));
        }
    this.assigned = next;
    if (next.size > 0 && !this.stopping)
      this.refreshLag().catch((error: unknown) =>
        this.logger.debug({ err: error, groupId: this.groupId }, 'consumer lag refresh failed'),
      );
  }

  private setLag(topic: string, partition: number): void {
    if (!this.lag) return;
    const key = topicPartitionKey(topic, partition);
    const high = this.highWatermarks.get(key);
    const committed = this.committed.get(key);
    if (high === undefined || committed === undefined) return;
    const lag = high > committed ? high - committed : 0n;
    this.lag.set({ group: this.groupId, topic, partition: String(partition) }, Number(lag));
  }

  private requireConsumer(): Consumer {
    if (!this.consumer) throw new Error('ConsumerRunner.run has not been called');
    return this.consumer;
  }
}

// Errors kafkajs takes for bugs: it ends the consumer on them for good instead of retrying.
const KAFKAJS_UNRECOVERABLE = new Set(['RangeError', 'ReferenceError', 'SyntaxError', 'TypeError']);

/** A handler failure, passed to kafkajs as one it retries (the batch is read again). */
class BatchHandlerError extends Error {
  constructor(cause: Error) {
    super(`the batch handler failed: ${cause.name}: ${cause.message}`, { cause });
    this.name = 'BatchHandlerError';
  }
}

/**
 * What a handler's rejection becomes for kafkajs. A handler failure means "read the batch again"
 * (see `RunOptions.eachBatch`), but kafkajs ends the consumer for good on a `TypeError` or
 * `RangeError` (one bad record mapped into `new Date(NaN).toISOString()`, say) or on any error
 * marked `retriable: false`, leaving the process without its consumer. Those are wrapped so kafkajs
 * retries, and restarts the consumer once its retries run out. kafkajs's own errors pass as they
 * are: it tells rebalances and stale members apart by them.
 */
function retriableForKafkajs(error: unknown): unknown {
  if (!(error instanceof Error) || error.name.startsWith('KafkaJS')) return error;
  const unrecoverable =
    KAFKAJS_UNRECOVERABLE.has(error.name) || (error as { retriable?: unknown }).retriable === false;
  return unrecoverable ? new BatchHandlerError(error) : error;
}

export function toIncomingRecord(
  topic: string,
  partition: number,
  message: KafkaMessage,
): IncomingRecord {
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key,
    value: message.value,
    headers: toHeaderBuffers(message.headers),
    timestamp: message.timestamp,
  };
}

function toHeaderBuffers(headers: IHeaders | undefined): Record<string, Buffer | undefined> {
  const result: Record<string, Buffer | undefined> = {};
  // Runs for every record read: one pass, no arrays, for the usual header of one Buffer.
  for (const name in headers) {
    if (!Object.hasOwn(headers, name)) continue;
    const value: unknown = headers[name];
    // kafkajs collects a repeated header into an array, and a header named after a member every
    // object inherits (`constructor`, `toString`) into one that starts with that member: take
    // the first value that is a header's bytes. A repeated header keeps its first value
    // (CloudEvents attributes are single-valued).
    const first = Buffer.isBuffer(value) ? value : firstHeaderBytes(value);
    if (first === undefined) continue;
    // `__proto__` would set the object's prototype rather than add a header.
    if (name === '__proto__')
      Object.defineProperty(result, name, {
        value: first,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else result[name] = first;
  }
  return result;
}

function firstHeaderBytes(value: unknown): Buffer | undefined {
  const values: unknown[] = Array.isArray(value) ? value : [value];
  const first = values.find(
    (v): v is Buffer | string => Buffer.isBuffer(v) || typeof v === 'string',
  );
  return typeof first === 'string' ? Buffer.from(first) : first;
}
