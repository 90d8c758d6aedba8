// Shared by the delivery tests: fanout in this process or as a child process, subscriptions
// written straight into the store (as the subscription API writes them), events published
// straight to the channel topics, and receivers that record what arrives.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import pino from 'pino';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { loadConfig } from '@herald/config';
import { loadContract, type ContractRegistry } from '@herald/contract';
import { generateSecret } from '@herald/delivery';
import {
  HERALD_TOPICS,
  KafkaPublisher,
  OffsetLookup,
  toKafkaHeaders,
  type KafkaConnection,
  type OutgoingRecord,
} from '@herald/kafka';
import {
  startWebhookReceiver,
  type WebhookReceiver,
  type WebhookResponder,
} from '@herald/delivery/testing';
import {
  collect,
  createTestConnection,
  startTestBroker,
  waitFor,
  type RunningBroker,
} from '@herald/kafka/testing';
import { createObservability } from '@herald/observability';
import {
  DeadLetterRepository,
  RedisConnection,
  ReplayRepository,
  SecretCipher,
  SubscriptionRepository,
  SubscriptionStatsRepository,
  storeKeys,
  type NewSubscription,
  type StoredSubscription,
} from '@herald/store';
import { newSubscriptionRecord } from '@herald/store/testing';
import { freePort } from '@herald/test-harness';
import { SERVICE } from '../src/app.module';
import { DeliveryService } from '../src/delivery/delivery.service';
import { startFanout } from '../src/fanout.app';
import { fanoutConfigFragments } from '../src/fanout.config';

export const REPO_ROOT = resolve(__dirname, '../../..');

let contract: Promise<ContractRegistry> | undefined;

/** The shipped contract, loaded once per test file. */
export function shippedContract(): Promise<ContractRegistry> {
  contract ??= loadContract(resolve(REPO_ROOT, 'asyncapi'));
  return contract;
}

/** What one fanout needs to find its broker, Redis and the secrets of its subscriptions. */
export interface FanoutEnv {
  readonly brokers: string;
  readonly redisUrl: string;
  readonly prefix: string;
  readonly secretKey: string;
  readonly group: string;
}

export function newFanoutEnv(brokers: string, redisUrl: string): FanoutEnv {
  return {
    brokers,
    redisUrl,
    prefix: `test:${randomUUID().slice(0, 8)}:`,
    secretKey: randomBytes(32).toString('base64'),
    group: `fanout-${randomUUID().slice(0, 8)}`,
  };
}

function envOf(
  setup: FanoutEnv,
  port: number,
  extra: Record<string, string>,
): Record<string, string> {
  return {
    KAFKA_BROKERS: setup.brokers,
    REDIS_URL: setup.redisUrl,
    HERALD_REDIS_PREFIX: setup.prefix,
    HERALD_SECRET_KEY: setup.secretKey,
    HERALD_FANOUT_GROUP: setup.group,
    HERALD_CONTRACTS: resolve(REPO_ROOT, 'asyncapi'),
    HERALD_ALLOWED_NETWORKS: '127.0.0.0/8',
    FANOUT_PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.HERALD_TEST_LOG ?? 'silent',
    KAFKA_LAG_INTERVAL_MS: '1000',
    HERALD_DELIVERY_COMMIT_INTERVAL_MS: '200',
    HERALD_DELIVERY_POLL_INTERVAL_MS: '100',
    ...extra,
  };
}

export interface InProcessFanout {
  readonly app: NestFastifyApplication;
  readonly url: string;
  stop(): Promise<void>;
}

/** fanout in this process on a free port; resolves once it consumes. */
export async function startFanoutInProcess(
  setup: FanoutEnv,
  env: Record<string, string> = {},
): Promise<InProcessFanout> {
  const config = loadConfig(fanoutConfigFragments, envOf(setup, 0, env));
  const observability = createObservability(SERVICE, config.observability);
  const app = await startFanout(config, observability, { contract: await shippedContract() });
  await app.get(DeliveryService).ready();
  const { port } = app.getHttpServer().address() as { port: number };
  let stopped: Promise<void> | undefined;
  // Once: a test may stop it before the harness does.
  return { app, url: `http://127.0.0.1:${port}`, stop: () => (stopped ??= app.close()) };
}

export interface FanoutProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Everything it logged (JSON lines), for diagnosing a failure. */
  readonly output: string[];
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** fanout as a child process (`node -r @swc-node/register apps/fanout/src/main.ts`); resolves once it consumes. */
export async function spawnFanout(
  setup: FanoutEnv,
  env: Record<string, string> = {},
): Promise<FanoutProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['-r', '@swc-node/register', 'apps/fanout/src/main.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...envOf(setup, port, { LOG_LEVEL: 'info', ...env }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  let consuming = false;
  const onData = (chunk: Buffer) => {
    const text = chunk.toString();
    output.push(text);
    if (text.includes('delivery engine consuming')) consuming = true;
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  await waitFor(() => consuming || child.exitCode !== null, {
    timeoutMs: 60_000,
    what: 'fanout to start consuming',
  });
  if (!consuming) throw new Error(`fanout exited early:\n${output.join('')}`);
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    output,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** The store as the subscription API sees it, under the fanout's prefix. */
export async function storeFor(setup: FanoutEnv) {
  const redis = new RedisConnection({ url: setup.redisUrl, prefix: setup.prefix }, 'herald-test');
  await redis.connect();
  const keys = storeKeys(setup.prefix);
  return {
    redis,
    keys,
    subscriptions: new SubscriptionRepository(
      redis,
      keys,
      new SecretCipher(Buffer.from(setup.secretKey, 'base64')),
    ),
    deadLetters: new DeadLetterRepository(redis, keys),
    replays: new ReplayRepository(redis, keys),
    stats: new SubscriptionStatsRepository(redis, keys),
    async cleanup() {
      let cursor = '0';
      do {
        const [next, found] = await redis.client.scan(
          cursor,
          'MATCH',
          `${setup.prefix}*`,
          'COUNT',
          500,
        );
        if (found.length > 0) await redis.client.del(...found);
        cursor = next;
      } while (cursor !== '0');
      await redis.close();
    },
  };
}

export type TestStore = Awaited<ReturnType<typeof storeFor>>;

/** Creates an active webhook subscription as the API would; returns it with its secret. */
export async function createSubscription(
  store: TestStore,
  url: string,
  overrides: Partial<NewSubscription> = {},
  secrets: { previous?: { secret: string; expiresAt: string } } = {},
): Promise<StoredSubscription & { secret: string }> {
  const secret = generateSecret();
  const stored = await store.subscriptions.create(
    newSubscriptionRecord({ url, retry: { schedule: ['100ms', '200ms', '400ms'] }, ...overrides }),
    { signing: { current: secret, previous: secrets.previous ?? null }, auth: null },
  );
  return { ...stored, secret };
}

export interface TestEvent {
  readonly id: string;
  readonly type: string;
  readonly key: string;
  readonly data: Record<string, unknown>;
  readonly traceparent?: string;
  readonly dataschema?: string;
  readonly extensions?: Record<string, string>;
}

/** Publishes events as the ingest bridge writes them (CloudEvents binary mode). */
export class EventPublisher {
  readonly connection: KafkaConnection;
  readonly publisher: KafkaPublisher;

  constructor(brokers: string) {
    this.connection = createTestConnection(brokers, 'silent');
    this.publisher = new KafkaPublisher(this.connection, pino({ level: 'silent' }), {
      timeoutMs: 20_000,
    });
  }

  async publish(events: readonly TestEvent[], topic = 'orders.v1'): Promise<void> {
    const records: OutgoingRecord[] = events.map((event) => ({
      topic,
      key: event.key,
      value: JSON.stringify(event.data),
      headers: toKafkaHeaders({
        id: event.id,
        source: '/test',
        type: event.type,
        time: new Date().toISOString(),
        ...(event.traceparent === undefined ? {} : { traceparent: event.traceparent }),
        ...(event.dataschema === undefined ? {} : { dataschema: event.dataschema }),
        ...(event.extensions === undefined ? {} : { extensions: event.extensions }),
      }),
    }));
    for (let i = 0; i < records.length; i += 500)
      await this.publisher.publish(records.slice(i, i + 500));
  }

  async close(): Promise<void> {
    await this.publisher.close();
    await this.connection.close();
  }
}

/** `count` order events over `keys` keys, each carrying its key and sequence number within the key. */
export function orderEvents(
  count: number,
  keys: number,
  prefix = randomUUID().slice(0, 6),
): TestEvent[] {
  const seq = new Map<string, number>();
  return Array.from({ length: count }, (_, i) => {
    const key = `${prefix}-k${i % keys}`;
    const n = (seq.get(key) ?? 0) + 1;
    seq.set(key, n);
    return {
      id: `${prefix}-e${i}`,
      type: 'order.created',
      key,
      data: { orderId: key, seq: n, total: i % 200 },
    };
  });
}

/** Every record on `topic` so far. */
export async function readAll(brokers: string, topic: string) {
  const connection = createTestConnection(brokers, 'silent');
  const offsets = new OffsetLookup(connection);
  const ends = await offsets.endOffsets(topic);
  await offsets.close();
  await connection.close();
  const total = ends.reduce((sum, e) => sum + Number(e.offset), 0);
  return total === 0 ? [] : collect(brokers, topic, total, { timeoutMs: 10_000 });
}

/** The payloads of the operational events of `type`, once there are at least `atLeast`. */
export function operationalEvents(brokers: string, type: string, atLeast: number) {
  return waitFor(
    async () => {
      const records = await readAll(brokers, HERALD_TOPICS.operational);
      const matching = records
        .filter((r) => r.headers['ce_type']?.toString() === type)
        .map((r) => JSON.parse(r.value!.toString()) as Record<string, unknown>);
      return matching.length >= atLeast && matching;
    },
    { timeoutMs: 20_000, intervalMs: 500, what: `${atLeast} ${type} events` },
  );
}

/** fanout as a harness runs it: in the test's process, or as a process of its own. */
export interface HarnessFanout {
  readonly url: string;
  stop(): Promise<void>;
}

/** fanout as its own process, stopped with SIGTERM. */
export interface SeparateFanout extends HarnessFanout {
  /** Everything it logged (JSON lines), for diagnosing a failure. */
  readonly output: string[];
}

/** What a delivery test runs against: a broker in this process, fanout, the store and receivers. */
export interface DeliveryHarness<F extends HarnessFanout = InProcessFanout> {
  readonly broker: RunningBroker;
  /** What fanout was started with (its Redis prefix and secret key among them). */
  readonly setup: FanoutEnv;
  readonly store: TestStore;
  readonly fanout: F;
  readonly events: EventPublisher;
  /** A local webhook receiver (204 unless `respond` says otherwise), closed with the harness. */
  receiver(respond?: WebhookResponder): Promise<WebhookReceiver>;
  /** Stops everything, receivers first: a request hanging on one would hold up fanout's stop. */
  close(): Promise<void>;
}

/**
 * Starts a broker and fanout in this process (with `env` over the defaults) and what the tests
 * use beside them: for tests that look inside fanout (its index, its repositories).
 */
export function startDeliveryHarness(
  env: Record<string, string> = {},
  /** Another Redis than the shared one (one the test may stop). */
  redisUrl = process.env.REDIS_URL!,
): Promise<DeliveryHarness> {
  return startHarness(env, redisUrl, startFanoutInProcess);
}

/**
 * The same with fanout as a process of its own (`apps/fanout/src/main.ts`), as the guarantees
 * of SPEC §6 are proved: nothing of the test's process (the broker, the receivers) shares its
 * event loop.
 */
export function startSeparateDeliveryHarness(
  env: Record<string, string> = {},
  redisUrl = process.env.REDIS_URL!,
): Promise<DeliveryHarness<SeparateFanout>> {
  return startHarness(env, redisUrl, async (setup, fanoutEnv) => {
    const child = await spawnFanout(setup, fanoutEnv);
    // A second stop signals again (fanout ignores it while closing) and waits for the same exit.
    return { url: child.url, output: child.output, stop: () => child.kill('SIGTERM') };
  });
}

async function startHarness<F extends HarnessFanout>(
  env: Record<string, string>,
  redisUrl: string,
  startFanoutWith: (setup: FanoutEnv, env: Record<string, string>) => Promise<F>,
): Promise<DeliveryHarness<F>> {
  await shippedContract();
  const broker = await startTestBroker();
  const setup = newFanoutEnv(broker.brokers, redisUrl);
  const store = await storeFor(setup);
  const fanout = await startFanoutWith(setup, env);
  const events = new EventPublisher(broker.brokers);
  const receivers: WebhookReceiver[] = [];
  return {
    broker,
    setup,
    store,
    fanout,
    events,
    async receiver(respond) {
      const started = await startWebhookReceiver(respond ? { respond } : {});
      receivers.push(started);
      return started;
    },
    async close() {
      await Promise.all(receivers.map((r) => r.close()));
      await fanout.stop();
      await events.close();
      await store.cleanup();
      await broker.stop();
    },
  };
}

export { waitFor };
