import type { BrokerStorage, TopicConfig, TopicMetadata } from '../storage/storage.types';
import { KafkaErrorCode } from '../protocol/protocol.errors';
import type { AppendSignal } from '../fetch/append-signal';

const LEGAL_TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** Kafka's topic name rule: 1..249 of [a-zA-Z0-9._-], and not "." or "..". */
export function isValidTopicName(name: string): boolean {
  return LEGAL_TOPIC_NAME.test(name) && name !== '.' && name !== '..';
}

export type TopicLookup =
  { topic: TopicMetadata; errorCode: 0 } | { topic: undefined; errorCode: number };

const DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000;

/**
 * Most partitions a topic may have, at creation or grown: each costs memory and a segment, and
 * 100,000 of them blocked the broker for 17 s.
 */
export const MAX_PARTITIONS_PER_TOPIC = 10_000;

/** Topic configs we describe; the two retention keys are acted on, the others only reported. */
const DESCRIBED_DEFAULTS: Record<string, string> = {
  'cleanup.policy': 'delete',
  'compression.type': 'producer',
  'max.message.bytes': '1048588',
  'message.timestamp.type': 'CreateTime',
  'min.insync.replicas': '1',
  'segment.bytes': '67108864',
};

export interface DescribedConfig {
  name: string;
  value: string | null;
  isDefault: boolean;
  readOnly: boolean;
}

/** Creates, finds and describes topics on top of storage, with Kafka's naming and config rules. */
export class TopicCatalog {
  constructor(
    private readonly storage: BrokerStorage,
    private readonly appendSignal: AppendSignal,
    private readonly defaults: { autoCreateTopics: boolean; defaultPartitions: number },
  ) {}

  find(name: string, autoCreate: boolean): TopicLookup {
    const existing = this.storage.topic(name);
    if (existing) return { topic: existing, errorCode: 0 };
    if (!isValidTopicName(name))
      return { topic: undefined, errorCode: KafkaErrorCode.INVALID_TOPIC_EXCEPTION };
    if (!autoCreate || !this.defaults.autoCreateTopics) {
      return { topic: undefined, errorCode: KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
    }
    return { topic: this.storage.createTopic(name, this.defaults.defaultPartitions), errorCode: 0 };
  }

  byId(topicId: Buffer): TopicMetadata | undefined {
    return this.storage.topics().find((t) => t.topicId.equals(topicId));
  }

  /** Validates a CreateTopics entry; returns an error code and message, or the config to create with. */
  prepareCreate(
    name: string,
    partitions: number,
    replicationFactor: number,
    configs: { name: string; value: string | null }[],
  ): {
    errorCode: number;
    message: string | null;
    partitions: number;
    config: Partial<TopicConfig>;
  } {
    const fail = (errorCode: number, message: string) => ({
      errorCode,
      message,
      partitions: 0,
      config: {},
    });
    if (!isValidTopicName(name))
      return fail(KafkaErrorCode.INVALID_TOPIC_EXCEPTION, `illegal topic name "${name}"`);
    if (this.storage.topic(name))
      return fail(KafkaErrorCode.TOPIC_ALREADY_EXISTS, `topic "${name}" already exists`);
    const count = partitions === -1 ? this.defaults.defaultPartitions : partitions;
    if (count < 1 || count > MAX_PARTITIONS_PER_TOPIC)
      return fail(KafkaErrorCode.INVALID_PARTITIONS, `invalid partition count ${partitions}`);
    if (replicationFactor !== -1 && replicationFactor !== 1) {
      return fail(
        KafkaErrorCode.INVALID_REPLICATION_FACTOR,
        'a single broker can only hold replication factor 1',
      );
    }
    const config: Partial<TopicConfig> = { extra: {} };
    for (const entry of configs) {
      if (entry.value === null) continue;
      if (entry.name === 'retention.ms' || entry.name === 'retention.bytes') {
        const value = Number(entry.value);
        if (!Number.isInteger(value) || value < -1) {
          return fail(
            KafkaErrorCode.INVALID_CONFIG,
            `invalid value "${entry.value}" for ${entry.name}`,
          );
        }
        if (entry.name === 'retention.ms') config.retentionMs = value;
        else config.retentionBytes = value;
      } else (config.extra as Record<string, string>)[entry.name] = entry.value;
    }
    return { errorCode: 0, message: null, partitions: count, config };
  }

  create(name: string, partitions: number, config: Partial<TopicConfig>): TopicMetadata {
    return this.storage.createTopic(name, partitions, config);
  }

  delete(name: string): void {
    const topic = this.storage.topic(name);
    this.storage.deleteTopic(name);
    // Long-polling fetches on the topic's partitions should notice it is gone.
    if (topic) for (let p = 0; p < topic.partitions; p++) this.appendSignal.notify(name, p);
  }

  describe(topic: TopicMetadata): DescribedConfig[] {
    const { retentionMs, retentionBytes, extra } = topic.config;
    const entries: DescribedConfig[] = [
      {
        name: 'retention.ms',
        value: String(retentionMs),
        isDefault: retentionMs === DEFAULT_RETENTION_MS,
        readOnly: false,
      },
      {
        name: 'retention.bytes',
        value: String(retentionBytes),
        isDefault: retentionBytes === -1,
        readOnly: false,
      },
    ];
    for (const [name, value] of Object.entries(DESCRIBED_DEFAULTS)) {
      const set = extra[name];
      entries.push({ name, value: set ?? value, isDefault: set === undefined, readOnly: false });
    }
    for (const [name, value] of Object.entries(extra)) {
      if (!(name in DESCRIBED_DEFAULTS))
        entries.push({ name, value, isDefault: false, readOnly: false });
    }
    return entries;
  }
}
