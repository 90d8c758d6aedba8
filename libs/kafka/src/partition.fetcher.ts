import type { Broker, Cluster, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import { toIncomingRecord, type IncomingRecord } from './consumer.runner';
import type { KafkaConnection } from './kafka.connection';
import { topicPartitionKey } from './topic-partition.key';

/** Where reading one partition continues: the offset of the next record (a decimal string). */
export interface PartitionPosition {
  topic: string;
  partition: number;
  offset: string;
}

/** Records of one partition from one fetch, in offset order. */
export interface FetchedBatch {
  topic: string;
  partition: number;
  records: IncomingRecord[];
  /** The partition's end offset when the batch was fetched. */
  highWatermark: string;
  /** Where the next read of this partition starts (after the last record, control records included). */
  nextOffset: string;
}

/**
 * A partition whose offset Kafka no longer holds (or never held) was moved to the nearest held
 * offset. `resumed` past `requested`: the records in between were removed (retention, a
 * DeleteRecords) and are skipped. `resumed` before it: the offset was past the end (a topic
 * recreated), and reading goes on from the end.
 */
export interface OffsetReset {
  topic: string;
  partition: number;
  /** The offset the read asked for (a decimal string). */
  requested: string;
  /** Where the partition is read from now (a decimal string). */
  resumed: string;
}

export interface PartitionFetcherOptions {
  /**
   * Told of each partition moved because its offset is no longer held, before the `read()` that
   * moved it resolves, so before any record read from the new offset. Default: none (the move
   * is logged either way).
   */
  onOffsetReset?: (reset: OffsetReset) => void;
  /** Longest one `read()` waits at the broker for new records (ms, default 500). */
  maxWaitMs?: number;
  /** Most bytes one fetch returns over all partitions (default 4 MiB). */
  maxBytes?: number;
  /** Most bytes one fetch returns per partition (default 1 MiB). */
  maxBytesPerPartition?: number;
}

type FetchOutcome =
  | { requested: Map<string, string>; ok: true; responses: FetchResponse[] }
  | { requested: Map<string, string>; ok: false; error: unknown };

interface FetchResponse {
  topicName: string;
  partitions: {
    partition: number;
    highWatermark: string;
    messages: (KafkaMessage & { isControlRecord?: boolean })[];
  }[];
}

interface KafkaError {
  name?: string;
  topic?: string;
  partition?: number;
  host?: string;
  port?: number;
}

// kafkajs builds its Cluster (metadata, leader lookup, one connection per broker, the Fetch codec)
// through a symbol-keyed factory on the client. It is not public API; kafkajs is pinned to 2.2.4
// and no longer maintained, so it will not move under us, and partition.fetcher.int-spec fails
// loudly if it does.
const CREATE_CLUSTER = 'private:Kafka:createCluster';
const RETRY_PAUSE_MS = 200;

function createCluster(kafka: Kafka): Cluster {
  const symbol = Object.getOwnPropertySymbols(kafka).find((s) => s.description === CREATE_CLUSTER);
  const factory =
    symbol === undefined ? undefined : (kafka as unknown as Record<symbol, unknown>)[symbol];
  if (typeof factory !== 'function')
    throw new Error(
      `kafkajs has no ${CREATE_CLUSTER} factory; PartitionFetcher needs kafkajs 2.2.x`,
    );
  return (factory as (options: Record<string, unknown>) => Cluster)({
    allowAutoTopicCreation: false,
    maxInFlightRequests: null,
    metadataMaxAge: 60_000,
  });
}

/**
 * Reads chosen partitions from chosen offsets with no consumer group: no joins, no commits, no
 * rebalances, so many can run at once and each starts at once (the streams' live tail and
 * catch-up readers). `read()` is one long-poll Fetch round to the partitions' leaders (in
 * parallel, one in flight per leader, answers handed back as they come). It owns its broker
 * connections, so its long polls never queue behind other requests. Not safe for concurrent
 * `read()` calls.
 */
export class PartitionFetcher {
  private readonly positions = new Map<string, PartitionPosition>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly settled: FetchOutcome[] = [];
  private readonly maxWaitMs: number;
  private readonly maxBytes: number;
  private readonly maxBytesPerPartition: number;
  private readonly onOffsetReset: ((reset: OffsetReset) => void) | undefined;
  private cluster: Cluster | undefined;
  private closed = false;

  constructor(
    private readonly connection: KafkaConnection,
    private readonly logger: Logger,
    options: PartitionFetcherOptions = {},
  ) {
    this.maxWaitMs = options.maxWaitMs ?? 500;
    this.maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
    this.maxBytesPerPartition = options.maxBytesPerPartition ?? 1024 * 1024;
    this.onOffsetReset = options.onOffsetReset;
  }

  /** Reads these partitions from these offsets (replacing earlier positions of the same partitions). */
  assign(positions: readonly PartitionPosition[]): void {
    for (const position of positions)
      this.positions.set(topicPartitionKey(position.topic, position.partition), { ...position });
  }

  /** Stops reading one partition. */
  release(topic: string, partition: number): void {
    this.positions.delete(topicPartitionKey(topic, partition));
  }

  /** Where each assigned partition's next read starts. */
  assigned(): PartitionPosition[] {
    return [...this.positions.values()].map((p) => ({ ...p }));
  }

  /**
   * One round: resolves with the batches that arrived (empty after `maxWaitMs` without records).
   * A partition whose offset is no longer held (retention) moves to the nearest held offset, is
   * logged and reported to `onOffsetReset`; broker and metadata errors are logged and retried on the next call.
   */
  async read(): Promise<FetchedBatch[]> {
    if (this.closed) return [];
    if (this.positions.size === 0) {
      await sleep(this.maxWaitMs);
      return [];
    }
    try {
      this.startFetches(await this.connect());
    } catch (error) {
      await this.recover(error);
      return [];
    }
    if (this.settled.length === 0 && this.inFlight.size > 0)
      await Promise.race(this.inFlight.values());
    const batches: FetchedBatch[] = [];
    for (const outcome of this.settled.splice(0)) {
      if (outcome.ok) batches.push(...this.accept(outcome));
      else await this.recover(outcome.error);
    }
    return batches;
  }

  /** Stops reading; waits for fetches in flight (at most `maxWaitMs`) and disconnects. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled(this.inFlight.values());
    const cluster = this.cluster;
    this.cluster = undefined;
    await cluster?.disconnect();
  }

  private async connect(): Promise<Cluster> {
    this.cluster ??= createCluster(this.connection.kafka);
    const cluster = this.cluster;
    if (!cluster.isConnected()) await cluster.connect();
    await cluster.addMultipleTargetTopics([
      ...new Set([...this.positions.values()].map((p) => p.topic)),
    ]);
    await cluster.refreshMetadataIfNecessary();
    return cluster;
  }

  private startFetches(cluster: Cluster): void {
    const byTopic = new Map<string, number[]>();
    for (const { topic, partition } of this.positions.values())
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
    const byLeader = new Map<string, Map<string, number[]>>();
    for (const [topic, partitions] of byTopic) {
      const leaders = cluster.findLeaderForPartitions(topic, partitions);
      for (const [leader, led] of Object.entries(leaders)) {
        const topics = byLeader.get(leader) ?? new Map<string, number[]>();
        topics.set(topic, led);
        byLeader.set(leader, topics);
      }
    }
    for (const [nodeId, topics] of byLeader) {
      if (this.inFlight.has(nodeId)) continue;
      const requested = new Map<string, string>();
      const request = [...topics].map(([topic, partitions]) => ({
        topic,
        partitions: partitions.map((partition) => {
          const fetchOffset = this.positions.get(topicPartitionKey(topic, partition))!.offset;
          requested.set(topicPartitionKey(topic, partition), fetchOffset);
          return { partition, fetchOffset, maxBytes: this.maxBytesPerPartition };
        }),
      }));
      const fetch = cluster
        .findBroker({ nodeId })
        .then(
          (broker: Broker) =>
            broker.fetch({
              maxWaitTime: this.maxWaitMs,
              minBytes: 1,
              maxBytes: this.maxBytes,
              topics: request,
            }) as Promise<{ responses: FetchResponse[] }>,
        )
        .then(
          ({ responses }) => {
            this.settled.push({ requested, ok: true, responses });
          },
          (error: unknown) => {
            this.settled.push({ requested, ok: false, error });
          },
        )
        .finally(() => this.inFlight.delete(nodeId));
      this.inFlight.set(nodeId, fetch);
    }
  }

  private accept(outcome: Extract<FetchOutcome, { ok: true }>): FetchedBatch[] {
    const batches: FetchedBatch[] = [];
    for (const { topicName: topic, partitions } of outcome.responses) {
      for (const { partition, highWatermark, messages } of partitions) {
        const key = topicPartitionKey(topic, partition);
        const requested = outcome.requested.get(key);
        const position = this.positions.get(key);
        // Moved or released while the fetch was in flight: the answer is for an old position.
        if (requested === undefined || position === undefined || position.offset !== requested)
          continue;
        const from = BigInt(requested);
        let next = from;
        const records: IncomingRecord[] = [];
        for (const message of messages) {
          const offset = BigInt(message.offset);
          // A compressed batch can start before the requested offset; control records
          // (transaction markers) take an offset but are not events.
          if (offset < from) continue;
          if (offset + 1n > next) next = offset + 1n;
          if (!message.isControlRecord) records.push(toIncomingRecord(topic, partition, message));
        }
        position.offset = next.toString();
        if (next > from)
          batches.push({ topic, partition, records, highWatermark, nextOffset: position.offset });
      }
    }
    return batches;
  }

  private async recover(error: unknown): Promise<void> {
    const e = (error ?? {}) as KafkaError;
    const cluster = this.cluster;
    if (
      e.name === 'KafkaJSOffsetOutOfRange' &&
      e.topic !== undefined &&
      e.partition !== undefined
    ) {
      const { topic, partition } = e;
      await this.resetOutOfRange(topic, partition).catch((resetError: unknown) =>
        this.logger.warn({ err: resetError, topic, partition }, 'offset reset failed'),
      );
      return;
    }
    if (this.closed) return;
    this.logger.debug({ err: error }, 'partition fetch failed; retrying');
    if (e.name === 'KafkaJSConnectionClosedError' && e.host !== undefined && e.port !== undefined)
      cluster?.removeBroker({ host: e.host, port: e.port });
    // Leaders move, topics appear: a fresh view of the cluster before the next round.
    await cluster?.refreshMetadata().catch(() => undefined);
    await sleep(RETRY_PAUSE_MS);
  }

  private async resetOutOfRange(topic: string, partition: number): Promise<void> {
    const cluster = this.cluster;
    const position = this.positions.get(topicPartitionKey(topic, partition));
    if (!cluster || !position) return;
    const [low] = await cluster.fetchTopicsOffset([
      { topic, partitions: [{ partition }], fromBeginning: true },
    ]);
    const [high] = await cluster.fetchTopicsOffset([
      { topic, partitions: [{ partition }], fromBeginning: false },
    ]);
    const earliest = BigInt(low?.partitions[0]?.offset ?? '0');
    const latest = BigInt(high?.partitions[0]?.offset ?? '0');
    const wanted = BigInt(position.offset);
    const offset = wanted < earliest ? earliest : wanted > latest ? latest : wanted;
    const requested = position.offset;
    this.logger.warn(
      { topic, partition, wanted: requested, offset: offset.toString() },
      'offset no longer held; reading from the nearest held offset',
    );
    position.offset = offset.toString();
    // Only a real move: the offset can be held again by now (a record written to an empty log).
    if (offset !== wanted)
      this.onOffsetReset?.({ topic, partition, requested, resumed: position.offset });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
