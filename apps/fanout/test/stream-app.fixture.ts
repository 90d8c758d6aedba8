import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import pino from 'pino';
import { EventSource } from 'eventsource';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { parseScopeGrants } from '@herald/auth';
import { loadConfig } from '@herald/config';
import {
  KafkaPublisher,
  toKafkaHeaders,
  type KafkaConnection,
  type PublishedRecord,
} from '@herald/kafka';
import {
  createTestConnection,
  startTestBroker,
  waitFor,
  type RunningBroker,
} from '@herald/kafka/testing';
import { createObservability } from '@herald/observability';
import {
  ApiKeyRepository,
  StreamCursorRepository,
  SubscriptionRepository,
  loadSecretCipher,
  type ScopeGrant,
  type Subscription,
} from '@herald/store';
import { createTestStore, newSubscriptionRecord } from '@herald/store/testing';
import { SERVICE } from '../src/app.module';
import { startFanout } from '../src/fanout.app';
import { fanoutConfigFragments } from '../src/fanout.config';

export { waitFor };
export const REPO_ROOT = resolve(__dirname, '../../..');
export const CONTRACT_DIR = resolve(__dirname, 'fixtures/stream-contract');
export const ADMIN_KEY = `test-admin-key-${randomUUID()}`;
const SECRET_KEY = randomBytes(32).toString('base64');

/** Event types of the test contract and their topics. */
export const TOPIC_OF: Record<string, string> = {
  'order.created': 'orders.v1',
  'order.paid': 'orders.v1',
  'kitchen.step': 'kitchen.v1',
};
export const STREAM_EVENT_TYPES = [
  ...Object.keys(TOPIC_OF),
  'herald.stream.end',
  'herald.stream.gap',
];

/** What a test publishes: a type and a payload `{id, n, ...}`; `id` is also the CloudEvent id and key. */
export interface TestEvent {
  type: string;
  id: string;
  n: number;
  total?: number;
  pad?: string;
  time?: string;
  /** Kafka key (default `id`): one key keeps events on one partition, in one order. */
  key?: string;
}

/** A broker, a Redis prefix, and handles to write keys, subscriptions and events. */
export interface StreamWorld {
  broker: RunningBroker;
  prefix: string;
  kafka: KafkaConnection;
  publisher: KafkaPublisher;
  apiKeys: ApiKeyRepository;
  subscriptions: SubscriptionRepository;
  cursors: StreamCursorRepository;
  /** The environment a fanout process of this world runs with (plus `extra`). */
  env(extra?: Record<string, string>): Record<string, string>;
  publish(events: TestEvent[]): Promise<PublishedRecord[]>;
  /** A stored API key; scopes as the API takes them (`'streams:read'`, `{scope, types}`). */
  createKey(scopes: (string | ScopeGrant)[], tenant?: string): Promise<string>;
  createStreamSubscription(
    input: Partial<Subscription> & { tenant: string; types: string[] },
  ): Promise<string>;
  stop(): Promise<void>;
}

/**
 * `redisUrl`: a Redis of the test's own (one it stops), instead of the one at REDIS_URL.
 * `broker`: options of the embedded broker (small segments and frequent retention, say).
 */
export async function startStreamWorld(
  options: { redisUrl?: string; broker?: Parameters<typeof startTestBroker>[0] } = {},
): Promise<StreamWorld> {
  const broker = await startTestBroker(options.broker);
  const store = await createTestStore(
    options.redisUrl === undefined ? process.env : { REDIS_URL: options.redisUrl },
  );
  const kafka = createTestConnection(broker.brokers);
  const publisher = new KafkaPublisher(kafka, pino({ level: 'silent' }));
  const { cipher } = await loadSecretCipher({
    key: Buffer.from(SECRET_KEY, 'base64'),
    keyFile: '',
  });
  const subscriptions = new SubscriptionRepository(store.redis, store.keys, cipher);
  const apiKeys = new ApiKeyRepository(store.redis, store.keys);
  const env = (extra: Record<string, string> = {}): Record<string, string> => ({
    KAFKA_BROKERS: broker.brokers,
    REDIS_URL: store.url,
    HERALD_REDIS_PREFIX: store.prefix,
    HERALD_ADMIN_KEY: ADMIN_KEY,
    HERALD_SECRET_KEY: SECRET_KEY,
    HERALD_CONTRACTS: CONTRACT_DIR,
    FANOUT_PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.HERALD_TEST_LOG ?? 'silent',
    STREAM_FETCH_MAX_WAIT_MS: '50',
    ...extra,
  });
  return {
    broker,
    prefix: store.prefix,
    kafka,
    publisher,
    apiKeys,
    subscriptions,
    cursors: new StreamCursorRepository(store.redis, store.keys),
    env,
    publish: (events) =>
      publisher.publish(
        events.map((e) => ({
          topic: TOPIC_OF[e.type]!,
          key: e.key ?? e.id,
          value: JSON.stringify({ id: e.id, n: e.n, total: e.total, pad: e.pad }),
          headers: toKafkaHeaders({
            id: e.id,
            source: '/stream-tests',
            type: e.type,
            time: e.time ?? new Date().toISOString(),
          }),
        })),
      ),
    async createKey(scopes, tenant = 'acme') {
      const { key } = await apiKeys.create({
        name: 'stream test',
        tenant,
        scopes: parseScopeGrants(scopes),
      });
      return key;
    },
    async createStreamSubscription(input) {
      const { subscription } = await subscriptions.create(
        newSubscriptionRecord({
          kind: 'stream',
          url: null,
          from: 'earliest',
          retry: { schedule: [] },
          ...input,
        }),
        { signing: null, auth: null },
      );
      return subscription.id;
    },
    async stop() {
      await publisher.close();
      await kafka.close();
      await store.cleanup();
      await broker.stop();
    },
  };
}

export interface RunningFanout {
  url: string;
  stop(): Promise<void>;
}

/** fanout in this process on a free port. */
export async function startFanoutApp(
  world: StreamWorld,
  extra: Record<string, string> = {},
): Promise<RunningFanout & { app: NestFastifyApplication }> {
  const config = loadConfig(fanoutConfigFragments, world.env(extra));
  const observability = createObservability(SERVICE, config.observability);
  const app = await startFanout(config, observability);
  const { port } = app.getHttpServer().address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  await waitForStreams(url);
  return { app, url, stop: () => app.close() };
}

export interface FanoutProcess extends RunningFanout {
  child: ChildProcess;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  logs: Record<string, unknown>[];
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

/** fanout as its own process (`node -r @swc-node/register apps/fanout/src/main.ts`), as operators run it. */
export async function spawnFanout(
  world: StreamWorld,
  extra: Record<string, string> = {},
): Promise<FanoutProcess> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', 'apps/fanout/src/main.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...world.env({ LOG_LEVEL: 'info', ...extra }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = new Promise<string>((found, failed) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        const address = entry.address as { port?: number } | undefined;
        if (entry.msg === 'listening' && address?.port) found(`http://127.0.0.1:${address.port}`);
      } catch {
        // Not a log line (a stray print); the test reads only JSON lines.
      }
    });
    void exited.then((code) => failed(new Error(`fanout exited with ${code}: ${stderr}`)));
  });
  const base = await url;
  await waitForStreams(base);
  const kill = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  return { child, url: base, exited, logs, kill, stop: async () => void (await kill('SIGTERM')) };
}

/** Waits until the process answers polls (its live tail has started). */
async function waitForStreams(url: string): Promise<void> {
  await waitFor(
    async () => {
      const response = await fetch(`${url}/v1/streams/poll?wait=0&access_token=${ADMIN_KEY}`).catch(
        () => null,
      );
      return response?.status === 200;
    },
    { timeoutMs: 30_000, intervalMs: 100, what: 'fanout streams to be ready' },
  );
}

/** One message as an SSE client saw it. */
export interface SseMessage {
  type: string;
  id: string;
  data: Record<string, unknown>;
}

/** An `eventsource` client that records what arrives and never reconnects on its own. */
export function openSse(
  url: string,
  { key = ADMIN_KEY, lastEventId }: { key?: string; lastEventId?: string } = {},
): { messages: SseMessage[]; errors: unknown[]; opened: Promise<void>; close(): void } {
  const messages: SseMessage[] = [];
  const errors: unknown[] = [];
  const source = new EventSource(url, {
    fetch: (input, init) =>
      fetch(input, {
        ...init,
        headers: {
          ...(init.headers as Record<string, string>),
          authorization: `Bearer ${key}`,
          ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
        },
      }),
  });
  for (const type of STREAM_EVENT_TYPES)
    source.addEventListener(type, (event: { data: string; lastEventId: string }) => {
      messages.push({
        type,
        id: event.lastEventId,
        data: JSON.parse(event.data) as Record<string, unknown>,
      });
      if (type === 'herald.stream.end') source.close();
    });
  const opened = new Promise<void>((done, failed) => {
    source.onopen = () => done();
    source.onerror = (error) => {
      errors.push(error);
      failed(
        new Error(
          `SSE connection failed: ${error.message ?? 'no message'} (${error.code ?? 'no status'})`,
        ),
      );
      source.close();
    };
  });
  return { messages, errors, opened, close: () => source.close() };
}

/** Reads a Prometheus counter or gauge value from `/metrics` (sum over matching label sets). */
export async function metricValue(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (labels && !line.includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** `count` events of the given types round-robin, with ids unique to `tag`. */
export function testEvents(
  tag: string,
  count: number,
  types = Object.keys(TOPIC_OF),
  from = 0,
): TestEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    type: types[(from + i) % types.length]!,
    id: `${tag}-${from + i}`,
    n: from + i,
    total: (from + i) * 10,
  }));
}
