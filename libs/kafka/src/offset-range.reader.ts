import { randomUUID } from 'node:crypto';
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

/**
 * Reads fixed offset ranges once, outside any shared consumer group: a consumer in a group of
 * its own (never committed, deleted afterwards) seeks to each range's start and stops each
 * partition at the range's end. Replays and redrives read with it.
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
    const pending = new Map<string, PartitionRange>();
    for (const range of ranges)
      if (BigInt(range.to) > BigInt(range.from)) pending.set(rangeKey(range), range);
    if (pending.size === 0 || options.signal?.aborted) return;

    const groupId = `herald-reader-${randomUUID()}`;
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
      // A range that starts before what Kafka still holds (retention removed it) is read from
      // the oldest record held: kafkajs resets an out-of-range offset to this default.
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
      await this.deleteGroup(groupId);
    }
  }

  private async deleteGroup(groupId: string): Promise<void> {
    const admin = this.connection.kafka.admin();
    try {
      await admin.connect();
      await admin.deleteGroups([groupId]);
    } catch (error) {
      // A leftover empty group costs the broker a few bytes; not worth failing the read over.
      this.logger.debug({ err: error, groupId }, 'could not delete the reader group');
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}

function rangeKey(at: { topic: string; partition: number }): string {
  return `${at.topic}\u0000${at.partition}`;
}
