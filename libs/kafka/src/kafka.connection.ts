import { Kafka, logLevel, type Admin, type LogEntry, type RetryOptions } from 'kafkajs';
import type { Logger } from 'pino';
import type { KafkaConfig } from './kafka.config';
import { HELD_BACK_MESSAGE } from './kafka.publisher';

// kafkajs lines about what the publisher does on purpose and handles, written at debug: they
// would page nobody and bury real warnings and errors. The publisher bounds an idempotent
// producer's retries (kafkajs warns on every connect), and holds a write back while another one
// settles (kafkajs logs the refusal the publisher throws at error; the publisher says at info
// that it sends the write again).
const EXPECTED_MESSAGES = new Set([
  'Limiting retries for the idempotent producer may invalidate EoS guarantees',
  HELD_BACK_MESSAGE,
]);

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** kafkajs writes its own log lines; this sends them through our JSON logger instead. */
export function kafkaLogCreator(logger: Logger) {
  const child = logger.child({ component: 'kafkajs' });
  return () =>
    ({ level, log }: LogEntry): void => {
      const { message, ...rest } = log;
      const name = EXPECTED_MESSAGES.has(message) ? 'debug' : (LEVELS[level] ?? 'info');
      child[name](rest, message);
    };
}

/** The process's kafkajs client, and a cheap probe for readiness. */
export class KafkaConnection {
  readonly kafka: Kafka;
  private readonly probe: Kafka;
  private readonly quick: Kafka;
  private admin: Admin | undefined;

  constructor(
    readonly config: KafkaConfig,
    clientId: string,
    logger: Logger,
  ) {
    const id = config.clientId ?? clientId;
    this.kafka = new Kafka({
      clientId: id,
      brokers: config.brokers,
      logLevel: logLevel.WARN,
      logCreator: kafkaLogCreator(logger),
    });
    // A separate client that gives up at once, so a probe never waits on kafkajs's retries.
    this.probe = quietClient(config, `${id}-probe`, { retries: 0 });
    this.quick = quietClient(config, `${id}-quick`, {
      retries: 2,
      initialRetryTime: 100,
      maxRetryTime: 500,
    });
  }

  /** Resolves when the cluster answers a metadata request. */
  async ping(): Promise<void> {
    try {
      this.admin ??= this.probe.admin();
      await this.admin.connect();
      await this.admin.describeCluster();
    } catch (error) {
      // Drop the admin so the next probe reconnects from scratch.
      const admin = this.admin;
      this.admin = undefined;
      await admin?.disconnect().catch(() => undefined);
      throw error;
    }
  }

  /**
   * An admin on a client like the probe's (1 s to connect, 2 s a request, no log lines) but with
   * two quick retries, which kafkajs's coordinator and metadata lookups need on a fresh
   * connection: a call gives up within seconds. For periodic best-effort reads such as consumer
   * lag, which must not leave kafkajs retrying (and logging each try) in the background while
   * the cluster is away: the next period tries again. The caller disconnects it.
   */
  quickAdmin(): Admin {
    return this.quick.admin();
  }

  async close(): Promise<void> {
    await this.admin?.disconnect();
    this.admin = undefined;
  }
}

/** A client for short side calls: 1 s to connect, 2 s a request, `retry` as given, no log lines. */
function quietClient(config: KafkaConfig, clientId: string, retry: RetryOptions): Kafka {
  return new Kafka({
    clientId,
    brokers: config.brokers,
    connectionTimeout: 1000,
    requestTimeout: 2000,
    retry,
    logLevel: logLevel.NOTHING,
  });
}
