import type { FsyncPolicy } from './storage/storage.types';
import type { BrokerLogger } from './broker.logger';

export interface BrokerOptions {
  /** TCP port; 0 picks a free one. Default 9092. */
  port?: number;
  /** Interface to bind. Default 127.0.0.1. */
  host?: string;
  /** Host name clients are told to connect to (Metadata, FindCoordinator). Default: `host`, or 127.0.0.1 for a wildcard bind. */
  advertisedHost?: string;
  /** Data folder; unset keeps everything in memory. */
  dataDir?: string;
  /** When appended data is forced to disk. Default `{ mode: 'never' }` (survives SIGKILL, not power loss). */
  fsync?: FsyncPolicy;
  /** Create unknown topics on Metadata and Produce. Default true. */
  autoCreateTopics?: boolean;
  /** Partitions of auto-created topics and of CreateTopics asking for -1. Default 1. */
  defaultPartitions?: number;
  /** Largest request frame accepted, in bytes; larger ones close the connection. Default 100 MiB (Kafka's socket.request.max.bytes). */
  maxFrameBytes?: number;
  /**
   * Longest a Fetch may wait for data, in ms, whatever its maxWaitMs asks; the answer is then
   * empty, which clients take as "nothing yet" and fetch again. Default 30000.
   */
  maxFetchWaitMs?: number;
  /** Largest record batch accepted, in bytes. Default 1 MiB + 12 (Kafka's message.max.bytes). */
  maxMessageBytes?: number;
  /** Session timeouts a group member may ask for, in ms. Default 1000 … 3600000. */
  minSessionTimeoutMs?: number;
  maxSessionTimeoutMs?: number;
  /** How long the first rebalance of an empty group waits for more members, in ms. Default 300. */
  initialRebalanceDelayMs?: number;
  /** How often retention runs, in ms. Default 5 minutes. */
  retentionCheckIntervalMs?: number;
  /** Roll a partition's segment at this many bytes (retention removes whole segments). Default 64 MiB. */
  segmentBytes?: number;
  /** Node id reported to clients. Default 1. */
  nodeId?: number;
  /** Cluster id reported in Metadata. Default "herald-embedded". */
  clusterId?: string;
  /**
   * SASL/PLAIN users (name → password). When set, a connection must authenticate before anything
   * but ApiVersions and the SASL requests. Default: no authentication (and no SASL APIs advertised).
   */
  saslPlainUsers?: Record<string, string>;
  /** Where JSON log lines go. Default: JSON lines on stderr. */
  logger?: BrokerLogger;
}

export type ResolvedBrokerOptions = Required<
  Omit<BrokerOptions, 'dataDir' | 'advertisedHost' | 'saslPlainUsers' | 'segmentBytes'>
> & {
  dataDir: string | undefined;
  segmentBytes: number | undefined;
  advertisedHost: string | undefined;
  saslPlainUsers: Record<string, string> | undefined;
};

export function resolveBrokerOptions(
  options: BrokerOptions,
  defaultLogger: BrokerLogger,
): ResolvedBrokerOptions {
  return {
    port: options.port ?? 9092,
    host: options.host ?? '127.0.0.1',
    advertisedHost: options.advertisedHost,
    dataDir: options.dataDir,
    segmentBytes: options.segmentBytes,
    saslPlainUsers: options.saslPlainUsers,
    fsync: options.fsync ?? { mode: 'never' },
    autoCreateTopics: options.autoCreateTopics ?? true,
    defaultPartitions: options.defaultPartitions ?? 1,
    maxFrameBytes: options.maxFrameBytes ?? 100 * 1024 * 1024,
    maxMessageBytes: options.maxMessageBytes ?? 1024 * 1024 + 12,
    maxFetchWaitMs: options.maxFetchWaitMs ?? 30_000,
    minSessionTimeoutMs: options.minSessionTimeoutMs ?? 1000,
    maxSessionTimeoutMs: options.maxSessionTimeoutMs ?? 3_600_000,
    initialRebalanceDelayMs: options.initialRebalanceDelayMs ?? 300,
    retentionCheckIntervalMs: options.retentionCheckIntervalMs ?? 5 * 60_000,
    nodeId: options.nodeId ?? 1,
    clusterId: options.clusterId ?? 'herald-embedded',
    logger: options.logger ?? defaultLogger,
  };
}
