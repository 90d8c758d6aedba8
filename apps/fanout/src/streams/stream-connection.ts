import {
  type OffsetReset,
  type PartitionFetcher,
  decodeCursor,
  encodeCursor,
  topicPartitionKey,
  type CursorPositions,
} from '@herald/kafka';
import type { Logger } from '@herald/observability';
import { toPartitionPositions, type LiveTail, type TailEntry } from './live-tail';
import { toStreamEvent, type StreamEvent } from './stream-event';
import { tenantMayRead, type StreamSelection } from './stream-request';

export type Transport = 'sse' | 'ws' | 'poll';

/** Why a stream ended; the client is told (except when it left on its own). */
export type EndReason =
  | 'slow_consumer'
  | 'shutdown'
  | 'server_error'
  | 'client_closed'
  | 'done'
  /** Its API key was deleted. */
  | 'key_deleted'
  /** Its durable stream subscription was deleted. */
  | 'subscription_deleted'
  /** Its durable stream subscription was paused. */
  | 'subscription_paused'
  /** Its durable stream subscription was disabled (any other status than active or paused). */
  | 'subscription_disabled'
  /** Its durable stream subscription's types or filter changed: reconnect to get the new ones. */
  | 'subscription_changed'
  /** A WebSocket client that did not answer a ping within a heartbeat (a connection gone dead). */
  | 'unresponsive';

export const END_REASONS: readonly EndReason[] = [
  'slow_consumer',
  'shutdown',
  'server_error',
  'client_closed',
  'done',
  'key_deleted',
  'subscription_deleted',
  'subscription_paused',
  'subscription_disabled',
  'subscription_changed',
];

/** What the end message says besides its reason and cursor, for the reasons that need words. */
export const END_MESSAGES: Partial<Record<EndReason, string>> = {
  slow_consumer: 'The client read too slowly; resume from the cursor',
  shutdown: 'This server is shutting down; resume from the cursor',
  key_deleted: 'The API key of this stream was deleted',
  subscription_deleted: 'The stream subscription was deleted',
  subscription_paused: 'The stream subscription was paused; resume it to stream again',
  subscription_disabled: 'The stream subscription was disabled',
  subscription_changed:
    "The stream subscription's types or filter changed; connect again to stream with them",
  unresponsive: 'The client did not answer a ping; connect again and resume from the cursor',
};

/**
 * Records a stream had not had yet that Kafka no longer holds (retention removed them, or a
 * DeleteRecords), skipped when its read of a partition moved to the oldest offset held. Sent to
 * the client before any event read after it: SSE `event: herald.stream.gap`, WebSocket `{"op":"gap",…}`, a
 * poll's `gaps`.
 */
export interface StreamGap {
  readonly topic: string;
  readonly partition: number;
  /** The offset the stream was to read next on this partition (a decimal string). */
  readonly requestedOffset: string;
  /** The oldest offset Kafka holds there, where the stream reads on (a decimal string). */
  readonly resumedOffset: string;
  /**
   * Offsets skipped (`resumedOffset - requestedOffset`): at most this many records, of every
   * type on the partition, not only those the stream selects.
   */
  readonly skipped: number;
}

/** The gap of a reset that moved a read from `at` past records no longer held, or null. */
export function gapOf(reset: OffsetReset, at: bigint): StreamGap | null {
  const resumed = BigInt(reset.resumed);
  // Moved back (its offset was past the end) or not past where the client is: nothing skipped.
  if (resumed <= at) return null;
  return {
    topic: reset.topic,
    partition: reset.partition,
    requestedOffset: at.toString(),
    resumedOffset: reset.resumed,
    skipped: Number(resumed - at),
  };
}

/** One transport's side of a connection: it frames and queues what the connection sends. */
export interface StreamSink {
  readonly transport: Transport;
  /**
   * A live client that falls further behind than the ring holds while its buffer is full is too
   * slow and is dropped with its cursor (SSE, WebSocket); a poll just reads on from Kafka, as does
   * a client with room that the tail outran in one read.
   */
  readonly dropWhenBehind: boolean;
  /** Nothing more should be queued now (the send buffer is at its bound, or a poll is complete). */
  full(): boolean;
  /**
   * Whether `event` may join what is queued now; false leaves it, and what follows, for later
   * (the answer of a poll is at its byte budget). Absent: every event fits while not `full`.
   */
  fits?(event: StreamEvent): boolean;
  /** Queues one event. `entry` is given when `cursor` is that ring entry's own (frames can be shared). */
  send(event: StreamEvent, cursor: string, entry: TailEntry | null): void;
  heartbeat(): void;
  /**
   * Tells the client of records skipped because Kafka no longer holds them; `cursor` is its
   * position right after the gap (the next event's cursor names the same or later offsets).
   */
  gap(gap: StreamGap, cursor: string): void;
  /** Everything at hand has been sent: the ring walked to its end, or one read from Kafka done. */
  atRest?(): void;
  /** Final words (where to resume, and why), then the transport closes. Not called for `client_closed`. */
  end(reason: EndReason, cursor: string): void;
}

/** Where a connection starts: a ring sequence in step with the tail, or positions of its own. */
export type StartPoint = { seq: number; cursor: string } | { positions: CursorPositions };

export interface ConnectionHooks {
  readonly tail: LiveTail;
  readonly logger: Logger;
  /**
   * A group-less reader for catching up from Kafka, telling `onOffsetReset` of each partition it
   * moves because its offset is no longer held.
   */
  createFetcher(onOffsetReset: (reset: OffsetReset) => void): PartitionFetcher;
  sent(connection: StreamConnection, event: StreamEvent): void;
  /** The client was told of records it will never get (`StreamSink.gap`). */
  skipped(connection: StreamConnection, gap: StreamGap): void;
  /** Its filter threw on an event (counted each time; the event is taken as not matching). */
  filterFailed(connection: StreamConnection): void;
  ended(connection: StreamConnection, reason: EndReason, cursor: string): void;
}

/**
 * One client's stream. In step with the tail it walks the ring by sequence and shares each
 * event's cursor and frames; behind it (a resumed cursor, `from` a time) it carries positions
 * of its own and reads the ring comparing offsets per partition, or Kafka when the ring no
 * longer holds its positions, and joins the tail when it catches up — each offset of each
 * partition is sent at most once, in order. A full send buffer pauses a client until it drains,
 * so its memory stays bounded; a live client the ring leaves behind, or any client whose buffer
 * stays full too long, is dropped with its cursor.
 */
export class StreamConnection {
  private mode: 'ring' | 'kafka' | 'closed' = 'ring';
  private inStep = false;
  private nextSeq = 0;
  private stepCursor = '';
  private positions: CursorPositions | null = null;
  /**
   * Reached the ring's end in step since it last (re)started walking it. Only such a client is
   * live, and dropped as slow when the ring leaves it behind; one still catching up on the ring
   * (it resumed from an older cursor) reads on from Kafka instead.
   */
  private live = false;
  private stalledSince: number | null = null;
  /** The filter threw on an event already (logged once a connection). */
  private filterFailed = false;
  private wake: (() => void) | undefined;
  lastActivityAt = Date.now();
  eventsSent = 0;

  constructor(
    readonly id: string,
    readonly sink: StreamSink,
    private readonly selection: StreamSelection,
    private readonly hooks: ConnectionHooks,
  ) {}

  get closed(): boolean {
    return this.mode === 'closed';
  }

  /** Where the client resumes from if the connection ended now. */
  cursor(): string {
    return this.inStep || this.positions === null ? this.stepCursor : encodeCursor(this.positions);
  }

  start(point: StartPoint): void {
    if ('seq' in point) {
      this.inStep = true;
      this.nextSeq = point.seq;
      this.stepCursor = point.cursor;
      this.pump();
    } else {
      this.positions = new Map(point.positions);
      // Partitions the tail began reading since these positions were worked out.
      this.hooks.tail.fillAdded(this.positions);
      if (this.hooks.tail.covers(this.positions)) {
        this.nextSeq = this.hooks.tail.ring.oldestSeq;
        this.pump();
      } else this.catchUpFromKafka();
    }
  }

  /**
   * Sends what the ring holds for this client, as far as its buffer allows. The tail calls it for
   * every connection after each read: a failure here ends this stream only (`server_error`), and
   * never reaches the tail, whose reading would stop for every stream of the process.
   */
  pump(): void {
    try {
      this.walkRing();
    } catch (error) {
      this.hooks.logger.error({ err: error, connection: this.id }, 'stream failed');
      this.end('server_error');
    }
  }

  private walkRing(): void {
    if (this.mode !== 'ring') return;
    const ring = this.hooks.tail.ring;
    // The tail began reading another partition: none of it has been read by this client yet.
    if (!this.inStep) this.hooks.tail.fillAdded(this.positions!);
    while (this.nextSeq < ring.nextSeq) {
      if (this.nextSeq < ring.oldestSeq) {
        this.fallBehind();
        return;
      }
      if (this.sink.full()) {
        this.stalledSince ??= Date.now();
        return;
      }
      const entry = ring.get(this.nextSeq)!;
      if (this.inStep) {
        const matches = this.matches(entry);
        // Left for later, cursor and all: the sink takes no more now.
        if (matches && !this.fits(entry)) return;
        this.nextSeq += 1;
        this.stepCursor = entry.cursor;
        if (matches) this.deliver(entry, entry.cursor, entry);
        continue;
      }
      const positions = this.positions!;
      const at = positions.get(entry.key);
      if (at !== undefined && entry.offset < at) {
        this.nextSeq += 1;
        continue;
      }
      const matches = this.matches(entry);
      if (matches && !this.fits(entry)) return;
      this.nextSeq += 1;
      positions.set(entry.key, entry.offset + 1n);
      if (matches) this.deliver(entry, encodeCursor(positions), null);
    }
    if (!this.inStep && this.hooks.tail.isAt(this.positions!)) {
      this.inStep = true;
      this.stepCursor = this.hooks.tail.cursor();
      this.positions = null;
    }
    if (this.inStep) this.live = true;
    this.sink.atRest?.();
  }

  /** The transport flushed its buffer: feed it again. */
  drained(): void {
    if (this.sink.full()) return;
    this.stalledSince = null;
    this.wake?.();
    this.pump();
  }

  /** Heartbeats for idle clients; drops a client whose buffer has stayed full too long. */
  tick(now: number, heartbeatMs: number, slowTimeoutMs: number): void {
    if (this.closed) return;
    if (this.stalledSince !== null && now - this.stalledSince > slowTimeoutMs) {
      this.end('slow_consumer');
      return;
    }
    if (now - this.lastActivityAt >= heartbeatMs) {
      this.lastActivityAt = now;
      this.sink.heartbeat();
    }
  }

  /** Ends the stream, telling the client its cursor (unless the client is the one who left). */
  end(reason: EndReason): void {
    if (this.mode === 'closed') return;
    const cursor = this.cursor();
    this.mode = 'closed';
    this.wake?.();
    if (reason !== 'client_closed') this.sink.end(reason, cursor);
    this.hooks.ended(this, reason, cursor);
  }

  private matches(event: StreamEvent): boolean {
    if (!this.selection.types.has(event.type)) return false;
    if (!tenantMayRead(this.selection, event.type, event.event)) return false;
    if (this.selection.filter === null) return true;
    try {
      return this.selection.filter(event.event);
    } catch (error) {
      // A filter the checks let through that the query engine refuses on an event (a path
      // through `__proto__`): the event does not match, as when its field is missing.
      this.hooks.filterFailed(this);
      if (!this.filterFailed) {
        this.filterFailed = true;
        this.hooks.logger.warn(
          { err: error, connection: this.id },
          'stream filter failed on an event',
        );
      }
      return false;
    }
  }

  private fits(event: StreamEvent): boolean {
    return this.sink.fits?.(event) ?? true;
  }

  private deliver(event: StreamEvent, cursor: string, entry: TailEntry | null): void {
    this.sink.send(event, cursor, entry);
    this.lastActivityAt = Date.now();
    this.eventsSent += 1;
    this.hooks.sent(this, event);
  }

  /**
   * The ring dropped events this client has not had yet. A live client that slow (its buffer
   * full: it is not reading) is dropped; one with room in its buffer lost its place only because
   * the tail read more than the ring holds at once (a burst, a tail catching up), and one still
   * catching up on the ring or from Kafka (or a poll), read them from Kafka instead.
   */
  private fallBehind(): void {
    if (this.inStep && this.live && this.sink.dropWhenBehind && this.sink.full()) {
      this.end('slow_consumer');
      return;
    }
    if (this.inStep) {
      // In step, its position is the one its last cursor (written by this tail) names; a
      // partition the tail added after that cursor was written has not been read from at all.
      this.positions = decodeCursor(this.stepCursor);
      this.hooks.tail.fillAdded(this.positions);
      for (const [key, offset] of this.hooks.tail.position())
        if (!this.positions.has(key)) this.positions.set(key, offset);
      this.inStep = false;
    }
    this.catchUpFromKafka();
  }

  private catchUpFromKafka(): void {
    this.mode = 'kafka';
    this.live = false;
    this.catchUp().catch((error: unknown) => {
      this.hooks.logger.error({ err: error, connection: this.id }, 'stream catch-up failed');
      this.end('server_error');
    });
  }

  /**
   * The catch-up reader moved a partition: past records Kafka no longer holds, the client is told
   * (before anything read after) and its position moves past them, so its cursor does not lead
   * back into the gap. Called while `read()` is pending, never amid a batch.
   */
  private skipAhead(positions: CursorPositions, reset: OffsetReset): void {
    if (this.mode !== 'kafka') return;
    const key = topicPartitionKey(reset.topic, reset.partition);
    const gap = gapOf(reset, positions.get(key) ?? 0n);
    if (gap === null) return;
    try {
      positions.set(key, BigInt(gap.resumedOffset));
      this.sink.gap(gap, encodeCursor(positions));
      this.lastActivityAt = Date.now();
      this.hooks.skipped(this, gap);
    } catch (error) {
      this.hooks.logger.error({ err: error, connection: this.id }, 'stream failed');
      this.end('server_error');
    }
  }

  private async catchUp(): Promise<void> {
    const positions = this.positions!;
    this.hooks.tail.fillAdded(positions);
    const onOffsetReset = (reset: OffsetReset): void => this.skipAhead(positions, reset);
    let fetcher = this.hooks.createFetcher(onOffsetReset);
    fetcher.assign(toPartitionPositions(positions));
    try {
      while (this.mode === 'kafka') {
        // The tail began reading another partition: read it too, with a fetcher that knows of it
        // (one's view of the cluster is taken when it connects, and it skips partitions it lacks).
        if (this.hooks.tail.fillAdded(positions)) {
          await fetcher.close();
          fetcher = this.hooks.createFetcher(onOffsetReset);
          fetcher.assign(toPartitionPositions(positions));
          if (this.mode !== 'kafka') return;
        }
        if (this.sink.full()) {
          this.stalledSince ??= Date.now();
          await new Promise<void>((resolve) => (this.wake = resolve));
          this.wake = undefined;
          continue;
        }
        // Synchronously from here to the ring walk, so nothing is evicted in between.
        if (this.hooks.tail.covers(positions)) {
          this.mode = 'ring';
          this.nextSeq = this.hooks.tail.ring.oldestSeq;
          this.pump();
          return;
        }
        const batches = await fetcher.read();
        if (this.mode !== 'kafka') return;
        let rewind = false;
        let refused = false;
        batches: for (const batch of batches) {
          const key = topicPartitionKey(batch.topic, batch.partition);
          for (const record of batch.records) {
            const offset = BigInt(record.offset);
            if (offset < (positions.get(key) ?? 0n)) continue;
            if (this.sink.full()) {
              rewind = true;
              break batches;
            }
            const event = toStreamEvent(record);
            const matches = event !== null && this.matches(event);
            if (matches && !this.fits(event)) {
              rewind = refused = true;
              break batches;
            }
            positions.set(key, offset + 1n);
            if (matches) this.deliver(event, encodeCursor(positions), null);
          }
          const next = BigInt(batch.nextOffset);
          if (next > (positions.get(key) ?? 0n)) positions.set(key, next);
        }
        // The buffer filled mid-fetch: read the rest again later from where this client is.
        if (rewind) fetcher.assign(toPartitionPositions(positions));
        else this.sink.atRest?.();
        // The sink takes no more for now: wait until it says it has room (or the stream ends).
        if (refused && this.mode === 'kafka') {
          await new Promise<void>((resolve) => (this.wake = resolve));
          this.wake = undefined;
        }
      }
    } finally {
      await fetcher.close();
    }
  }
}
