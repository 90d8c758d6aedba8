import type { Admin } from 'kafkajs';
import type { Logger } from 'pino';
import type { KafkaConnection } from './kafka.connection';

export interface TopicSpec {
  topic: string;
  partitions: number;
  /** Topic configs for a new topic (`retention.ms`, `cleanup.policy`, ...); existing topics keep theirs. */
  config?: Record<string, string>;
}

export interface ProvisionedTopic {
  topic: string;
  /** `created`: it did not exist; `grown`: it had fewer partitions than wanted; `exists`: left as it was. */
  outcome: 'created' | 'grown' | 'exists';
  partitions: number;
}

/** Creates the topics a process needs at start, and grows those with too few partitions. */
export class TopicProvisioner {
  constructor(
    private readonly connection: KafkaConnection,
    private readonly logger: Logger,
  ) {}

  /**
   * Idempotent: existing topics are fine. A topic with fewer partitions than wanted is grown (and
   * logged, because keys then map to different partitions); one with more is left alone.
   */
  async ensureTopics(specs: readonly TopicSpec[]): Promise<ProvisionedTopic[]> {
    if (specs.length === 0) return [];
    return this.withAdmin(async (admin) => {
      const before = await this.counts(
        admin,
        specs.map((s) => s.topic),
      );
      const missing = specs.filter((s) => !before.has(s.topic));
      if (missing.length > 0)
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((s) => ({
            topic: s.topic,
            numPartitions: s.partitions,
            configEntries: Object.entries(s.config ?? {}).map(([name, value]) => ({ name, value })),
          })),
        });
      const short = specs.filter((s) => (before.get(s.topic) ?? s.partitions) < s.partitions);
      if (short.length > 0) {
        for (const s of short)
          this.logger.warn(
            { topic: s.topic, partitions: before.get(s.topic), wanted: s.partitions },
            'topic has fewer partitions than wanted; growing it (keys will map to new partitions)',
          );
        await admin.createPartitions({
          topicPartitions: short.map((s) => ({ topic: s.topic, count: s.partitions })),
        });
      }
      for (const s of missing)
        this.logger.info({ topic: s.topic, partitions: s.partitions }, 'topic created');
      return specs.map((s): ProvisionedTopic => {
        const existing = before.get(s.topic);
        if (existing === undefined)
          return { topic: s.topic, outcome: 'created', partitions: s.partitions };
        if (existing < s.partitions)
          return { topic: s.topic, outcome: 'grown', partitions: s.partitions };
        return { topic: s.topic, outcome: 'exists', partitions: existing };
      });
    });
  }

  /** Partition count of each topic that exists; missing topics are absent from the map. */
  topicPartitionCounts(topics: readonly string[]): Promise<Map<string, number>> {
    return this.withAdmin((admin) => this.counts(admin, topics));
  }

  private async counts(admin: Admin, topics: readonly string[]): Promise<Map<string, number>> {
    const wanted = new Set(topics);
    // listTopics first: asking metadata for a missing topic is an error in kafkajs.
    const existing = (await admin.listTopics()).filter((t) => wanted.has(t));
    const counts = new Map<string, number>();
    if (existing.length === 0) return counts;
    const { topics: metadata } = await admin.fetchTopicMetadata({ topics: existing });
    for (const t of metadata) counts.set(t.name, t.partitions.length);
    return counts;
  }

  private async withAdmin<T>(work: (admin: Admin) => Promise<T>): Promise<T> {
    const admin = this.connection.kafka.admin();
    await admin.connect();
    try {
      return await work(admin);
    } finally {
      await admin.disconnect();
    }
  }
}
