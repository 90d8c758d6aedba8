import type { ContractRegistry } from '@herald/contract';
import type { WebhookClient } from '@herald/delivery';
import { HERALD_TOPICS, type TopicProvisioner, type TopicSpec } from '@herald/kafka';
import type { Logger } from '@herald/observability';
import type { SubscriptionIndexSync } from '../subscriptions/subscription-index.sync';
import type { DeadLetterRetention } from './dead-letter.retention';
import type { DeliveryEngine } from './delivery.engine';
import type { DeliveryRecordsWriter } from './delivery-records.writer';
import type { ParkedTaskPoller } from './parked-task.poller';
import type { RequestRunner } from './request.runner';
import type { SourceConsumer } from './source-consumer';

/**
 * Starts and stops the delivery engine's parts in order: topics, subscription index, consumer,
 * parked-retry poller, replay and redrive runner, dead-letter sweep; on shutdown the reverse,
 * finishing the attempts in flight and committing what is settled before Kafka and Redis
 * connections close.
 */
export class DeliveryService {
  private started: Promise<void> | undefined;
  private stopping = false;

  constructor(
    private readonly contract: ContractRegistry,
    private readonly provisioner: TopicProvisioner,
    private readonly sync: SubscriptionIndexSync,
    private readonly source: SourceConsumer,
    private readonly poller: ParkedTaskPoller,
    private readonly requests: RequestRunner,
    private readonly deadLetters: DeadLetterRetention,
    private readonly engine: DeliveryEngine,
    private readonly records: DeliveryRecordsWriter,
    private readonly client: WebhookClient,
    private readonly logger: Logger,
    private readonly drainTimeoutMs: number,
  ) {}

  /** Starts in the background (Kafka or Redis may still be coming up); `ready()` resolves when consuming. */
  start(): void {
    this.started ??= this.run();
  }

  ready(): Promise<void> {
    return this.started ?? Promise.resolve();
  }

  /** Channel topics and Herald's own, created when missing. */
  topicSpecs(): TopicSpec[] {
    const specs = new Map<string, TopicSpec>();
    for (const channel of this.contract.topics())
      specs.set(channel.topic, { topic: channel.topic, partitions: channel.partitions });
    for (const topic of [HERALD_TOPICS.dlqDelivery, HERALD_TOPICS.operational])
      if (!specs.has(topic)) specs.set(topic, { topic, partitions: 3 });
    return [...specs.values()];
  }

  private async run(): Promise<void> {
    for (let attempt = 1; !this.stopping; attempt++) {
      try {
        await this.provisioner.ensureTopics(this.topicSpecs());
        break;
      } catch (error) {
        this.logger.warn({ err: error, attempt }, 'could not provision topics; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(attempt * 500, 5000)));
      }
    }
    await this.sync.start();
    for (let attempt = 1; !this.stopping; attempt++) {
      try {
        await this.source.start();
        break;
      } catch (error) {
        this.logger.warn({ err: error, attempt }, 'could not join the consumer group; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(attempt * 500, 5000)));
      }
    }
    if (this.stopping) return;
    this.engine.startSweeps();
    this.poller.start();
    this.requests.start();
    this.deadLetters.start();
    this.logger.info(
      { topics: this.contract.topics().map((t) => t.topic) },
      'delivery engine consuming',
    );
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.started?.catch(() => undefined);
    await this.deadLetters.stop();
    await this.requests.stop();
    await this.poller.stop();
    this.source.pauseAll();
    // Unsent tasks are handed back: they are not committed, so whoever reads next sends them.
    await this.engine.stop(this.drainTimeoutMs);
    await this.source.stop();
    await this.records.close();
  }

  async close(): Promise<void> {
    // stop() waited for attempts in flight as long as the shutdown budget allows; the rest are
    // not committed, so whoever reads next sends them again.
    await this.client.destroy();
  }
}
