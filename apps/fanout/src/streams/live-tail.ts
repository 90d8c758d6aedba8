import type { Logger } from '@herald/observability';
import {
  PartitionFetcher,
  type FetchedBatch,
  type IncomingRecord,
  type KafkaConnection,
  type PartitionPosition,
  encodeCursor,
  topicPartitionKey,
  splitTopicPartitionKey,
  type CursorPositions,
  type OffsetReset,
} from '@herald/kafka';
import { RingBuffer } from './ring-buffer';
import { toStreamEvent, type StreamEvent } from './stream-event';

/** An event in the ring: its place there, the cursor right after it, and frames built once. */
export interface TailEntry extends StreamEvent {
  readonly seq: number;
  /** The tail's position right after this event, over every partition it reads. */
  readonly cursor: string;
  /** Transport frames for clients whose position is the tail's (built on first use). */
  frames: { sse?: string; ws?: string };
}

/**
 * What one ring entry holds at most, estimated when it is pushed (before anything is parsed), for
 * the ring's byte bound. Once a stream reads it, an entry holds its text four times over: the
 * parsed CloudEvent (its payload parsed costs from about its JSON length, for long strings, to
 * twice that, for many short fields and numbers), the CloudEvent JSON, and the SSE and WebSocket
 * frames, each the JSON plus its cursor (flattened copies once written to a socket). Then the
 * cursor itself, the offsets after the entry over every partition the tail reads (one slot
 * each), and fixed costs (the entry, its record's fields, string and object headers). Measured
 * on Node 20 (heap plus array buffers per entry, 10,000 entries, in step SSE and WebSocket
 * frames built): 5.9 KB for a 1 KB payload of one string over 5 partitions, 6.8 KB for a 1 KB
 * order with line items, 21 KB for 4 KB, 10 KB for 1 KB over 200 partitions. Text with
 * characters outside Latin-1 is held in two bytes a character by V8, up to twice this.
 */
export function entryBytes(textBytes: number, partitions: number, cursorChars: number): number {
  return (
    ENTRY_TEXT_COPIES * textBytes +
    ENTRY_CURSOR_COPIES * cursorChars +
    ENTRY_BYTES_PER_PARTITION * partitions +
    ENTRY_OVERHEAD_BYTES
  );
}

/** The payload and its attributes: JSON, its parsed form (up to twice), SSE and WebSocket frames. */
const ENTRY_TEXT_COPIES = 5;
/** The cursor string and its copies in the two frames. */
const ENTRY_CURSOR_COPIES = 3;
/** One offset slot per partition of the tail (the position after the entry). */
const ENTRY_BYTES_PER_PARTITION = 8;
/** The entry, its frames object and offsets, the record's fields, headers of strings and objects. */
const ENTRY_OVERHEAD_BYTES = 1024;

/** A record's payload and CloudEvent attribute bytes: what its JSON is made of. */
function recordTextBytes(record: IncomingRecord): number {
  let bytes = record.value?.length ?? 0;
  for (const name in record.headers) bytes += record.headers[name]?.length ?? 0;
  return bytes;
}

/**
 * A ring entry that parses its record and encodes its cursor only when a stream first reads it:
 * with no stream clients (or none for these types) the tail costs a copy of the positions per
 * record, not a parse, a JSON serialisation and a checksummed cursor.
 */
class LazyTailEntry implements TailEntry {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  frames: { sse?: string; ws?: string } = {};
  private record: IncomingRecord | undefined;
  private parsed: StreamEvent | undefined;
  private cursorText: string | undefined;

  constructor(
    record: IncomingRecord,
    readonly key: string,
    readonly seq: number,
    /** The tail's offsets right after this record, in `layout` order. */
    private readonly after: readonly bigint[],
    private readonly owner: LiveTail,
  ) {
    this.record = record;
    this.topic = record.topic;
    this.partition = record.partition;
    this.offset = BigInt(record.offset);
  }

  get type(): string {
    return this.stream().type;
  }

  get event(): Readonly<Record<string, unknown>> {
    return this.stream().event;
  }

  get json(): string {
    return this.stream().json;
  }

  get timeMs(): number {
    return this.stream().timeMs;
  }

  get cursor(): string {
    if (this.cursorText === undefined) {
      this.cursorText = this.owner.encodeAt(this.after);
      this.owner.remember(this.cursorText, this.seq);
    }
    return this.cursorText;
  }

  /** Cursor text if it was ever handed out (for the ring's index of cursors). */
  get encodedCursor(): string | undefined {
    return this.cursorText;
  }

  private stream(): StreamEvent {
    if (this.parsed) return this.parsed;
    const record = this.record!;
    this.record = undefined;
    // Not a CloudEvent: no stream selects the empty type, so it is skipped (logged once here).
    this.parsed = toStreamEvent(record) ?? this.owner.unreadable(record);
    return this.parsed;
  }
}

export interface LiveTailOptions {
  ringEvents: number;
  ringMaxBytes: number;
  fetchMaxWaitMs: number;
  /** How often the tail asks Kafka whether its topics gained partitions (ms). */
  partitionCheckMs: number;
}

/** Sets in `positions` each partition of `from` it does not name, at `from`'s offset; true if any. */
export function fillMissing(
  positions: CursorPositions,
  from: ReadonlyMap<string, bigint>,
): boolean {
  let filled = false;
  for (const [key, offset] of from)
    if (!positions.has(key)) {
      positions.set(key, offset);
      filled = true;
    }
  return filled;
}

/** Where the tail starts reading each partition (the ends of the topics when it starts). */
export type TailStart = () => Promise<PartitionPosition[]>;

/**
 * Every partition of the tail's topics as Kafka has them now, each with the oldest offset it
 * holds: the tail starts reading a partition it does not read yet from there.
 */
export type TailPartitions = () => Promise<PartitionPosition[]>;

/** Told of partitions the tail began reading while it runs (with the offsets it reads them from). */
export type PartitionsAddedListener = (added: readonly PartitionPosition[]) => void;

/** Told when the tail skipped records Kafka no longer held (retention ran ahead of it). */
export type TailGapListener = (reset: OffsetReset) => void;

/**
 * Reads every partition of the channel topics with no consumer group, from their ends at start,
 * into a bounded ring of events that every connection of this process reads from. The streams
 * service starts it with the first stream and stops it when none has been open for a while. For each
 * partition the ring holds a contiguous run of offsets, from `earliestHeld` to the tail's
 * position, so a client whose position is inside that run for every partition can be served
 * from memory with nothing skipped.
 *
 * Every `partitionCheckMs` it asks Kafka for its topics' partitions; one added since (Kafka
 * CreatePartitions, a topic grown by another instance's start) joins the end of `layout` and is
 * read from its oldest offset, so every event written there is read. Cursors written before lack
 * that partition, and a cursor that lacks one means "none of it read yet" (`fillAdded`).
 */
export class LiveTail {
  readonly ring: RingBuffer<TailEntry>;
  /** The partitions the tail reads (`topicPartitionKey`s), in the order of `offsets`. */
  private layout: string[] = [];
  private readonly slot = new Map<string, number>();
  /** The tail's position: for each partition of `layout`, the next offset to read. */
  private offsets: bigint[] = [];
  private readonly held = new Map<string, bigint>();
  private readonly bySeqCursor = new Map<string, number>();
  private readonly listeners = new Set<() => void>();
  private readonly addedListeners = new Set<PartitionsAddedListener>();
  private readonly gapListeners = new Set<TailGapListener>();
  /** Partitions added while the tail runs: the offset it began reading each from. */
  private readonly addedAt = new Map<string, bigint>();
  /** Found by the last partition check, joined to the layout between two reads. */
  private pending: PartitionPosition[] = [];
  private checkTimer: NodeJS.Timeout | undefined;
  private checking = false;
  private fetcher: PartitionFetcher | undefined;
  private currentCursor = '';
  private running: Promise<void> | undefined;
  private stopped = false;
  private started = false;
  private markStarted: () => void = () => undefined;
  private readonly startedOnce = new Promise<void>((resolve) => (this.markStarted = resolve));

  constructor(
    private readonly connection: KafkaConnection,
    private readonly logger: Logger,
    private readonly options: LiveTailOptions,
  ) {
    this.ring = new RingBuffer<TailEntry>(options.ringEvents, options.ringMaxBytes, (entry) => {
      // The partition's run in the ring now begins after the evicted event.
      this.held.set(entry.key, entry.offset + 1n);
      const cursor = entry instanceof LazyTailEntry ? entry.encodedCursor : entry.cursor;
      if (cursor !== undefined && this.bySeqCursor.get(cursor) === entry.seq)
        this.bySeqCursor.delete(cursor);
    });
  }

  /** True once the start positions are known and reading has begun. */
  get ready(): boolean {
    return this.started && !this.stopped;
  }

  /** True once `start` was called (reading may not have begun yet). */
  get requested(): boolean {
    return this.running !== undefined;
  }

  /**
   * Begins reading in the background; retries `start` until Kafka answers. With `partitions`,
   * checks every `partitionCheckMs` for partitions added to the topics and reads them too.
   */
  start(startPositions: TailStart, partitions?: TailPartitions): void {
    this.running ??= this.run(startPositions, partitions);
  }

  /** Resolves once reading has begun (never, if the tail stops first). */
  whenStarted(): Promise<void> {
    return this.startedOnce;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.checkTimer);
    await this.fetcher?.close();
    await this.running;
  }

  /** Calls `listener` after each round that appended events; returns the unsubscribe. */
  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Calls `listener` with the partitions the tail began reading while it runs. */
  onPartitionsAdded(listener: PartitionsAddedListener): () => void {
    this.addedListeners.add(listener);
    return () => this.addedListeners.delete(listener);
  }

  /** Calls `listener` when the tail skipped records Kafka no longer held. */
  onGap(listener: TailGapListener): () => void {
    this.gapListeners.add(listener);
    return () => this.gapListeners.delete(listener);
  }

  /** The tail's position now (a copy). */
  position(): CursorPositions {
    return this.positionsOf(this.offsets);
  }

  /** The partitions the tail reads (`topicPartitionKey`s). */
  partitionKeys(): string[] {
    return [...this.layout];
  }

  /** The cursor of the tail's position now. */
  cursor(): string {
    return this.currentCursor;
  }

  /**
   * The ring sequence to continue from for a cursor this tail wrote (the tail's own or an event's),
   * or undefined: a client resuming with it is in step with the tail.
   */
  seqAfter(cursor: string): number | undefined {
    if (cursor === this.currentCursor) return this.ring.nextSeq;
    const seq = this.bySeqCursor.get(cursor);
    return seq === undefined ? undefined : seq + 1;
  }

  /**
   * Gives `positions` the partitions the tail added while running that it does not name, at the
   * offset the tail began reading each from: a position (cursor) written before the tail read a
   * partition has read none of it. True when it added any.
   */
  fillAdded(positions: CursorPositions): boolean {
    return fillMissing(positions, this.addedAt);
  }

  /** Offsets snapshotted before a partition joined the layout are shorter: it is left out. */
  private positionsOf(offsets: readonly bigint[]): CursorPositions {
    const positions: CursorPositions = new Map();
    for (let i = 0; i < offsets.length; i++) positions.set(this.layout[i]!, offsets[i]!);
    return positions;
  }

  /** The cursor of a snapshot of the tail's offsets (in `layout` order). */
  encodeAt(offsets: readonly bigint[]): string {
    return encodeCursor(this.positionsOf(offsets));
  }

  /** Notes that an entry's cursor was handed out, so a client resuming with it stays in step. */
  remember(cursor: string, seq: number): void {
    if (seq >= this.ring.oldestSeq) this.bySeqCursor.set(cursor, seq);
  }

  /** What streams see of a record that is not a CloudEvent: nothing they can select. */
  unreadable(record: IncomingRecord): StreamEvent {
    this.logger.warn(
      { topic: record.topic, partition: record.partition, offset: record.offset },
      'record on a channel topic is not a CloudEvent; streams skip it',
    );
    return {
      topic: record.topic,
      partition: record.partition,
      offset: BigInt(record.offset),
      key: topicPartitionKey(record.topic, record.partition),
      type: '',
      event: {},
      json: '{}',
      timeMs: Number.NaN,
    };
  }

  /** Whether the ring holds every event at or after `positions` for every partition of the tail. */
  covers(positions: ReadonlyMap<string, bigint>): boolean {
    for (const [key, earliest] of this.held) {
      const at = positions.get(key);
      if (at === undefined || at < earliest) return false;
    }
    return true;
  }

  /** Whether `positions` equals the tail's position on every partition it reads. */
  isAt(positions: ReadonlyMap<string, bigint>): boolean {
    for (const [i, key] of this.layout.entries())
      if (positions.get(key) !== this.offsets[i]) return false;
    return true;
  }

  private async run(startPositions: TailStart, partitions?: TailPartitions): Promise<void> {
    let delayMs = 200;
    while (!this.stopped && !this.started) {
      try {
        const start = await startPositions();
        this.place(start);
        this.fetcher = this.newFetcher();
        this.fetcher.assign(start);
        this.started = true;
        this.markStarted();
        this.logger.info({ partitions: start.length }, 'stream live tail started');
        if (partitions) this.watchPartitions(partitions);
      } catch (error) {
        this.logger.warn({ err: error, retryInMs: delayMs }, 'stream live tail cannot start yet');
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        delayMs = Math.min(delayMs * 2, 5000);
      }
    }
    while (!this.stopped) {
      const batches = await this.fetcher!.read();
      if (batches.length > 0) this.append(batches);
      if (this.pending.length > 0 && !this.stopped) this.addPartitions(this.pending.splice(0));
    }
  }

  /** Sets the tail's position (and its layout) to `start`. */
  private place(start: readonly PartitionPosition[]): void {
    for (const { topic, partition, offset } of start) {
      const key = topicPartitionKey(topic, partition);
      if (!this.slot.has(key)) {
        this.slot.set(key, this.layout.length);
        this.layout.push(key);
      }
      this.offsets[this.slot.get(key)!] = BigInt(offset);
      this.held.set(key, BigInt(offset));
    }
    this.currentCursor = this.encodeAt(this.offsets);
  }

  private watchPartitions(partitions: TailPartitions): void {
    this.checkTimer = setInterval(() => {
      if (this.checking || this.stopped) return;
      this.checking = true;
      partitions()
        .then((found) => {
          const known = new Set(this.pending.map((p) => topicPartitionKey(p.topic, p.partition)));
          for (const position of found) {
            const key = topicPartitionKey(position.topic, position.partition);
            if (!this.slot.has(key) && !known.has(key)) this.pending.push(position);
          }
        })
        .catch((error: unknown) =>
          this.logger.warn({ err: error }, 'stream live tail could not check for new partitions'),
        )
        .finally(() => (this.checking = false));
    }, this.options.partitionCheckMs);
    this.checkTimer.unref();
  }

  /**
   * Joins partitions found by a check to the layout and reads them from the offsets given. The
   * fetcher is replaced: its view of the cluster predates them, and it skips partitions it does
   * not know of. Its positions carry over; a fetch still in flight is read again by the new one.
   */
  private addPartitions(added: PartitionPosition[]): void {
    for (const { topic, partition, offset } of added) {
      const key = topicPartitionKey(topic, partition);
      this.slot.set(key, this.layout.length);
      this.layout.push(key);
      this.offsets.push(BigInt(offset));
      this.held.set(key, BigInt(offset));
      this.addedAt.set(key, BigInt(offset));
    }
    const previous = this.fetcher!;
    this.fetcher = this.newFetcher();
    this.fetcher.assign([...previous.assigned(), ...added]);
    void previous
      .close()
      .catch((error: unknown) => this.logger.warn({ err: error }, 'closing a fetcher failed'));
    this.currentCursor = this.encodeAt(this.offsets);
    this.logger.info(
      { added: added.slice(0, 20), count: added.length, partitions: this.layout.length },
      'stream live tail reads partitions added to its topics',
    );
    for (const listener of this.addedListeners) listener(added);
  }

  private newFetcher(): PartitionFetcher {
    return new PartitionFetcher(this.connection, this.logger, {
      maxWaitMs: this.options.fetchMaxWaitMs,
      onOffsetReset: (reset) => this.skipped(reset),
    });
  }

  /**
   * The fetcher moved a partition past records Kafka no longer holds: the tail fell further
   * behind than retention keeps (a long pause, tiny retention). The ring's run of offsets is no
   * longer whole, so it is cut: every client reading it finds itself behind, and reads on from
   * Kafka at its own position, where the catch-up reader tells it of the gap in its transport's
   * shape before anything after it. Called before the read that moved the partition resolves.
   */
  skipped(reset: OffsetReset): void {
    const key = topicPartitionKey(reset.topic, reset.partition);
    const slot = this.slot.get(key);
    const resumed = BigInt(reset.resumed);
    if (slot === undefined || resumed <= this.offsets[slot]!) return;
    const from = this.offsets[slot]!;
    this.offsets[slot] = resumed;
    this.ring.cut();
    for (const [i, partition] of this.layout.entries()) this.held.set(partition, this.offsets[i]!);
    this.currentCursor = this.encodeAt(this.offsets);
    this.logger.warn(
      {
        topic: reset.topic,
        partition: reset.partition,
        fromOffset: from.toString(),
        resumedOffset: reset.resumed,
        skipped: Number(resumed - from),
      },
      'stream live tail fell behind what Kafka holds; clients reading past the skipped records are told of the gap',
    );
    for (const listener of this.gapListeners) listener(reset);
    // Clients at the ring's end wake to find themselves behind.
    for (const listener of this.listeners) listener();
  }

  private append(batches: FetchedBatch[]): void {
    let appended = false;
    for (const batch of batches) {
      const key = topicPartitionKey(batch.topic, batch.partition);
      const slot = this.slot.get(key);
      if (slot === undefined) continue; // not a partition the tail was started on
      for (const record of batch.records) {
        this.offsets[slot] = BigInt(record.offset) + 1n;
        const seq = this.ring.nextSeq;
        this.ring.push(
          new LazyTailEntry(record, key, seq, this.offsets.slice(), this),
          entryBytes(recordTextBytes(record), this.layout.length, this.currentCursor.length),
        );
        appended = true;
      }
      this.offsets[slot] = BigInt(batch.nextOffset);
    }
    this.currentCursor = this.encodeAt(this.offsets);
    if (appended) for (const listener of this.listeners) listener();
  }
}

/** The partitions of `positions` grouped for a fetcher. */
export function toPartitionPositions(positions: ReadonlyMap<string, bigint>): PartitionPosition[] {
  return [...positions].map(([key, offset]) => ({
    ...splitTopicPartitionKey(key),
    offset: offset.toString(),
  }));
}
