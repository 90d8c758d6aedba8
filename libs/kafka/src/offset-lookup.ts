import type { Admin } from 'kafkajs';
import type { KafkaConnection } from './kafka.connection';

/** One partition's offset as a decimal string (Kafka offsets are 64-bit). */
export interface PartitionOffsetAt {
  readonly partition: number;
  readonly offset: string;
}

/**
 * Offset look-ups without a consumer group (ListOffsets): where a time starts in each partition
 * and where each partition ends now. Replays and redrives use them to bound what they read.
 */
export class OffsetLookup {
  private admin: Admin | undefined;
  private connecting: Promise<void> | undefined;

  constructor(private readonly connection: KafkaConnection) {}

  /**
   * Per partition, the offset of the first record written at or after `timestampMs`, or the
   * end offset when there is none yet.
   */
  async offsetsAt(topic: string, timestampMs: number): Promise<PartitionOffsetAt[]> {
    const admin = await this.connect();
    const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, timestampMs);
    return offsets.map(({ partition, offset }) => ({ partition, offset }));
  }

  /** Per partition, the offset the next record will get (the high watermark). */
  async endOffsets(topic: string): Promise<PartitionOffsetAt[]> {
    const admin = await this.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.map(({ partition, high }) => ({ partition, offset: high }));
  }

  /** Per partition, the oldest offset Kafka still holds. */
  async startOffsets(topic: string): Promise<PartitionOffsetAt[]> {
    const admin = await this.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.map(({ partition, low }) => ({ partition, offset: low }));
  }

  async close(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    this.connecting = undefined;
    await admin?.disconnect();
  }

  private async connect(): Promise<Admin> {
    this.admin ??= this.connection.kafka.admin();
    this.connecting ??= this.admin.connect().catch((error: unknown) => {
      this.connecting = undefined;
      throw error;
    });
    await this.connecting;
    return this.admin;
  }
}
