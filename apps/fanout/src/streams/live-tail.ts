import type { Logger } from '@herald/observability';
import {
  PartitionFetcher,
  type FetchedBatch,
  type KafkaConnection,
  type PartitionPosition,
} from '@herald/kafka';
import { RingBuffer } from './ring-buffer';
import {
  encodeCursor,
  partitionKey,
  splitPartitionKey,
  type CursorPositions,
} from './stream-cursor';
import { toStreamEvent, type StreamEvent } from './stream-event';

/** An event in the ring: its place there, the cursor right after it, and frames built once. */
export interface TailEntry extends StreamEvent {
  readonly seq: number;
  /** The tail's position right after this event, over every partition it reads. */
  readonly cursor: string;
  /** Transport frames for clients whose position is the tail's (built on first use). */
  frames: { sse?: string; ws?: string };
}

export interface LiveTailOptions {
  ringEvents: number;
  ringMaxBytes: number;
  fetchMaxWaitMs: number;
}

/** Where the tail starts reading each partition (the ends of the topics when the process starts). */
export type TailStart = () => Promise<PartitionPosition[]>;

/**
 * Reads every partition of the channel topics with no consumer group, from their ends at start,
 * into a bounded ring of events that every connection of this process reads from. For each
 * partition the ring holds a contiguous run of offsets, from `earliestHeld` to the tail's
 * position, so a client whose position is inside that run for every partition can be served
 * from memory with nothing skipped.
 */
export class LiveTail {
  readonly ring: RingBuffer<TailEntry>;
  private readonly positions: CursorPositions = new Map();
  private readonly held = new Map<string, bigint>();
  private readonly bySeqCursor = new Map<string, number>();
  private readonly listeners = new Set<() => void>();
  private fetcher: PartitionFetcher | undefined;
  private currentCursor = '';
  private running: Promise<void> | undefined;
  private stopped = false;
  private started = false;

  constructor(
    private readonly connection: KafkaConnection,
    private readonly logger: Logger,
    private readonly options: LiveTailOptions,
  ) {
    this.ring = new RingBuffer<TailEntry>(options.ringEvents, options.ringMaxBytes, (entry) => {
      // The partition's run in the ring now begins after the evicted event.
      this.held.set(entry.key, entry.offset + 1n);
      if (this.bySeqCursor.get(entry.cursor) === entry.seq) this.bySeqCursor.delete(entry.cursor);
    });
  }

  /** True once the start positions are known and reading has begun. */
  get ready(): boolean {
    return this.started && !this.stopped;
  }

  /** Begins reading in the background; retries `start` until Kafka answers. */
  start(startPositions: TailStart): void {
    this.running ??= this.run(startPositions);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.fetcher?.close();
    await this.running;
  }

  /** Calls `listener` after each round that appended events; returns the unsubscribe. */
  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The tail's position now (a copy). */
  position(): CursorPositions {
    return new Map(this.positions);
  }

  /** The partitions the tail reads (`partitionKey`s). */
  partitionKeys(): string[] {
    return [...this.positions.keys()];
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
    for (const [key, offset] of this.positions) if (positions.get(key) !== offset) return false;
    return true;
  }

  private async run(startPositions: TailStart): Promise<void> {
    let delayMs = 200;
    while (!this.stopped && !this.started) {
      try {
        const start = await startPositions();
        for (const { topic, partition, offset } of start) {
          const key = partitionKey(topic, partition);
          this.positions.set(key, BigInt(offset));
          this.held.set(key, BigInt(offset));
        }
        this.currentCursor = encodeCursor(this.positions);
        this.fetcher = new PartitionFetcher(this.connection, this.logger, {
          maxWaitMs: this.options.fetchMaxWaitMs,
        });
        this.fetcher.assign(start);
        this.started = true;
        this.logger.info({ partitions: start.length }, 'stream live tail started');
      } catch (error) {
        this.logger.warn({ err: error, retryInMs: delayMs }, 'stream live tail cannot start yet');
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        delayMs = Math.min(delayMs * 2, 5000);
      }
    }
    while (!this.stopped) {
      const batches = await this.fetcher!.read();
      if (batches.length > 0) this.append(batches);
    }
  }

  private append(batches: FetchedBatch[]): void {
    let appended = false;
    for (const batch of batches) {
      const key = partitionKey(batch.topic, batch.partition);
      for (const record of batch.records) {
        this.positions.set(key, BigInt(record.offset) + 1n);
        const event = toStreamEvent(record);
        if (!event) {
          this.logger.warn(
            { topic: record.topic, partition: record.partition, offset: record.offset },
            'record on a channel topic is not a CloudEvent; streams skip it',
          );
          continue;
        }
        const cursor = encodeCursor(this.positions);
        const seq = this.ring.nextSeq;
        this.ring.push(
          { ...event, seq, cursor, frames: {} },
          event.json.length * 3 + cursor.length,
        );
        this.bySeqCursor.set(cursor, seq);
        appended = true;
      }
      this.positions.set(key, BigInt(batch.nextOffset));
    }
    this.currentCursor = encodeCursor(this.positions);
    if (appended) for (const listener of this.listeners) listener();
  }
}

/** The partitions of `positions` grouped for a fetcher. */
export function toPartitionPositions(positions: ReadonlyMap<string, bigint>): PartitionPosition[] {
  return [...positions].map(([key, offset]) => ({
    ...splitPartitionKey(key),
    offset: offset.toString(),
  }));
}
