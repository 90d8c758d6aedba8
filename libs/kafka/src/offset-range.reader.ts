import { randomUUID } from 'node:crypto';
import type { Admin } from 'kafkajs';
import type { Logger } from 'pino';
import { toIncomingRecord, type IncomingRecord } from './consumer.runner';
import type { KafkaConnection } from './kafka.connection';

/** Records `[from, to)` of one partition (decimal-string offsets). */
export interface PartitionRange {
  readonly topic: string;
  readonly partition: number;
  readonly from: string;
  readonly to: string;
}

/** Records of one range, in offset order, and a way to stay in touch while handling them. */
export interface RangeBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: IncomingRecord[];
  heartbeat(): Promise<void>;
}

export interface ReadOptions {
  /** Stops reading early (the returned promise then resolves without finishing the ranges). */
  readonly signal?: AbortSignal;
}

/** What one partition holds now: `[low, high)`, from the log start to the high watermark. */
export interface HeldOffsets {
  readonly low: string;
  readonly high: string;
}

/**
 * Reads fixed offset ranges once, outside any shared consumer group: a consumer in a group of
 * its own (never committed, deleted afterwards) seeks to each range's start and stops each
 * partition at the range's end. Replays and redrives read with it. Each range is first clipped
 * to what its partition still holds, so a range retention removed (or one past the end) is done
 * at once instead of waiting for ever for a record that will not come.
 */
export class OffsetRangeReader {
  constructor(
    private readonly connection: KafkaConnection,
    private readonly logger: Logger,
  ) {}

  /** Hands every record of `ranges` to `handle`, batch by batch; resolves when all are read. */
  async read(
    ranges: readonly PartitionRange[],
    handle: (batch: RangeBatch) => Promise<void>,
    options: ReadOptions = {},
  ): Promise<void> {
    const asked = ranges.filter((range) => BigInt(range.to) > BigInt(range.from));
    if (asked.length === 0 || options.signal?.aborted) return;
    // One admin connection per read: the offset look-up now, the group's deletion afterwards.
    const admin = this.connection.kafka.admin();
    try {
      await admin.connect();
      const held = await this.clipToHeld(admin, asked);
      if (held.length === 0 || options.signal?.aborted) return;
      const groupId = `herald-reader-${randomUUID()}`;
      try {
        await this.readHeld(groupId, held, handle, options);
      } finally {
        await this.deleteGroup(admin, groupId);
      }
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
    groupId: string,
    ranges: readonly PartitionRange[],
    handle: (batch: RangeBatch) => Promise<void>,
    options: ReadOptions,
  ): Promise<void> {
    const pending = new Map<string, PartitionRange>();
    for (const range of ranges) pending.set(rangeKey(range), range);
    const consumer = this.connection.kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 200,
    });
    const topics = [...new Set(ranges.map((range) => range.topic))];
    let finish!: () => void;
    let fail!: (error: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      finish = resolve;
      fail = reject;
    });
    const onAbort = () => finish();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) fail(payload.error);
    });
    try {
      await consumer.connect();
      // Retention may still move a partition's start past a range's start between the look-up
      // and the fetch: kafkajs then resets the out-of-range offset to this default, the oldest
      // record held.
      await consumer.subscribe({ topics, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatch: async (payload) => {
          const { batch } = payload;
          const range = pending.get(rangeKey(batch));
          if (!range) {
            // A partition without a range (or one already read) gets one fetch for nothing.
            consumer.pause([{ topic: batch.topic, partitions: [batch.partition] }]);
            return;
          }
          const end = BigInt(range.to);
          const records = batch.messages
            .filter((m) => BigInt(m.offset) >= BigInt(range.from) && BigInt(m.offset) < end)
            .map((m) => toIncomingRecord(batch.topic, batch.partition, m));
          if (records.length > 0)
            await handle({
              topic: batch.topic,
              partition: batch.partition,
              records,
              heartbeat: () => payload.heartbeat(),
            });
          const last = batch.messages[batch.messages.length - 1];
          if (last && BigInt(last.offset) >= end - 1n) {
            pending.delete(rangeKey(batch));
            consumer.pause([{ topic: batch.topic, partitions: [batch.partition] }]);
            if (pending.size === 0) finish();
          }
        },
      });
      for (const range of pending.values())
        consumer.seek({ topic: range.topic, partition: range.partition, offset: range.from });
      await done;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      await consumer
        .disconnect()
        .catch((error: unknown) => this.logger.debug({ err: error }, 'reader disconnect failed'));
    }
  }

  private async deleteGroup(admin: Admin, groupId: string): Promise<void> {
    try {
      await admin.deleteGroups([groupId]);
    } catch (error) {
      // A leftover empty group costs the broker a few bytes; not worth failing the read over.
      this.logger.debug({ err: error, groupId }, 'could not delete the reader group');
    }
  }
}

/**
 * The part of `range` its partition still holds, or `null` when there is none (the partition
 * is unknown, empty, or holds only offsets outside the range). A range is only done when a
 * record at or past its end is fetched, so it must never reach a record that is not there.
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

function maxOffset(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function minOffset(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

function rangeKey(at: { topic: string; partition: number }): string {
  return `${at.topic}\u0000${at.partition}`;
}
