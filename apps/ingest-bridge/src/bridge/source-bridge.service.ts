import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { ContractRegistry } from '@herald/contract';
import {
  ConsumerRunner,
  HERALD_TOPICS,
  KafkaConnection,
  KafkaPublisher,
  TopicProvisioner,
  type IncomingBatch,
  type TopicSpec,
} from '@herald/kafka';
import { LOGGER, MetricsRegistry, ReadinessRegistry, type Logger } from '@herald/observability';
import type { IngestConfig } from '../ingest/ingest.config';
import { CONTRACT, INGEST_CONFIG } from '../ingest/ingest.tokens';
import { BridgeMetrics } from './bridge.metrics';
import { mapSourceRecord, type MapperLimits } from './source-record.mapper';

/** The consumer group of the Kafka→Kafka bridge (SPEC §4). */
export const BRIDGE_GROUP = 'herald-ingest-bridge';

/**
 * Reads producers' raw source topics, validates each record against the contract, and writes
 * it as a CloudEvent to its channel topic (same key, so same order) or to `herald.dlq.ingest`.
 * A batch's offsets are committed only after every write of the batch is acknowledged.
 */
@Injectable()
export class SourceBridgeService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private runner: ConsumerRunner | undefined;

  constructor(
    @Inject(CONTRACT) private readonly contract: ContractRegistry,
    @Inject(KafkaPublisher) private readonly publisher: KafkaPublisher,
    @Inject(BridgeMetrics) private readonly metrics: BridgeMetrics,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(KafkaConnection) connection: KafkaConnection,
    @Inject(MetricsRegistry) registry: MetricsRegistry,
    @Inject(TopicProvisioner) private readonly provisioner: TopicProvisioner,
    @Inject(INGEST_CONFIG) private readonly config: IngestConfig,
    @Inject(ReadinessRegistry) private readonly readiness: ReadinessRegistry,
  ) {
    this.newRunner = () =>
      new ConsumerRunner(connection, logger.child({ component: 'bridge' }), {
        registry: registry.registry,
      });
    this.limits = {
      maxEventBytes: config.maxEventBytes,
      // What one produce request carries, well under Kafka's max.message.bytes: a dead letter
      // Kafka refused would be retried for ever and stall its source partition.
      maxRecordBytes: connection.config.publish.maxBatchBytes,
    };
  }

  /** Every topic the gateway needs: channel topics, producers' source topics, Herald's own. */
  topicSpecs(): TopicSpec[] {
    const specs = new Map<string, TopicSpec>();
    for (const channel of this.contract.topics()) {
      specs.set(channel.topic, { topic: channel.topic, partitions: channel.partitions });
      if (channel.sourceTopic)
        specs.set(channel.sourceTopic, {
          topic: channel.sourceTopic,
          partitions: channel.partitions,
        });
    }
    for (const topic of [
      HERALD_TOPICS.dlqIngest,
      HERALD_TOPICS.dlqDelivery,
      HERALD_TOPICS.operational,
    ]) {
      if (!specs.has(topic)) specs.set(topic, { topic, partitions: 3 });
    }
    return [...specs.values()];
  }

  sourceTopics(): string[] {
    return this.contract
      .topics()
      .flatMap((topic) => (topic.sourceTopic ? [topic.sourceTopic] : []));
  }

  onApplicationBootstrap(): void {
    // A consumer kafkajs gave up on (a crash it does not restart) leaves the process without
    // its bridge: readiness says so, as the `kafka` check does not.
    this.readiness.register('bridge', () => this.runner?.health() ?? Promise.resolve());
    // Kafka may still be coming up (npm start, a restart): keep trying in the background while
    // HTTP ingest answers 503 for writes Kafka cannot take.
    this.started = this.start();
  }

  private readonly newRunner: () => ConsumerRunner;
  private readonly limits: MapperLimits;
  private started: Promise<void> | undefined;
  private stopping = false;

  private async start(): Promise<void> {
    for (let attempt = 1; !this.stopping; attempt++) {
      try {
        const provisioned = await this.provisioner.ensureTopics(this.topicSpecs());
        const created = provisioned.filter((p) => p.outcome !== 'exists');
        if (created.length > 0) this.logger.info({ topics: created }, 'topics provisioned');
        const topics = this.sourceTopics();
        if (topics.length === 0) {
          this.logger.info('no source topics in the contract; the bridge is idle');
          return;
        }
        this.runner = this.newRunner();
        await this.runner.run({
          groupId: BRIDGE_GROUP,
          topics,
          fromBeginning: true,
          sessionTimeoutMs: this.config.bridgeSessionTimeoutMs,
          eachBatch: (batch) => this.bridge(batch),
        });
        this.logger.info({ topics, group: BRIDGE_GROUP }, 'bridge consuming source topics');
        return;
      } catch (error) {
        this.logger.warn({ err: error, attempt }, 'bridge could not start consuming; retrying');
        // A runner whose start failed is spent: stop it and start afresh next time.
        await this.runner?.stop().catch(() => undefined);
        this.runner = undefined;
        await new Promise((resolve) => setTimeout(resolve, Math.min(attempt * 500, 5000)));
      }
    }
  }

  async bridge(batch: IncomingBatch): Promise<void> {
    const channel = this.contract.bySourceTopic(batch.topic);
    if (!channel) throw new Error(`no channel reads source topic ${batch.topic}`);
    const now = new Date().toISOString();
    const mapped = batch.records.map((record) =>
      mapSourceRecord(this.contract, channel, record, now, this.limits),
    );
    // In order, request after request: same key, same partition, in this order. A fetched batch
    // can hold a partition's 1 MiB, and with the headers added it would outgrow one request.
    await this.publisher.publishInOrder(mapped.map((m) => m.record));
    const deadLetters = mapped.filter((m) => m.kind === 'dead-letter');
    for (const letter of deadLetters) {
      this.logger.warn(
        { source: batch.topic, partition: batch.partition, reason: letter.reason },
        'raw record dead-lettered',
      );
    }
    this.metrics.count(batch.topic, 'republished', mapped.length - deadLetters.length);
    this.metrics.count(batch.topic, 'dead_lettered', deadLetters.length);
  }

  // Before KafkaModule closes the publisher: the batch in hand finishes its writes and commits.
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await this.runner?.stop();
  }

  /** Resolves once topics are provisioned and the bridge consumes (tests wait on it). */
  ready(): Promise<void> {
    return this.started ?? Promise.resolve();
  }
}
