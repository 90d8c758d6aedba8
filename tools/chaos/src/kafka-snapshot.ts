import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { ConsumerRunner, OffsetLookup, type KafkaConnection } from '@herald/kafka';
import { createTestConnection } from '@herald/kafka/testing';

/** A record of a channel topic or `herald.operational`, as much as the checks need. */
export interface SnapshotRecord {
  readonly topic: string;
  readonly partition: number;
  readonly id: string;
  readonly type: string;
  /** `data.tenant` of Herald's own events. */
  readonly tenant: string | undefined;
}

function text(value: Buffer | undefined): string {
  return value === undefined ? '' : value.toString('utf8');
}

/**
 * What Kafka holds: reads the given topics from the beginning with a group of its own and keeps
 * reading, so the checks can compare every receiver and stream with the log itself (including
 * copies a retried write left behind).
 */
export class KafkaSnapshot {
  /** Event id → how many records carry it. */
  readonly copies = new Map<string, number>();
  /** Every record, in offset order per partition. */
  readonly records: SnapshotRecord[] = [];
  private readonly positions = new Map<string, bigint>();
  private readonly connection: KafkaConnection;
  private readonly runner: ConsumerRunner;
  private readonly offsets: OffsetLookup;

  constructor(
    brokers: string,
    private readonly topics: readonly string[],
  ) {
    this.connection = createTestConnection(brokers, 'silent');
    this.runner = new ConsumerRunner(this.connection, pino({ level: 'silent' }));
    this.offsets = new OffsetLookup(this.connection);
  }

  async start(): Promise<void> {
    await this.runner.run({
      groupId: `herald-chaos-snapshot-${randomUUID().slice(0, 8)}`,
      topics: [...this.topics],
      fromBeginning: true,
      commit: 'manual',
      maxWaitMs: 200,
      eachBatch: ({ topic, partition, records }) => {
        for (const record of records) {
          const id = text(record.headers['ce_id']);
          const type = text(record.headers['ce_type']);
          let tenant: string | undefined;
          if (type.startsWith('herald.') && record.value) {
            try {
              const data = JSON.parse(record.value.toString('utf8')) as { tenant?: unknown };
              if (typeof data.tenant === 'string') tenant = data.tenant;
            } catch {
              // Not JSON: no tenant to check it against.
            }
          }
          this.records.push({ topic, partition, id, type, tenant });
          this.copies.set(id, (this.copies.get(id) ?? 0) + 1);
          this.positions.set(`${topic}/${partition}`, BigInt(record.offset) + 1n);
        }
        return Promise.resolve();
      },
    });
  }

  /** True once every partition has been read up to its current end offset. */
  async caughtUp(): Promise<boolean> {
    for (const topic of this.topics) {
      for (const { partition, offset } of await this.offsets.endOffsets(topic)) {
        if ((this.positions.get(`${topic}/${partition}`) ?? 0n) < BigInt(offset)) return false;
      }
    }
    return true;
  }

  async stop(): Promise<void> {
    await this.runner.stop().catch(() => undefined);
    await this.offsets.close().catch(() => undefined);
    await this.connection.close().catch(() => undefined);
  }
}
