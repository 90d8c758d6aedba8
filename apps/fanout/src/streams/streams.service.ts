import { randomUUID } from 'node:crypto';
import type {
  BeforeApplicationShutdown,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import type { ApiKeyDeletionListener } from '@herald/auth';
import {
  OffsetLookup,
  PartitionFetcher,
  TopicProvisioner,
  type KafkaConnection,
  type PartitionPosition,
  topicPartitionKey,
  splitTopicPartitionKey,
  type CursorPositions,
} from '@herald/kafka';
import type { Logger } from '@herald/observability';
import type { ApiKeyRepository, Subscription } from '@herald/store';
import type { SubscriptionIndex } from '../subscriptions/subscription-index';
import { LiveTail } from './live-tail';
import {
  END_MESSAGES,
  StreamConnection,
  type EndReason,
  type StartPoint,
  type StreamGap,
  type StreamSink,
} from './stream-connection';
import type { StreamPlan } from './stream-planner';
import type { StreamStart } from './stream-request';
import type { StreamsConfig } from './streams.config';
import { StreamConnectionLimitError, StreamsUnavailableError } from './streams.errors';
import type { StreamsMetrics } from './streams.metrics';

/** Who holds a connection, for limits and log lines. */
export interface StreamOwner {
  readonly keyId: string;
  readonly tenant: string;
  readonly subscriptionId: string | null;
}

/** The channel topics the tail reads, with the partition counts the contract gives. */
export interface TailTopic {
  readonly topic: string;
  readonly partitions: number;
}

/**
 * One of a key's stream places, taken by `admit` before anything is awaited so that concurrent
 * requests cannot all pass the limit. `open` hands it to the stream, which gives it back when
 * it ends; a request that fails or is abandoned before that calls `release`.
 */
export class StreamAdmission {
  private state: 'reserved' | 'opened' | 'released' = 'reserved';

  constructor(
    readonly owner: StreamOwner,
    private readonly free: () => void,
  ) {}

  /** Gives the place back unless a stream holds it; safe to call more than once (`finally`). */
  release(): void {
    if (this.state !== 'reserved') return;
    this.state = 'released';
    this.free();
  }

  /** Passes the place to an opened stream; false when it was released already. */
  handOver(): boolean {
    if (this.state !== 'reserved') return false;
    this.state = 'opened';
    return true;
  }
}

interface Held {
  readonly connection: StreamConnection;
  readonly owner: StreamOwner;
  readonly openedAt: number;
  /** The durable subscription as the stream was planned from it; null for other streams. */
  readonly durable: Subscription | null;
}

/** Ends a stream gets from outside its connection: its key or its subscription changed. */
const REVOKED: ReadonlySet<EndReason> = new Set([
  'key_deleted',
  'subscription_deleted',
  'subscription_paused',
  'subscription_disabled',
  'subscription_changed',
]);

/** Keys stored in Redis (`ApiKeyRepository`); anything else is the bootstrap admin key. */
const STORED_KEY_ID = /^[0-9a-f]{16}$/;

/** What a durable stream's selection is made of (the planner reads these fields). */
function selectionBasis(subscription: Subscription): string {
  const { types, allowedTypes, filter } = subscription;
  return JSON.stringify([types, allowedTypes, filter]);
}

/**
 * Why a durable stream planned from `planned` must end now that its subscription is `current`
 * (null: deleted), or null when it goes on. A `current` not newer than `planned` is a notice
 * this stream already saw when it was planned.
 */
export function durableEndReason(
  planned: Subscription,
  current: Subscription | null,
): EndReason | null {
  if (current === null) return 'subscription_deleted';
  if (current.version <= planned.version) return null;
  if (current.status === 'paused') return 'subscription_paused';
  if (current.status !== 'active') return 'subscription_disabled';
  // A description or metadata change leaves the stream as it is.
  return selectionBasis(current) === selectionBasis(planned) ? null : 'subscription_changed';
}

/**
 * Told when an API key held by streams was deleted (WebSockets not yet subscribed); answers how
 * many it closed.
 */
export type KeyDeletedListener = (keyId: string) => number;

/** The API keys streams are opened with: a stream ends when its key is deleted. */
export interface StreamKeys {
  /** Read every `keyCheckMs` for each key in use (the fallback for a missed notice). */
  readonly repository: ApiKeyRepository;
  /**
   * The process's deletion notice listener (`@herald/auth`, which also serves the auth cache): the
   * key's streams end as soon as its notice is heard, and every key held is checked at once when
   * notices may have been lost.
   */
  readonly deletions: Pick<ApiKeyDeletionListener, 'onDeleted' | 'onResync'>;
  /**
   * Drops this process's cached auth answers for a key the check found deleted (the listener
   * drops them itself on a notice).
   */
  readonly forget: (keyId: string) => void;
}

/**
 * How long a deleted key's id is remembered: a stream request authenticated just before its
 * notice (its answer read from Redis before the delete) opens after it and is ended at once.
 */
const DELETED_KEY_MEMORY_MS = 10 * 60_000;
const DELETED_KEY_MEMORY_ENTRIES = 10_000;

function shuttingDownError(): StreamsUnavailableError {
  return new StreamsUnavailableError('This server is shutting down; connect again');
}

/** How long a stream request waits for a stopped tail to start before it is told to retry. */
const TAIL_START_WAIT_MS = 10_000;

/**
 * The process's streams: one live tail, every open connection, limits per API key, heartbeats,
 * metrics and log lines, and a clean end for every client on shutdown (each is told its cursor).
 *
 * The tail reads every record of the channel topics, as the delivery consumer does, so it runs
 * only while streams are used: the first stream starts it (at the topics' ends; a client resuming
 * from an older cursor catches up from Kafka, as after a restart) and it stops once no stream has
 * been open for `tailIdleMs`.
 */
export class StreamsService
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private tail: LiveTail;
  private readonly offsets: OffsetLookup;
  private readonly held = new Map<string, Held>();
  private readonly perKey = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  /** When the last stream ended (or the tail started); the tail stops after `tailIdleMs` of it. */
  private idleSince = Date.now();
  private shuttingDown = false;
  private readonly keyListeners = new Set<KeyDeletedListener>();
  private keyCheckAt = Date.now();
  private keyCheck: Promise<void> | undefined;
  /** A check was asked for while one ran (the notice listener reconnected): run another after. */
  private keyCheckAgain = false;
  /** Removes this service's handlers from the deletion notice listener. */
  private stopKeyNotices: (() => void) | undefined;
  /** Ids of keys deleted lately (key id → when), oldest first. */
  private readonly deletedKeys = new Map<string, number>();
  private stopWatching: (() => void) | undefined;

  constructor(
    private readonly kafka: KafkaConnection,
    private readonly topics: readonly TailTopic[],
    private readonly config: StreamsConfig,
    private readonly metrics: StreamsMetrics,
    private readonly logger: Logger,
    /** Durable streams end when their subscription is deleted, paused or changed (its notices). */
    private readonly subscriptions: SubscriptionIndex,
    /** Streams end when their API key is deleted (its notice; checked every `keyCheckMs`). */
    private readonly keys: StreamKeys,
  ) {
    this.tail = this.newTail();
    this.offsets = new OffsetLookup(kafka);
  }

  onApplicationBootstrap(): void {
    const { heartbeatMs, slowTimeoutMs, keyCheckMs } = this.config;
    const every = Math.max(100, Math.min(heartbeatMs, slowTimeoutMs, keyCheckMs) / 4);
    this.timer = setInterval(() => this.tick(), every);
    this.timer.unref();
    this.stopWatching = this.subscriptions.onChange((previous, next) => {
      const id = (next ?? previous)?.subscription.id;
      if (id !== undefined) this.subscriptionChanged(id, next?.subscription ?? null);
    });
    const stopDeleted = this.keys.deletions.onDeleted(({ keyId, tenant }) =>
      this.keyDeleted(keyId, tenant, 'notice'),
    );
    // Deletions published while the listener was away were not heard: check what is held.
    const stopResync = this.keys.deletions.onResync(() => this.runKeyCheck());
    this.stopKeyNotices = () => {
      stopDeleted();
      stopResync();
    };
  }

  /** Calls `listener` with each API key found deleted while streams (or sockets) held it. */
  onKeyDeleted(listener: KeyDeletedListener): () => void {
    this.keyListeners.add(listener);
    return () => this.keyListeners.delete(listener);
  }

  /**
   * Ends every stream, telling each client its cursor, before the server stops listening. From
   * here on no stream is admitted, and one admitted earlier that opens now is ended at once.
   */
  beforeApplicationShutdown(): void {
    this.shuttingDown = true;
    clearInterval(this.timer);
    this.stopWatching?.();
    this.stopKeyNotices?.();
    for (const { connection } of [...this.held.values()]) connection.end('shutdown');
  }

  async onApplicationShutdown(): Promise<void> {
    await this.tail.stop();
    await this.offsets.close();
  }

  /**
   * Starts the live tail if it is not running and waits for it; then takes one of `owner`'s key's
   * stream places, or throws when it has none left. Pass the admission to `open`, or `release`
   * it when the stream will not open (release in a `finally`: it is a no-op once opened).
   */
  async admit(owner: StreamOwner): Promise<StreamAdmission> {
    await this.tailStarted();
    // Shutdown began while the tail was starting.
    if (this.shuttingDown) throw shuttingDownError();
    // In use: the idle stop must not take the tail away while this stream is being set up.
    this.idleSince = Date.now();
    const count = this.perKey.get(owner.keyId) ?? 0;
    if (count >= this.config.maxConnectionsPerKey)
      throw new StreamConnectionLimitError(this.config.maxConnectionsPerKey);
    this.perKey.set(owner.keyId, count + 1);
    return new StreamAdmission(owner, () => this.freePlace(owner.keyId));
  }

  private freePlace(keyId: string): void {
    const count = (this.perKey.get(keyId) ?? 1) - 1;
    if (count <= 0) this.perKey.delete(keyId);
    else this.perKey.set(keyId, count);
    if (this.perKey.size === 0) this.idleSince = Date.now();
  }

  /**
   * Resolves once the live tail reads Kafka (starting it if it is not running); throws when it
   * does not start in time or shutdown has begun. `admit` waits for it too.
   */
  ready(): Promise<void> {
    return this.tailStarted();
  }

  /** False once shutdown has begun: transports refuse new streams (the WebSocket upgrade too). */
  get accepting(): boolean {
    return !this.shuttingDown;
  }

  private async tailStarted(): Promise<void> {
    if (this.shuttingDown) throw shuttingDownError();
    const tail = this.tail;
    if (tail.ready) return;
    if (!tail.requested) {
      this.idleSince = Date.now();
      tail.start(
        () => this.tailStart(),
        () => this.tailPartitions(),
      );
      void tail.whenStarted().then(() => {
        if (this.tail === tail) this.metrics.tailRunning.set(1);
      });
    }
    let timer: NodeJS.Timeout | undefined;
    const waited = await Promise.race([
      tail.whenStarted().then(() => true),
      new Promise<false>(
        (resolve) => (timer = setTimeout(() => resolve(false), TAIL_START_WAIT_MS)),
      ),
    ]);
    clearTimeout(timer);
    // Kafka did not answer in time, or the tail was stopped meanwhile: the client retries.
    if (!waited || this.tail !== tail || !tail.ready) throw new StreamsUnavailableError();
  }

  private newTail(): LiveTail {
    const tail = new LiveTail(
      this.kafka,
      this.logger.child({ component: 'live-tail' }),
      this.config,
    );
    tail.onAppend(() => {
      for (const { connection } of this.held.values()) connection.pump();
    });
    tail.onPartitionsAdded((added) => {
      for (const { topic } of added) this.metrics.tailPartitionsAdded.inc({ topic });
    });
    tail.onGap(({ topic }) => this.metrics.tailGaps.inc({ topic }));
    return tail;
  }

  /**
   * Stops a tail no stream has used for `tailIdleMs`; the next stream starts a new one. A place
   * held by a stream being set up or a WebSocket yet to subscribe keeps it running.
   */
  private stopIdleTail(now: number): void {
    if (!this.tail.requested || this.perKey.size > 0) return;
    if (now - this.idleSince < this.config.tailIdleMs) return;
    const idle = this.tail;
    this.tail = this.newTail();
    this.metrics.tailRunning.set(0);
    this.logger.info(
      { idleSeconds: Math.round((now - this.idleSince) / 1000) },
      'stream live tail stopped: no streams open',
    );
    void idle
      .stop()
      .catch((error: unknown) => this.logger.warn({ err: error }, 'stopping the live tail failed'));
  }

  /** Where a stream starts, resolved against the tail (and Kafka, for `earliest` and times). */
  async startPoint(start: StreamStart): Promise<StartPoint> {
    if ('cursor' in start) {
      const seq = this.tail.seqAfter(start.text);
      if (seq !== undefined) return { seq, cursor: start.text };
      return { positions: await this.normalise(start.cursor) };
    }
    if (start.from === 'latest') return { seq: this.tail.ring.nextSeq, cursor: this.tail.cursor() };
    return {
      positions: await this.lookup(start.from === 'earliest' ? 'earliest' : start.from.timeMs),
    };
  }

  /** Registers and starts a connection for `plan` in the place `admission` holds. */
  open(
    sink: StreamSink,
    plan: Pick<StreamPlan, 'selection' | 'subscription' | 'subscriptionId'>,
    point: StartPoint,
    admission: StreamAdmission,
  ): StreamConnection {
    if (!admission.handOver()) throw new Error('A stream admission was released before its open');
    // A WebSocket is admitted before it says which subscription it streams.
    const owner = { ...admission.owner, subscriptionId: plan.subscriptionId };
    const selection = plan.selection;
    const connection = new StreamConnection(randomUUID(), sink, selection, {
      tail: this.tail,
      logger: this.logger,
      createFetcher: (onOffsetReset) =>
        new PartitionFetcher(this.kafka, this.logger, {
          onOffsetReset,
          maxWaitMs: this.config.fetchMaxWaitMs,
          // Bounds what one catch-up round can queue past the send buffer.
          maxBytes: 512 * 1024,
          maxBytesPerPartition: 128 * 1024,
        }),
      sent: (c, event) => this.metrics.sent(c.sink.transport, event.timeMs),
      skipped: (c, gap) => this.skipped(c, gap),
      filterFailed: (c) => this.metrics.filterFailed(c.sink.transport),
      ended: (c, reason, cursor) => this.ended(c, reason, cursor),
    });
    const durable = plan.subscription;
    this.held.set(connection.id, { connection, owner, openedAt: Date.now(), durable });
    this.metrics.connections.inc({ transport: sink.transport });
    if (sink.transport !== 'poll')
      this.logger.info(
        {
          connection: connection.id,
          transport: sink.transport,
          ...owner,
          types: selection.types.size,
        },
        'stream connected',
      );
    connection.start(point);
    // Admitted before shutdown began, opened after every stream was ended: end this one too.
    if (this.shuttingDown) connection.end('shutdown');
    // Authenticated from an answer read before its key's deletion, opened after its notice.
    else if (this.deletedKeys.has(owner.keyId)) connection.end('key_deleted');
    // A change noticed while the stream was being planned and set up.
    const current = durable ? this.subscriptions.get(durable.id) : undefined;
    if (durable && current) {
      const reason = durableEndReason(durable, current.subscription);
      if (reason) connection.end(reason);
    }
    return connection;
  }

  /** Open connections (tests and the bench read it). */
  get size(): number {
    return this.held.size;
  }

  /** A connection told its client of records skipped because Kafka no longer holds them. */
  private skipped(connection: StreamConnection, gap: StreamGap): void {
    const held = this.held.get(connection.id);
    const transport = connection.sink.transport;
    this.metrics.gaps.inc({ transport });
    this.logger.warn(
      { connection: connection.id, transport, ...held?.owner, ...gap },
      'stream resumed past records Kafka no longer holds; client told of the gap',
    );
  }

  private ended(connection: StreamConnection, reason: EndReason, cursor: string): void {
    const held = this.held.get(connection.id);
    if (!held) return;
    this.held.delete(connection.id);
    this.freePlace(held.owner.keyId);
    const transport = connection.sink.transport;
    this.metrics.connections.dec({ transport });
    this.metrics.disconnected(transport, reason);
    const fields = {
      connection: connection.id,
      transport,
      ...held.owner,
      reason,
      cursor,
      events: connection.eventsSent,
      seconds: Math.round((Date.now() - held.openedAt) / 100) / 10,
    };
    if (reason === 'slow_consumer') {
      this.metrics.slowDisconnects.inc();
      this.logger.warn(fields, 'stream client too slow; disconnected with its cursor');
    } else if (REVOKED.has(reason))
      this.logger.info(fields, `stream ended: ${END_MESSAGES[reason] ?? reason}`);
    else if (transport !== 'poll') this.logger.info(fields, 'stream disconnected');
  }

  /** A subscription notice reached the index: end the durable streams it no longer allows. */
  private subscriptionChanged(id: string, current: Subscription | null): void {
    for (const { connection, owner, durable } of [...this.held.values()]) {
      if (owner.subscriptionId !== id || durable === null) continue;
      const reason = durableEndReason(durable, current);
      if (reason) connection.end(reason);
    }
  }

  private tick(): void {
    const now = Date.now();
    for (const { connection } of this.held.values())
      connection.tick(now, this.config.heartbeatMs, this.config.slowTimeoutMs);
    this.stopIdleTail(now);
    if (now - this.keyCheckAt >= this.config.keyCheckMs && this.keyCheck === undefined)
      this.runKeyCheck();
    for (const [keyId, at] of this.deletedKeys) {
      if (now - at < DELETED_KEY_MEMORY_MS) break;
      this.deletedKeys.delete(keyId);
    }
  }

  /** Checks the keys in use now, or right after the check running now. */
  private runKeyCheck(): void {
    if (this.keyCheck !== undefined) {
      this.keyCheckAgain = true;
      return;
    }
    this.keyCheckAt = Date.now();
    this.keyCheck = this.checkKeys().finally(() => {
      this.keyCheck = undefined;
      if (this.keyCheckAgain && !this.shuttingDown) {
        this.keyCheckAgain = false;
        this.runKeyCheck();
      }
    });
  }

  /**
   * Reads each stored API key that holds a stream place (one Redis read per key, pipelined, not
   * per connection) and ends what a deleted one holds. Redis not answering ends nothing. The
   * fallback for a deletion notice this process did not hear.
   */
  private async checkKeys(): Promise<void> {
    const ids = [...this.perKey.keys()].filter((id) => STORED_KEY_ID.test(id));
    if (ids.length === 0) return;
    let records: ({ tenant: string } | null)[];
    try {
      records = await Promise.all(ids.map((id) => this.keys.repository.get(id)));
    } catch (error) {
      this.logger.warn({ err: error }, 'could not check the API keys of open streams');
      return;
    }
    ids.forEach((keyId, i) => {
      if (records[i] === null) this.keyDeleted(keyId, null, 'check');
    });
  }

  /**
   * Ends every stream (and unsubscribed socket) of a deleted key, forgets its cached auth answers
   * and remembers its id for streams authenticated before and opened after this.
   */
  private keyDeleted(keyId: string, tenant: string | null, foundBy: 'notice' | 'check'): void {
    if (this.shuttingDown) return;
    this.deletedKeys.delete(keyId);
    this.deletedKeys.set(keyId, Date.now());
    if (this.deletedKeys.size > DELETED_KEY_MEMORY_ENTRIES)
      this.deletedKeys.delete(this.deletedKeys.keys().next().value!);
    // A notice's listener has forgotten the key's cached answers before telling this service.
    if (foundBy === 'check') this.keys.forget(keyId);
    const ended = [...this.held.values()].filter((held) => held.owner.keyId === keyId);
    for (const { connection } of ended) connection.end('key_deleted');
    let sockets = 0;
    for (const listener of this.keyListeners) sockets += listener(keyId);
    const fields = {
      keyId,
      ...(tenant === null ? {} : { tenant }),
      streams: ended.length,
      sockets,
    };
    if (foundBy === 'check')
      // The notice was missed (or the key removed behind the API's back): worth a look.
      this.logger.warn(fields, 'API key of open streams was deleted; ending them');
    else if (ended.length > 0 || sockets > 0)
      this.logger.info(fields, 'API key deleted (its notice); ended its streams');
    else this.logger.debug(fields, 'API key deleted (its notice); no streams of it here');
  }

  /** The tail starts at the end of every partition; topics missing from Kafka are created first. */
  private async tailStart(): Promise<PartitionPosition[]> {
    await new TopicProvisioner(this.kafka, this.logger).ensureTopics(
      this.topics.map(({ topic, partitions }) => ({ topic, partitions })),
    );
    return this.channelPositions((topic) => this.offsets.endOffsets(topic));
  }

  /**
   * Every partition of the channel topics now, at its oldest offset (the tail's partition check).
   * The admin client refreshes its metadata for each call, so a partition added is seen at once.
   */
  private tailPartitions(): Promise<PartitionPosition[]> {
    return this.channelPositions((topic) => this.offsets.startOffsets(topic));
  }

  /** Every partition of the channel topics at the offset `offsetsOf` gives it. */
  private async channelPositions(
    offsetsOf: (topic: string) => Promise<{ partition: number; offset: string }[]>,
  ): Promise<PartitionPosition[]> {
    const positions: PartitionPosition[] = [];
    for (const { topic } of this.topics)
      for (const { partition, offset } of await offsetsOf(topic))
        positions.push({ topic, partition, offset });
    return positions;
  }

  private async lookup(at: 'earliest' | number): Promise<CursorPositions> {
    const positions: CursorPositions = new Map();
    for (const topic of this.tailTopics()) {
      const offsets =
        at === 'earliest'
          ? await this.offsets.startOffsets(topic)
          : await this.offsets.offsetsAt(topic, at);
      for (const { partition, offset } of offsets)
        positions.set(topicPartitionKey(topic, partition), BigInt(offset));
    }
    return this.restrictToTail(positions);
  }

  /**
   * A resumed cursor over exactly the tail's partitions: ones it does not name (a topic or
   * partition added since) start at their earliest offset, so nothing written there is missed.
   */
  private async normalise(cursor: CursorPositions): Promise<CursorPositions> {
    const positions = this.restrictToTail(cursor);
    if (positions.size < this.tail.partitionKeys().length) {
      const earliest = await this.lookup('earliest');
      for (const [key, offset] of earliest) if (!positions.has(key)) positions.set(key, offset);
    }
    return this.clampToEnd(positions);
  }

  /**
   * A cursor naming offsets past the end of a partition (its topic was recreated, or the cursor
   * comes from another cluster) resumes at the end there: left as it is, it would skip every
   * event written to that partition until the log grew past it. Kafka is asked only about
   * positions ahead of the tail (a cursor from a process whose tail is ahead stays as it is).
   */
  private async clampToEnd(positions: CursorPositions): Promise<CursorPositions> {
    const tailAt = this.tail.position();
    const topics = new Set<string>();
    for (const [key, offset] of positions)
      if (offset > (tailAt.get(key) ?? 0n)) topics.add(splitTopicPartitionKey(key).topic);
    const clamped: { topic: string; partition: number; cursor: string; end: string }[] = [];
    for (const topic of topics)
      for (const { partition, offset } of await this.offsets.endOffsets(topic)) {
        const key = topicPartitionKey(topic, partition);
        const at = positions.get(key);
        const end = BigInt(offset);
        if (at === undefined || at <= end) continue;
        positions.set(key, end);
        clamped.push({ topic, partition, cursor: at.toString(), end: end.toString() });
      }
    if (clamped.length > 0)
      this.logger.warn(
        { partitions: clamped.slice(0, 10), count: clamped.length },
        'stream cursor is past the end of the log; resuming at the end',
      );
    return positions;
  }

  private restrictToTail(positions: ReadonlyMap<string, bigint>): CursorPositions {
    const restricted: CursorPositions = new Map();
    for (const key of this.tail.partitionKeys()) {
      const offset = positions.get(key);
      if (offset !== undefined) restricted.set(key, offset);
    }
    return restricted;
  }

  private tailTopics(): string[] {
    return [...new Set(this.tail.partitionKeys().map((key) => splitTopicPartitionKey(key).topic))];
  }
}
