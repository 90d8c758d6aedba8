// The broker's storage: topics with their partition logs, committed group offsets and producer
// ids, in a data folder or in memory.
//
// Folder layout:
//   topics.json                       topic catalog (name, id, partitions, config)
//   producer-ids.json                 end of the producer id block reserved so far
//   committed-offsets.log             JSON lines of group offset commits
//   topics/<topic id hex>/<partition>/<base offset>.{log,index,timeindex,snapshot}
// Partition folders are named by topic id, so a topic deleted and created again under the same
// name never meets its predecessor's files.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CommittedOffsetsStore } from './committed-offsets.store';
import { FilePartitionStore } from './file-segment.store';
import { DataDirLock } from './data-dir.lock';
import { FsyncScheduler } from './fsync.scheduler';
import { MemoryPartitionStore } from './memory-segment.store';
import {
  SegmentedPartitionLog,
  type PartitionLogSettings,
  type RecoveredTail,
} from './partition-log';
import { ProducerIdStore } from './producer-id.store';
import type { PartitionStore } from './segment.store';
import {
  InvalidPartitionsError,
  InvalidStorageOptionError,
  StorageClosedError,
  TopicExistsError,
  UnknownTopicError,
} from './storage.errors';
import type {
  BrokerStorage,
  CommittedOffset,
  FsyncPolicy,
  PartitionLog,
  StorageOptions,
  TopicConfig,
  TopicMetadata,
} from './storage.types';
import { TopicCatalogStore } from './topic-catalog.store';

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
export const DEFAULT_SEGMENT_MS = 7 * 24 * 60 * 60 * 1000;
export const DEFAULT_INDEX_INTERVAL_BYTES = 4096;
export const DEFAULT_FSYNC_POLICY: FsyncPolicy = { mode: 'never' };
export const DEFAULT_FSYNC_INTERVAL_MS = 1000;
/** Index positions are int32 and an append may overshoot the roll size; 1 GiB leaves room. */
export const MAX_SEGMENT_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_TOPIC_CONFIG: TopicConfig = {
  retentionMs: 7 * 24 * 60 * 60 * 1000,
  retentionBytes: -1,
  extra: {},
};

const TOPICS_DIR = 'topics';

interface TopicEntry {
  metadata: TopicMetadata;
  logs: SegmentedPartitionLog[];
}

/** A tail cut off at open, with the partition it belonged to. */
export interface PartitionRecoveredTail extends RecoveredTail {
  topic: string;
  partition: number;
}

export async function openStorage(options: StorageOptions): Promise<LogBrokerStorage> {
  return Promise.resolve(LogBrokerStorage.open(options));
}

export class LogBrokerStorage implements BrokerStorage {
  private readonly topicsByName = new Map<string, TopicEntry>();
  private closed = false;

  private constructor(
    private readonly dataDir: string | undefined,
    private readonly lock: DataDirLock | null,
    private readonly settings: Omit<PartitionLogSettings, 'fsync'>,
    private readonly fsync: FsyncScheduler,
    private readonly catalog: TopicCatalogStore,
    private readonly offsets: CommittedOffsetsStore,
    private readonly producerIds: ProducerIdStore,
  ) {}

  static open(options: StorageOptions): LogBrokerStorage {
    const settings = validateOptions(options);
    const dataDir = options.dataDir === undefined ? undefined : path.resolve(options.dataDir);
    if (dataDir !== undefined) fs.mkdirSync(path.join(dataDir, TOPICS_DIR), { recursive: true });
    const lock = dataDir === undefined ? null : DataDirLock.acquire(dataDir);
    const policy = normalisePolicy(options.fsync ?? DEFAULT_FSYNC_POLICY);
    const onError = options.onBackgroundError ?? ((error: Error) => process.emitWarning(error));
    const fsync = new FsyncScheduler(policy, onError);
    try {
      const storage = new LogBrokerStorage(
        dataDir,
        lock,
        settings,
        fsync,
        new TopicCatalogStore(dataDir),
        new CommittedOffsetsStore(dataDir, fsync),
        new ProducerIdStore(dataDir),
      );
      storage.loadTopics();
      return storage;
    } catch (error) {
      fsync.stop();
      lock?.release();
      throw error;
    }
  }

  topics(): TopicMetadata[] {
    return [...this.topicsByName.values()].map((entry) => entry.metadata);
  }

  topic(name: string): TopicMetadata | undefined {
    return this.topicsByName.get(name)?.metadata;
  }

  createTopic(name: string, partitions: number, config: Partial<TopicConfig> = {}): TopicMetadata {
    this.assertOpen();
    if (this.topicsByName.has(name)) throw new TopicExistsError(name);
    assertPartitionCount(partitions);
    const metadata: TopicMetadata = {
      name,
      topicId: newTopicId(),
      partitions,
      config: {
        retentionMs: config.retentionMs ?? DEFAULT_TOPIC_CONFIG.retentionMs,
        retentionBytes: config.retentionBytes ?? DEFAULT_TOPIC_CONFIG.retentionBytes,
        extra: { ...config.extra },
      },
    };
    const entry: TopicEntry = { metadata, logs: [] };
    for (let partition = 0; partition < partitions; partition++)
      entry.logs.push(this.openPartition(metadata, partition));
    this.topicsByName.set(name, entry);
    this.saveCatalog();
    return metadata;
  }

  deleteTopic(name: string): void {
    this.assertOpen();
    const entry = this.topicsByName.get(name);
    if (entry === undefined) throw new UnknownTopicError(name);
    this.topicsByName.delete(name);
    // The catalog forgets the topic first; a crash before the files are gone leaves an orphan
    // folder that the next open removes.
    this.saveCatalog();
    this.offsets.deleteTopic(name);
    for (const log of entry.logs) log.remove();
    if (this.dataDir !== undefined)
      fs.rmSync(this.topicDir(entry.metadata), { recursive: true, force: true });
  }

  /** Grows a topic to `partitions`; like Kafka, asking for no more than it has is an error. */
  addPartitions(name: string, partitions: number): TopicMetadata {
    this.assertOpen();
    const entry = this.topicsByName.get(name);
    if (entry === undefined) throw new UnknownTopicError(name);
    assertPartitionCount(partitions);
    if (partitions <= entry.metadata.partitions) {
      throw new InvalidPartitionsError(
        `topic '${name}' has ${entry.metadata.partitions} partitions; cannot change to ${partitions}`,
      );
    }
    const metadata: TopicMetadata = { ...entry.metadata, partitions };
    for (let partition = entry.logs.length; partition < partitions; partition++) {
      entry.logs.push(this.openPartition(metadata, partition));
    }
    entry.metadata = metadata;
    this.saveCatalog();
    return metadata;
  }

  partition(topic: string, partition: number): PartitionLog | undefined {
    return this.topicsByName.get(topic)?.logs[partition];
  }

  commitOffsets(
    group: string,
    offsets: { topic: string; partition: number; value: CommittedOffset }[],
  ): void {
    this.assertOpen();
    this.offsets.commit(group, offsets);
  }

  committedOffset(group: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.offsets.get(group, topic, partition);
  }

  committedGroups(): string[] {
    return this.offsets.groupNames();
  }

  committedOffsetsOf(
    group: string,
  ): { topic: string; partition: number; value: CommittedOffset }[] {
    return this.offsets.offsetsOf(group);
  }

  deleteGroupOffsets(group: string): void {
    this.assertOpen();
    this.offsets.deleteGroup(group);
  }

  allocateProducerId(): bigint {
    this.assertOpen();
    return this.producerIds.allocate();
  }

  applyRetention(nowMs: number): number {
    let removed = 0;
    for (const entry of this.topicsByName.values()) {
      for (const log of entry.logs) removed += log.applyRetention(entry.metadata.config, nowMs);
    }
    return removed;
  }

  /** Tails cut off at open because they were torn or failed their CRC, for the broker to log. */
  recoveredTails(): PartitionRecoveredTail[] {
    const tails: PartitionRecoveredTail[] = [];
    for (const entry of this.topicsByName.values()) {
      for (const log of entry.logs) {
        for (const tail of log.recoveredTails)
          tails.push({ topic: log.topic, partition: log.partition, ...tail });
      }
    }
    return tails;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fsync.stop();
    if (this.fsync.policy.mode !== 'never') await this.fsync.flush();
    for (const entry of this.topicsByName.values()) {
      for (const log of entry.logs) {
        if (this.fsync.policy.mode !== 'never') await log.sync();
        log.close();
      }
    }
    this.offsets.close();
    this.lock?.release();
  }

  private loadTopics(): void {
    const topics = this.catalog.load();
    for (const metadata of topics) {
      const entry: TopicEntry = { metadata, logs: [] };
      for (let partition = 0; partition < metadata.partitions; partition++) {
        entry.logs.push(this.openPartition(metadata, partition));
      }
      this.topicsByName.set(metadata.name, entry);
    }
    if (this.dataDir !== undefined) this.removeOrphanFolders(topics);
  }

  /** Removes folders of topics and partitions the catalog does not know: interrupted deletes and creates. */
  private removeOrphanFolders(topics: TopicMetadata[]): void {
    const root = path.join(this.dataDir!, TOPICS_DIR);
    const known = new Map(topics.map((topic) => [topic.topicId.toString('hex'), topic]));
    for (const name of fs.readdirSync(root)) {
      const topic = known.get(name);
      if (topic === undefined) {
        fs.rmSync(path.join(root, name), { recursive: true, force: true });
        continue;
      }
      for (const partitionName of fs.readdirSync(path.join(root, name))) {
        const partition = Number(partitionName);
        if (!Number.isInteger(partition) || partition >= topic.partitions) {
          fs.rmSync(path.join(root, name, partitionName), { recursive: true, force: true });
        }
      }
    }
  }

  private openPartition(metadata: TopicMetadata, partition: number): SegmentedPartitionLog {
    const store: PartitionStore =
      this.dataDir === undefined
        ? new MemoryPartitionStore()
        : new FilePartitionStore(
            path.join(this.topicDir(metadata), String(partition)),
            this.fsync.policy.mode !== 'never',
          );
    return SegmentedPartitionLog.open(metadata.name, partition, store, {
      ...this.settings,
      fsync: this.fsync,
    });
  }

  private topicDir(metadata: TopicMetadata): string {
    return path.join(this.dataDir!, TOPICS_DIR, metadata.topicId.toString('hex'));
  }

  private saveCatalog(): void {
    this.catalog.save(this.topics());
  }

  private assertOpen(): void {
    if (this.closed) throw new StorageClosedError('broker storage');
  }
}

function validateOptions(options: StorageOptions): Omit<PartitionLogSettings, 'fsync'> {
  const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  const segmentMs = options.segmentMs ?? DEFAULT_SEGMENT_MS;
  if (!Number.isFinite(segmentMs) || segmentMs < 1) {
    throw new InvalidStorageOptionError('segmentMs must be a positive number');
  }
  const indexIntervalBytes = options.indexIntervalBytes ?? DEFAULT_INDEX_INTERVAL_BYTES;
  if (!Number.isInteger(segmentBytes) || segmentBytes < 1 || segmentBytes > MAX_SEGMENT_BYTES) {
    throw new InvalidStorageOptionError(
      `segmentBytes must be an integer from 1 to ${MAX_SEGMENT_BYTES}`,
    );
  }
  if (!Number.isInteger(indexIntervalBytes) || indexIntervalBytes < 0) {
    throw new InvalidStorageOptionError('indexIntervalBytes must be a non-negative integer');
  }
  const leaderEpoch = options.leaderEpoch;
  if (
    leaderEpoch !== undefined &&
    (!Number.isInteger(leaderEpoch) || leaderEpoch < -1 || leaderEpoch > 2147483647)
  ) {
    throw new InvalidStorageOptionError('leaderEpoch must be an int32 of at least -1');
  }
  return { segmentBytes, segmentMs, indexIntervalBytes, leaderEpoch };
}

function normalisePolicy(policy: FsyncPolicy): FsyncPolicy {
  if (policy.mode !== 'interval') return policy;
  const intervalMs =
    Number.isFinite(policy.intervalMs) && policy.intervalMs > 0
      ? policy.intervalMs
      : DEFAULT_FSYNC_INTERVAL_MS;
  return { mode: 'interval', intervalMs };
}

function assertPartitionCount(partitions: number): void {
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new InvalidPartitionsError(
      `partition count must be a positive integer, got ${partitions}`,
    );
  }
}

/** A random 16-byte id; all zeros is Kafka's "no id" and is never returned. */
function newTopicId(): Buffer {
  for (;;) {
    const id = randomBytes(16);
    if (id.some((byte) => byte !== 0)) return id;
  }
}
