// The contract between the broker's protocol layer and its storage. The protocol layer only ever
// talks to storage through these types; storage knows nothing of requests or connections.

/** How often appended data is forced to disk. */
export type FsyncPolicy =
  /** fsync after every append, before the produce is acknowledged (slowest, safest). */
  | { mode: 'always' }
  /** fsync at most every `intervalMs` (default 1000); a crash can lose that window only on power loss. */
  | { mode: 'interval'; intervalMs: number }
  /** Leave it to the OS page cache; survives a process SIGKILL, not a power cut. */
  | { mode: 'never' };

export interface StorageOptions {
  /** Folder holding all data; `undefined` keeps everything in memory (tests). */
  dataDir?: string;
  /** Roll a new segment when the active one reaches this many bytes (1 to 1 GiB). Default 64 MiB. */
  segmentBytes?: number;
  /**
   * Roll a new segment once an append's timestamp is this many ms past the active segment's first
   * batch, so time retention reaches quiet topics too. Default 7 days.
   */
  segmentMs?: number;
  /** One sparse index entry per this many bytes of batches. Default 4096. */
  indexIntervalBytes?: number;
  /**
   * Written into each appended batch's partitionLeaderEpoch field (outside the CRC), as a Kafka
   * leader does. Default: keep what the producer sent.
   */
  leaderEpoch?: number;
  /** Default `{ mode: 'never' }`: every append is handed to the OS before it resolves. */
  fsync?: FsyncPolicy;
  /**
   * Called with failures of work no caller waits for (interval fsyncs). Default: a process
   * warning.
   */
  onBackgroundError?: (error: Error) => void;
}

/** Per-topic settings; retention applies to closed segments only. */
export interface TopicConfig {
  /** Delete closed segments whose newest record is older than this; -1 keeps forever. Default 7 days. */
  retentionMs: number;
  /** Delete the oldest closed segments while the partition is larger than this; -1 = no limit. */
  retentionBytes: number;
  /** Other Kafka topic configs we store and describe but do not act on (`cleanup.policy`, …). */
  extra: Record<string, string>;
}

export interface TopicMetadata {
  name: string;
  /** Stable 16-byte id, as Kafka's Uuid (Metadata v10+ / Fetch v13+). */
  topicId: Buffer;
  partitions: number;
  config: TopicConfig;
}

export interface AppendResult {
  baseOffset: bigint;
  lastOffset: bigint;
  logStartOffset: bigint;
}

/** The decoded header of a stored record batch (magic v2), without its records. */
export interface BatchHeader {
  baseOffset: bigint;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: bigint;
  maxTimestamp: bigint;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

/** Last sequence seen from an idempotent producer on one partition (rebuilt from the log at open). */
export interface ProducerState {
  producerId: bigint;
  producerEpoch: number;
  /** Sequence of the last record of the last batch appended. */
  lastSequence: number;
  /** Offsets of the last batch appended, so a retried duplicate can be answered with them. */
  lastBaseOffset: bigint;
  lastLastOffset: bigint;
  /**
   * The last (up to five) batches appended by this producer epoch, oldest first, so a retry of any
   * request still in flight can be recognised and answered with its original offsets.
   */
  batches: ProducerBatch[];
}

/** One batch an idempotent producer appended. */
export interface ProducerBatch {
  firstSequence: number;
  lastSequence: number;
  baseOffset: bigint;
  lastOffset: bigint;
}

export interface PartitionLog {
  readonly topic: string;
  readonly partition: number;
  /** First offset still held. */
  logStartOffset(): bigint;
  /** The next offset to be assigned (= high watermark on a single node). */
  nextOffset(): bigint;
  /** Total bytes held by this partition's segments. */
  sizeBytes(): number;
  /**
   * Appends record batches exactly as received (magic v2). The log writes the assigned base offset
   * into each batch's first 8 bytes (not covered by the CRC); nothing else is re-encoded.
   * Resolves once the fsync policy is satisfied. Rejects with `CorruptRecordError` for a bad CRC
   * or framing.
   */
  append(batches: Buffer): Promise<AppendResult>;
  /**
   * Raw batch bytes starting with the batch that contains `offset`, whole batches only, up to
   * `maxBytes` — but at least one whole batch when any exists at or after `offset`, as Kafka does.
   */
  read(offset: bigint, maxBytes: number): Buffer;
  /** The earliest batch whose max timestamp is >= `timestampMs`: its first offset at or after that time. */
  offsetForTimestamp(timestampMs: bigint): { offset: bigint; timestamp: bigint } | null;
  /** Idempotent-producer state for this partition, keyed by producer id. */
  producerStates(): Map<bigint, ProducerState>;
  /** Applies retention now; returns the number of segments removed. */
  applyRetention(config: TopicConfig, nowMs: number): number;
}

export interface CommittedOffset {
  offset: bigint;
  leaderEpoch: number;
  metadata: string | null;
  commitTimestampMs: number;
}

export interface BrokerStorage {
  topics(): TopicMetadata[];
  topic(name: string): TopicMetadata | undefined;
  createTopic(name: string, partitions: number, config?: Partial<TopicConfig>): TopicMetadata;
  deleteTopic(name: string): void;
  /** Grows a topic to `partitions` (never shrinks). */
  addPartitions(name: string, partitions: number): TopicMetadata;
  partition(topic: string, partition: number): PartitionLog | undefined;

  /** Committed consumer-group offsets, durable across restarts. */
  commitOffsets(
    group: string,
    offsets: { topic: string; partition: number; value: CommittedOffset }[],
  ): void;
  committedOffset(group: string, topic: string, partition: number): CommittedOffset | undefined;
  /** Every group with committed offsets and what it holds. */
  committedGroups(): string[];
  committedOffsetsOf(group: string): { topic: string; partition: number; value: CommittedOffset }[];
  deleteGroupOffsets(group: string): void;

  /** Next idempotent producer id; durable so ids are never reused after a restart. */
  allocateProducerId(): bigint;

  /** Runs retention over every partition; the broker calls it on a timer. */
  applyRetention(nowMs: number): number;
  /** Flushes and closes files. */
  close(): Promise<void>;
}
