import type { Admin } from 'kafkajs';
import type { Logger } from 'pino';
import type { IncomingRecord } from './consumer.runner';
import type { KafkaConnection } from './kafka.connection';
import { PartitionFetcher } from './partition.fetcher';
import { topicPartitionKey } from './topic-partition.key';

/** Records `[from, to)` of one partition (decimal-string offsets). */
export interface PartitionRange {
  readonly topic: string;
  readonly partition: number;
  readonly from: string;
  readonly to: string;
}

/** Records of one range, in offset order. */
export interface RangeBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: IncomingRecord[];
}

export interface ReadOptions {
  /** Stops reading early (the returned promise then resolves without finishing the ranges). */
  readonly signal?: AbortSignal;
  /**
   * After this long (ms) without a range's read moving on, what its partition holds is looked up
   * again, and a range whose rest it no longer holds (its topic deleted, the partition cut back)
   * ends; default 5,000.
   */
  readonly recheckMs?: number;
}

/** What one partition holds now: `[low, high)`, from the log start to the high watermark. */
export interface HeldOffsets {
  readonly low: string;
  readonly high: string;
}

/** Longest one fetch round waits at the broker for records (ms). */
const FETCH_WAIT_MS = 200;
const RECHECK_MS = 5_000;

/**
 * Reads fixed offset ranges once, with no consumer group (no join to wait for, nothing
 * committed, nothing left on the broker): a `PartitionFetcher` reads each range's partition from
 * the range's start, and a range is done once the fetcher's position passes its end, whether a
 * record, a control record (transaction marker) or an offset reset took it there. Replays and
 * redrives read with it. Each range is first clipped to what its partition still holds, so a
 * range retention removed (or one past the end) is done at once instead of waiting for ever for
 * a record that will not come.
 */
export class OffsetRangeReader {
  constructor(
    private readonly connection: KafkaConnection,
    private readonly logger: Logger,
  ) {}

  /**
   * Hands every record of `ranges` (one range per partition) to `handle`, batch by batch;
   * resolves when all are read.
   */
  async read(
    ranges: readonly PartitionRange[],
    handle: (batch: RangeBatch) => Promise<void>,
    options: ReadOptions = {},
  ): Promise<void> {
    const asked = ranges.filter((range) => BigInt(range.to) > BigInt(range.from));
    if (asked.length === 0 || options.signal?.aborted) return;
    const held = await this.heldNow(asked);
    if (held.length === 0 || options.signal?.aborted) return;
    await this.readHeld(held, handle, options);
  }

  /** `ranges` as their partitions hold them now, over an admin connection of its own. */
  private async heldNow(ranges: readonly PartitionRange[]): Promise<PartitionRange[]> {
    const admin = this.connection.kafka.admin();
    try {
      await admin.connect();
      return await this.clipToHeld(admin, ranges);
    } finally {
      await admin
        .disconnect()
        .catch((error: unknown) => this.logger.debug({ err: error }, 'reader disconnect failed'));
    }
  }

  /** `ranges` cut to the offsets their partitions hold now; the ones left empty are dropped. */
  private async clipToHeld(
    admin: Admin,
    ranges: readonly PartitionRange[],
  ): Promise<PartitionRange[]> {
    const heldBy = new Map<string, HeldOffsets>();
    // A topic deleted since (a dead letter's, say) holds nothing: asking for its offsets would
    // fail only after the client's retries, and a redrive would then fail for good.
    const existing = new Set(await admin.listTopics());
    const topics = [...new Set(ranges.map((range) => range.topic))].filter((topic) =>
      existing.has(topic),
    );
    for (const topic of topics)
      for (const { partition, low, high } of await admin.fetchTopicOffsets(topic))
        heldBy.set(rangeKey({ topic, partition }), { low, high });
    const readable: PartitionRange[] = [];
    const clipped: object[] = [];
    for (const range of ranges) {
      const held = heldBy.get(rangeKey(range));
      const read = clipRange(range, held);
      if (read) readable.push(read);
      if (read?.from !== range.from || read.to !== range.to)
        clipped.push({
          topic: range.topic,
          partition: range.partition,
          asked: [range.from, range.to],
          held: held ? [held.low, held.high] : null,
          read: read ? [read.from, read.to] : null,
        });
    }
    if (clipped.length > 0)
      this.logger.debug({ ranges: clipped }, 'reader clipped ranges to the records Kafka holds');
    return readable;
  }

  private async readHeld(
    ranges: readonly PartitionRange[],
    handle: (batch: RangeBatch) => Promise<void>,
    { signal, recheckMs = RECHECK_MS }: ReadOptions,
  ): Promise<void> {
    const pending = new Map<string, PartitionRange>();
    for (const range of ranges) pending.set(rangeKey(range), range);
    // Where each pending range's partition was read up to; a fetcher position below it means the
    // partition lost offsets it held at the look-up (deleted and created again, truncated).
    const reached = new Map<string, bigint>();
    const fetcher = new PartitionFetcher(this.connection, this.logger, {
      maxWaitMs: FETCH_WAIT_MS,
    });
    fetcher.assign(
      [...pending.values()].map(({ topic, partition, from }) => ({
        topic,
        partition,
        offset: from,
      })),
    );
    // The fetcher retries a topic that is gone for ever: past `recheckMs` without progress, the
    // ranges' rest is looked up again.
    let movedAt = Date.now();
    try {
      while (pending.size > 0 && !signal?.aborted) {
        for (const batch of await fetcher.read()) {
          const range = pending.get(rangeKey(batch));
          if (!range) continue;
          const records = batch.records.filter((record) => inRange(record.offset, range));
          if (records.length > 0)
            await handle({ topic: batch.topic, partition: batch.partition, records });
          if (signal?.aborted) return;
        }
        // After every round, with or without records: control records and offset resets move a
        // position too, past a range's end when nothing at or after it is left to fetch.
        for (const { topic, partition, offset } of fetcher.assigned()) {
          const key = rangeKey({ topic, partition });
          const range = pending.get(key);
          if (!range) continue;
          const position = BigInt(offset);
          const lost = position < (reached.get(key) ?? BigInt(range.from));
          if (position < BigInt(range.to) && !lost) {
            if (position !== reached.get(key)) movedAt = Date.now();
            reached.set(key, position);
            continue;
          }
          if (lost)
            this.logger.warn(
              { topic, partition, range: [range.from, range.to], offset },
              'range no longer held: its partition went back past where the read was',
            );
          pending.delete(key);
          fetcher.release(topic, partition);
        }
        if (pending.size > 0 && Date.now() - movedAt >= recheckMs) {
          movedAt = Date.now();
          await this.dropUnheld(pending, reached, fetcher);
        }
      }
    } finally {
      await fetcher
        .close()
        .catch((error: unknown) => this.logger.debug({ err: error }, 'reader close failed'));
    }
  }

  /** Ends the pending ranges whose rest (from where the read is) their partition no longer holds. */
  private async dropUnheld(
    pending: Map<string, PartitionRange>,
    reached: ReadonlyMap<string, bigint>,
    fetcher: PartitionFetcher,
  ): Promise<void> {
    const rest = [...pending].map(([key, range]) => ({
      ...range,
      from: (reached.get(key) ?? BigInt(range.from)).toString(),
    }));
    let held: PartitionRange[];
    try {
      held = await this.heldNow(rest);
    } catch (error) {
      this.logger.debug({ err: error }, 'reader could not look up what partitions hold');
      return;
    }
    const still = new Set(held.map(rangeKey));
    for (const range of rest) {
      const key = rangeKey(range);
      if (still.has(key)) continue;
      this.logger.warn(
        { topic: range.topic, partition: range.partition, range: [range.from, range.to] },
        'range no longer held: its topic is gone or its partition ends before it',
      );
      pending.delete(key);
      fetcher.release(range.topic, range.partition);
    }
  }
}

/**
 * The part of `range` its partition still holds, or `null` when there is none (the partition
 * is unknown, empty, or holds only offsets outside the range). A range is only done when the
 * read gets to its end, and a read at a partition's end waits for records to be written, so it
 * must never reach past what the partition holds.
 */
export function clipRange(
  range: PartitionRange,
  held: HeldOffsets | undefined,
): PartitionRange | null {
  if (!held) return null;
  const from = maxOffset(BigInt(range.from), BigInt(held.low));
  const to = minOffset(BigInt(range.to), BigInt(held.high));
  return to > from ? { ...range, from: from.toString(), to: to.toString() } : null;
}

function inRange(offset: string, range: PartitionRange): boolean {
  const at = BigInt(offset);
  return at >= BigInt(range.from) && at < BigInt(range.to);
}

function maxOffset(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function minOffset(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

function rangeKey(at: { topic: string; partition: number }): string {
  return topicPartitionKey(at.topic, at.partition);
}
