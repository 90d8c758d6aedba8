// Webhook delivery: fanout (its own process) against the embedded broker (its own process) and
// Redis, delivering to a local keep-alive receiver.
//   1. deliveries/s with 1, 10 and 100 subscriptions (events published up front, timed from the
//      first receipt to the last);
//   2. end-to-end latency from HTTP ingest (ingest-bridge, its own process) to receipt at
//      1,000 events/s, p50 and p99;
//   3. a baseline: a bare kafkajs consumer that POSTs each record with undici and nothing else,
//      in its own process as fanout is (delivery-baseline.ts).
//   node -r @swc-node/register tools/bench/src/delivery.bench.ts
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import pino from 'pino';
import { Pool } from 'undici';
import { loadContract } from '@herald/contract';
import { generateSecret } from '@herald/delivery';
import {
  KafkaConnection,
  KafkaPublisher,
  TopicProvisioner,
  toKafkaHeaders,
  type OutgoingRecord,
} from '@herald/kafka';
import { RedisConnection, SecretCipher, SubscriptionRepository, storeKeys } from '@herald/store';
import { newSubscriptionRecord } from '@herald/store/testing';
import { ensureRedis } from '@herald/test-harness';
import {
  REPO_ROOT,
  deletePrefix,
  median,
  percentile,
  startAppProcess,
  startBrokerProcess,
  startScriptProcess,
  writeResults,
} from './bench-processes';

const RESULTS = join(REPO_ROOT, 'tools/bench/results/delivery.md');
const TOPIC = 'orders.v1';
const ADMIN_KEY = `bench-admin-${randomUUID()}`;
const TARGET_DELIVERIES = 60_000;
/** A number from the environment's `name`, or `fallback` when it is unset or not a number. */
function benchNumber(name: string, fallback: number): number {
  return Number(process.env[name] ?? fallback) || fallback;
}

/** The bench subscriptions' `maxInFlight`. BENCH_MAX_IN_FLIGHT sets another while exploring (results are then not written). */
const TARGET_MAX_IN_FLIGHT = 64;
const MAX_IN_FLIGHT = benchNumber('BENCH_MAX_IN_FLIGHT', TARGET_MAX_IN_FLIGHT);

/** The issue's rate. BENCH_LATENCY_RATE sets another while exploring (results are then not written). */
const TARGET_LATENCY_RATE = 1000;
const LATENCY_RATE = benchNumber('BENCH_LATENCY_RATE', TARGET_LATENCY_RATE);
const LATENCY_SECONDS = 10;
/**
 * Sent at the same rate before the measured part, unmeasured: JIT, pools and connections warm.
 * BENCH_LATENCY_WARMUP_SECONDS sets another while exploring (results are then not written): a
 * fresh ingest-bridge can still be draining the queue of its first seconds after 3.
 */
const TARGET_LATENCY_WARMUP_SECONDS = 3;
const LATENCY_WARMUP_SECONDS = benchNumber(
  'BENCH_LATENCY_WARMUP_SECONDS',
  TARGET_LATENCY_WARMUP_SECONDS,
);
const ALL_CASES = ['1', '10', '100', 'latency', 'baseline'];

interface Receiver {
  url: string;
  count: number;
  arrivals: Map<string, number>;
  /** Note each webhook id's arrival (the latency case); off while throughput is timed. */
  trackArrivals: boolean;
  first: number;
  last: number;
  /** Receipts per 100 ms from the first (BENCH_TIMELINE only). */
  timeline: number[];
  reset(): void;
  close(): Promise<void>;
}

/** A keep-alive HTTP server answering 204 to everything, noting when each webhook id arrived. */
async function startReceiver(): Promise<Receiver> {
  const state = {
    count: 0,
    first: 0,
    last: 0,
    arrivals: new Map<string, number>(),
    trackArrivals: false,
    timeline: [] as number[],
  };
  const timed = Boolean(process.env.BENCH_TIMELINE);
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const now = performance.timeOrigin + performance.now();
      if (state.count === 0) state.first = now;
      state.count += 1;
      state.last = now;
      if (timed) {
        const tenth = Math.floor((now - state.first) / 100);
        while (state.timeline.length <= tenth) state.timeline.push(0);
        state.timeline[tenth]! += 1;
      }
      // Only where latency is measured: the baseline's requests carry no id to note, so noting
      // fanout's would charge its cases (the receiver shares the machine) for the bench's work.
      const id = state.trackArrivals ? req.headers['webhook-id'] : undefined;
      if (typeof id === 'string' && !state.arrivals.has(id)) state.arrivals.set(id, now);
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const receiver: Receiver = Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    reset() {
      state.count = 0;
      state.first = 0;
      state.last = 0;
      state.arrivals.clear();
      state.timeline = [];
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  return receiver;
}

async function waitUntil(check: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function orderRecords(count: number, example: unknown): OutgoingRecord[] {
  const value = JSON.stringify(example);
  return Array.from({ length: count }, (_, i) => ({
    topic: TOPIC,
    key: `order-${i % 500}`,
    value,
    headers: toKafkaHeaders({
      id: randomUUID(),
      source: '/bench',
      type: 'order.created',
      time: new Date().toISOString(),
    }),
  }));
}

/** What a throughput case measured. */
interface Throughput {
  /** Deliveries/s from the first receipt to the last. */
  perSecond: number;
  /** The delivering process's CPU time (user + system) a delivery, in µs: steadier than the rate. */
  cpuMicros: number;
  /** Busy CPU time of the whole machine (every process on both cores) a delivery, in µs. */
  machineMicros: number;
  /**
   * Times a lane parked what it held in Redis during the case (fanout's
   * `herald_delivery_lane_spills_total`; none for the baseline). A healthy local receiver
   * should cause none: a spill sends the rest of the case through Redis, several times slower.
   */
  spills?: number;
  /** fanout's attempts that were not delivered (none expected from the local receiver). */
  failedAttempts?: number;
  /**
   * fanout's event-loop delay over the case (Node's `monitorEventLoopDelay`, as its
   * `nodejs_eventloop_lag_*` metrics give it), p99 and max in ms: how long work queued behind
   * whatever ran without a break (a fetch decoded, a batch routed). None for the baseline.
   */
  loopDelayMs?: { p99: number; max: number };
}

/**
 * The sum of a counter's series in an app's `/metrics` text (0 when it has none yet), of those
 * whose labels pass `labels` when given.
 */
function counterSum(metrics: string, name: string, labels?: (text: string) => boolean): number {
  let sum = 0;
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name} `) && !line.startsWith(`${name}{`)) continue;
    if (labels && !labels(line.slice(name.length, line.lastIndexOf(' ')))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    // Fields after the command name (which is in parentheses and may hold spaces): utime is
    // the 12th, stime the 13th, in clock ticks (100 a second on Linux).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** Busy CPU seconds of the whole machine so far (all cores), from /proc/stat. */
function machineBusySeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  // cpu user nice system idle iowait irq softirq steal: everything but idle and iowait.
  const ticks = fields.slice(1, 9).map(Number);
  return (ticks[0]! + ticks[1]! + ticks[2]! + ticks[5]! + ticks[6]! + ticks[7]!) / 100;
}

interface Env {
  brokers: string;
  redisUrl: string;
  prefix: string;
  secretKey: string;
}

/**
 * BENCH_FANOUT_ENV adds settings to fanout's environment while profiling, comma-separated
 * (`HERALD_DELIVERY_LOG=false` measures what the delivery log costs); results are then not written.
 */
function extraFanoutEnv(): Record<string, string> {
  const text = process.env.BENCH_FANOUT_ENV ?? '';
  return Object.fromEntries(
    text
      .split(',')
      .filter((pair) => pair.includes('='))
      .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
  );
}

function fanoutEnv(env: Env, group: string): Record<string, string> {
  return {
    KAFKA_BROKERS: env.brokers,
    REDIS_URL: env.redisUrl,
    HERALD_REDIS_PREFIX: env.prefix,
    HERALD_SECRET_KEY: env.secretKey,
    HERALD_FANOUT_GROUP: group,
    HERALD_ALLOWED_NETWORKS: '127.0.0.0/8',
    HERALD_CONTRACTS: join(REPO_ROOT, 'asyncapi'),
    HERALD_ADMIN_KEY: ADMIN_KEY,
    ...extraFanoutEnv(),
  };
}

async function createSubscriptions(
  repository: SubscriptionRepository,
  url: string,
  count: number,
): Promise<void> {
  for (let i = 0; i < count; i++)
    await repository.create(
      newSubscriptionRecord({
        tenant: 'bench',
        url: `${url}/s${i}`,
        types: ['order.created'],
        maxInFlight: MAX_IN_FLIGHT,
        retry: { schedule: ['1s'] },
      }),
      { signing: { current: generateSecret(), previous: null }, auth: null },
    );
}

/**
 * deliveries/s through fanout with `subscriptions` subscriptions. As for the baseline, every
 * record is in Kafka before delivery starts: fanout's group starts at the topic's end as it was
 * before the case published (earlier cases' records are not read), and publishing does not share
 * the machine (or the receiver's event loop) with the deliveries being timed.
 */
async function fanoutThroughput(
  env: Env,
  kafka: Kafka,
  publisher: KafkaPublisher,
  receiver: Receiver,
  example: unknown,
  subscriptions: number,
): Promise<Throughput> {
  const prefix = `bench:${randomUUID().slice(0, 8)}:`;
  const redis = new RedisConnection({ url: env.redisUrl, prefix }, 'bench');
  await redis.connect();
  const repository = new SubscriptionRepository(
    redis,
    storeKeys(prefix),
    new SecretCipher(Buffer.from(env.secretKey, 'base64')),
  );
  await createSubscriptions(repository, receiver.url, subscriptions);
  const events = Math.ceil(TARGET_DELIVERIES / subscriptions);
  const group = `bench-${randomUUID().slice(0, 8)}`;
  await publishCase(kafka, publisher, receiver, group, events, example);
  const fanout = await startAppProcess(
    'apps/fanout/src/main.ts',
    'FANOUT_PORT',
    fanoutEnv({ ...env, prefix }, group),
  );
  try {
    // prom-client resets its event-loop delay histogram each time it is read: reading it at the
    // first receipt leaves the case's own delays (not start-up's) for the read at the end.
    const metricsText = async () => (await fetch(`${fanout.url}/metrics`)).text();
    const measured = await measureThroughput(
      receiver,
      events * subscriptions,
      fanout.process.pid,
      metricsText,
    );
    const metrics = await metricsText();
    return {
      ...measured,
      loopDelayMs: {
        p99: counterSum(metrics, 'nodejs_eventloop_lag_p99_seconds') * 1000,
        max: counterSum(metrics, 'nodejs_eventloop_lag_max_seconds') * 1000,
      },
      spills: counterSum(metrics, 'herald_delivery_lane_spills_total'),
      failedAttempts: counterSum(
        metrics,
        'herald_deliveries_total',
        (labels) => !labels.includes('outcome="delivered"'),
      ),
    };
  } finally {
    await fanout.stop();
    await deletePrefix(redis, prefix);
    await redis.close();
  }
}

/** Commits the topic's end offsets for a group no member has joined yet: it starts there. */
async function startGroupAtEnd(kafka: Kafka, groupId: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(TOPIC);
    await admin.setOffsets({
      groupId,
      topic: TOPIC,
      partitions: ends.map(({ partition, high }) => ({ partition, offset: high })),
    });
  } finally {
    await admin.disconnect();
  }
}

/**
 * Puts a case's `count` records in Kafka, `group` committed at where they begin (so it reads
 * them and nothing earlier), and clears the receiver's count.
 */
async function publishCase(
  kafka: Kafka,
  publisher: KafkaPublisher,
  receiver: Receiver,
  group: string,
  count: number,
  example: unknown,
): Promise<void> {
  await startGroupAtEnd(kafka, group);
  const records = orderRecords(count, example);
  for (let i = 0; i < records.length; i += 1000)
    await publisher.publish(records.slice(i, i + 1000));
  receiver.reset();
}

/**
 * Waits for `expected` receipts: the rate from the first receipt to the last, and CPU over that
 * span, the process `pid`'s own (user + system, from /proc) and the whole machine's, each per
 * delivery in microseconds.
 */
async function measureThroughput(
  receiver: Receiver,
  expected: number,
  pid: number | undefined,
  /** Called once the first delivery has arrived. */
  atFirstReceipt: () => Promise<unknown> = () => Promise.resolve(),
): Promise<Throughput> {
  const sample = () => ({
    count: receiver.count,
    process: cpuSeconds(pid),
    machine: machineBusySeconds(),
  });
  await waitUntil(() => receiver.count > 0, 'a first delivery', 120_000);
  const first = sample();
  await atFirstReceipt();
  await waitUntil(() => receiver.count >= expected, `${expected} deliveries`, 300_000);
  const last = sample();
  const delivered = last.count - first.count;
  // BENCH_TIMELINE: a steady rate, or a slow start and stalls (a read-ahead burst, a pause).
  if (receiver.timeline.length > 0)
    process.stdout.write(`  receipts per 100 ms: ${receiver.timeline.join(' ')}\n`);
  return {
    perSecond: (receiver.count / (receiver.last - receiver.first)) * 1000,
    cpuMicros: ((last.process - first.process) * 1e6) / delivered,
    machineMicros: ((last.machine - first.machine) * 1e6) / delivered,
  };
}

/** Latency from POST to ingest until the receiver has the event, at `LATENCY_RATE` events/s. */
interface Latency {
  p50: number;
  p99: number;
  max: number;
  /**
   * The two parts of it: ingest-bridge's answer (POST until its 202, Kafka's acknowledgement
   * included) and the rest (the 202 until receipt, negative when the webhook came first).
   */
  answer: { p50: number; p99: number };
  afterAnswer: { p50: number; p99: number };
  /** CPU time a event over the measured part: fanout's and ingest-bridge's, in µs. */
  fanoutCpuMicros: number;
  ingestCpuMicros: number;
}

/**
 * BENCH_LATENCY_TRACE prints the latency case by quarter-second of sending (count, median, worst),
 * to tell a stall that hits everything at one moment from queueing spread over the run.
 */
function traceLatency(
  sent: Map<string, number>,
  answered: Map<string, number>,
  receiver: Receiver,
  started: number,
): void {
  const quarters = new Map<number, { total: number[]; answer: number[] }>();
  for (const [id, at] of sent) {
    const quarter = Math.floor((at - performance.timeOrigin - started) / 250);
    const lists = quarters.get(quarter) ?? { total: [], answer: [] };
    lists.total.push(receiver.arrivals.get(id)! - at);
    lists.answer.push(answered.get(id)! - at);
    quarters.set(quarter, lists);
  }
  for (const [quarter, { total, answer }] of [...quarters].sort((a, b) => a[0] - b[0])) {
    total.sort((a, b) => a - b);
    answer.sort((a, b) => a - b);
    process.stdout.write(
      `  t=${(quarter / 4).toFixed(2)} s: ${total.length} events, p50 ${percentile(total, 50).toFixed(1)} ms, max ${total[total.length - 1]!.toFixed(1)} ms (ingest's answer p50 ${percentile(answer, 50).toFixed(1)} ms)\n`,
    );
  }
}

async function endToEndLatency(
  env: Env,
  kafka: Kafka,
  receiver: Receiver,
  example: unknown,
): Promise<Latency> {
  const prefix = `bench:${randomUUID().slice(0, 8)}:`;
  const redis = new RedisConnection({ url: env.redisUrl, prefix }, 'bench');
  await redis.connect();
  const repository = new SubscriptionRepository(
    redis,
    storeKeys(prefix),
    new SecretCipher(Buffer.from(env.secretKey, 'base64')),
  );
  await createSubscriptions(repository, receiver.url, 1);
  // At the topic's end, like the throughput cases: a new group would otherwise first read (and
  // skip) every record the earlier cases wrote, inside the measured window.
  const group = `bench-${randomUUID().slice(0, 8)}`;
  await startGroupAtEnd(kafka, group);
  const processEnv = fanoutEnv({ ...env, prefix }, group);
  const fanout = await startAppProcess('apps/fanout/src/main.ts', 'FANOUT_PORT', processEnv);
  const ingest = await startAppProcess(
    'apps/ingest-bridge/src/main.ts',
    'INGEST_BRIDGE_PORT',
    processEnv,
  );
  receiver.reset();
  receiver.trackArrivals = true;
  const pool = new Pool(ingest.url, { connections: 32 });
  const sent = new Map<string, number>();
  const answered = new Map<string, number>();
  // Many keys, as real traffic has: one key would make ordered delivery strictly sequential.
  const bodies = Array.from({ length: 500 }, () =>
    JSON.stringify({ ...(example as Record<string, unknown>), orderId: randomUUID() }),
  );
  const warmup = LATENCY_RATE * LATENCY_WARMUP_SECONDS;
  const total = warmup + LATENCY_RATE * LATENCY_SECONDS;
  const inFlight = new Set<Promise<void>>();
  try {
    // Let the consumer settle in; the schedule starts after it (started before it, the first
    // 3 s of events all went at once and the backlog they made was what got measured).
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const started = performance.now();
    const cpuOf = () => ({
      fanout: cpuSeconds(fanout.process.pid),
      ingest: cpuSeconds(ingest.process.pid),
    });
    let measuredFrom = cpuOf();
    for (let i = 0; i < total; i++) {
      if (i === warmup) measuredFrom = cpuOf();
      const due = started + (i * 1000) / LATENCY_RATE;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      const id = randomUUID();
      if (i >= warmup) sent.set(id, performance.timeOrigin + performance.now());
      const request = pool
        .request({
          path: '/v1/events/order.created',
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${ADMIN_KEY}`,
            'ce-id': id,
          },
          body: bodies[i % bodies.length],
        })
        .then(async (response) => {
          await response.body.text();
          answered.set(id, performance.timeOrigin + performance.now());
          if (response.statusCode !== 202)
            throw new Error(`ingest answered ${response.statusCode}`);
        });
      const tracked = request.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
    }
    await Promise.all(inFlight);
    await waitUntil(() => receiver.arrivals.size >= total, `${total} receipts`, 60_000);
    const measuredTo = cpuOf();
    const perEvent = (seconds: number) => (seconds * 1e6) / (total - warmup);
    // Only what was sent after the warm-up counts.
    if (process.env.BENCH_LATENCY_TRACE) traceLatency(sent, answered, receiver, started);
    const spans = (span: (id: string, at: number) => number) => {
      const sorted = [...sent].map(([id, at]) => span(id, at)).sort((a, b) => a - b);
      return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), sorted };
    };
    const whole = spans((id, at) => receiver.arrivals.get(id)! - at);
    const answer = spans((id, at) => answered.get(id)! - at);
    const afterAnswer = spans((id) => receiver.arrivals.get(id)! - answered.get(id)!);
    return {
      p50: whole.p50,
      p99: whole.p99,
      max: whole.sorted[whole.sorted.length - 1]!,
      answer: { p50: answer.p50, p99: answer.p99 },
      afterAnswer: { p50: afterAnswer.p50, p99: afterAnswer.p99 },
      fanoutCpuMicros: perEvent(measuredTo.fanout - measuredFrom.fanout),
      ingestCpuMicros: perEvent(measuredTo.ingest - measuredFrom.ingest),
    };
  } finally {
    receiver.trackArrivals = false;
    await pool.close();
    await ingest.stop();
    await fanout.stop();
    await deletePrefix(redis, prefix);
    await redis.close();
  }
}

/**
 * The baseline: a bare kafkajs consumer POSTing every record with undici (64 at a time per
 * partition), in its own process as fanout is (`delivery-baseline.ts`); like fanout's, its group
 * starts where this case's records do.
 */
async function baselineThroughput(
  env: Env,
  kafka: Kafka,
  receiver: Receiver,
  publisher: KafkaPublisher,
  example: unknown,
): Promise<Throughput> {
  const groupId = `baseline-${randomUUID().slice(0, 8)}`;
  await publishCase(kafka, publisher, receiver, groupId, TARGET_DELIVERIES, example);
  const consumer = startScriptProcess(join(REPO_ROOT, 'tools/bench/src/delivery-baseline.ts'), [
    env.brokers,
    groupId,
    TOPIC,
    receiver.url,
  ]);
  try {
    return await measureThroughput(receiver, TARGET_DELIVERIES, consumer.process.pid);
  } finally {
    await consumer.stop();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-delivery-bench-'));
  const broker = await startBrokerProcess(join(dir, 'kafka'));
  const redis = await ensureRedis();
  const receiver = await startReceiver();
  const connection = new KafkaConnection(
    {
      brokers: [broker.brokers],
      embedded: false,
      clientId: 'bench',
      publish: {
        timeoutMs: 30_000,
        lingerMs: 0,
        maxBatchBytes: 1_048_576,
        metadataMaxAgeMs: 30_000,
      },
      consumer: {
        lagIntervalMs: 10_000,
        fetchMinBytes: 1,
        fetchMaxWaitMs: 500,
        fetchLingerMs: 10,
        metadataMaxAgeMs: 30_000,
      },
    },
    'bench',
    pino({ level: 'silent' }),
  );
  const publisher = new KafkaPublisher(connection, pino({ level: 'silent' }));
  const contract = await loadContract(join(REPO_ROOT, 'asyncapi'));
  await new TopicProvisioner(connection, pino({ level: 'silent' })).ensureTopics(
    contract.topics().map((t) => ({ topic: t.topic, partitions: t.partitions })),
  );
  const example = contract.get('order.created')?.example ?? {};
  const kafka = new Kafka({
    clientId: 'bench',
    brokers: [broker.brokers],
    logLevel: logLevel.NOTHING,
  });
  const env: Env = {
    brokers: broker.brokers,
    redisUrl: redis.url,
    prefix: '',
    secretKey: randomBytes(32).toString('base64'),
  };
  // BENCH_DELIVERY_CASES picks parts by hand (say "1,baseline" while profiling); the results
  // file is written only when every part ran.
  const cases = new Set((process.env.BENCH_DELIVERY_CASES ?? ALL_CASES.join(',')).split(','));
  // BENCH_ROUNDS: the throughput cases and the baseline run this many times, interleaved, so a
  // machine whose speed drifts (a shared VM's does, by a third within minutes) slows all alike.
  const rounds = Math.max(1, benchNumber('BENCH_ROUNDS', 3));
  try {
    const samples = new Map<string, Throughput[]>();
    const latencies: Latency[] = [];
    const note = (name: string, sample: Throughput, label: string) => {
      samples.set(name, [...(samples.get(name) ?? []), sample]);
      process.stdout.write(
        `${label}: ${Math.round(sample.perSecond)} deliveries/s; CPU a delivery: process ${sample.cpuMicros.toFixed(1)} µs, machine ${sample.machineMicros.toFixed(1)} µs${sample.loopDelayMs ? `; event-loop delay p99 ${sample.loopDelayMs.p99.toFixed(0)} ms, max ${sample.loopDelayMs.max.toFixed(0)} ms` : ''}${sample.spills ? `; lanes spilled to Redis ${sample.spills} time(s)` : ''}${sample.failedAttempts ? `; ${sample.failedAttempts} attempts failed` : ''}\n`,
      );
    };
    for (let round = 1; round <= rounds; round++) {
      process.stdout.write(`round ${round} of ${rounds}\n`);
      for (const subscriptions of [1, 10, 100]) {
        if (!cases.has(String(subscriptions))) continue;
        note(
          String(subscriptions),
          await fanoutThroughput(env, kafka, publisher, receiver, example, subscriptions),
          `${subscriptions} subscription(s)`,
        );
      }
      if (cases.has('baseline'))
        note(
          'baseline',
          await baselineThroughput(env, kafka, receiver, publisher, example),
          'baseline',
        );
      // Once a round as well: one run's p99 is a hundred events, and a stall of the shared
      // machine at the wrong moment moves it by a factor of five.
      if (cases.has('latency')) {
        const latency = await endToEndLatency(env, kafka, receiver, example);
        latencies.push(latency);
        process.stdout.write(
          `latency at ${LATENCY_RATE}/s: p50 ${latency.p50.toFixed(1)} ms, p99 ${latency.p99.toFixed(1)} ms (ingest's answer p50 ${latency.answer.p50.toFixed(1)}, p99 ${latency.answer.p99.toFixed(1)}; from it to receipt p50 ${latency.afterAnswer.p50.toFixed(1)}, p99 ${latency.afterAnswer.p99.toFixed(1)}); CPU an event: fanout ${latency.fanoutCpuMicros.toFixed(0)} µs, ingest-bridge ${latency.ingestCpuMicros.toFixed(0)} µs\n`,
        );
      }
    }
    if (
      ALL_CASES.every((c) => cases.has(c)) &&
      LATENCY_RATE === TARGET_LATENCY_RATE &&
      LATENCY_WARMUP_SECONDS === TARGET_LATENCY_WARMUP_SECONDS &&
      MAX_IN_FLIGHT === TARGET_MAX_IN_FLIGHT &&
      Object.keys(extraFanoutEnv()).length === 0
    )
      writeResults(RESULTS, report(samples, latencies, rounds));
  } finally {
    await publisher.close();
    await connection.close();
    await receiver.close();
    await broker.stop();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(
  samples: ReadonlyMap<string, Throughput[]>,
  latencies: readonly Latency[],
  rounds: number,
): string {
  const n = (value: number) => Math.round(value).toLocaleString('en-US');
  const us = (value: number) => `${value.toFixed(0)} µs`;
  const ms = (values: number[]) =>
    `${median(values).toFixed(1)} ms (${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)})`;
  const baseline = samples.get('baseline')!;
  const row = (label: string, runs: Throughput[], target: string, share: string) => {
    const rates = runs.map((r) => r.perSecond);
    const delays = runs.flatMap((r) => (r.loopDelayMs ? [r.loopDelayMs] : []));
    const delay =
      delays.length === 0
        ? ''
        : `${median(delays.map((d) => d.p99)).toFixed(0)} / ${median(delays.map((d) => d.max)).toFixed(0)} ms`;
    return `| ${label} | ${n(median(rates))} (${n(Math.min(...rates))}–${n(Math.max(...rates))}) | ${target} | ${share} | ${us(median(runs.map((r) => r.cpuMicros)))} | ${us(median(runs.map((r) => r.machineMicros)))} | ${delay} |`;
  };
  const rows = [1, 10, 100].map((s) => {
    const runs = samples.get(String(s))!;
    // Each round's case against the same round's baseline, then the median of those.
    const shares = runs.map((r, i) => r.perSecond / baseline[i]!.perSecond);
    return row(
      `${s} subscription${s === 1 ? '' : 's'}`,
      runs,
      '20,000; 70 %',
      `${Math.round(100 * median(shares))} %`,
    );
  });
  return `# Webhook delivery

fanout (its own process) reading \`${TOPIC}\` (6 partitions) from the embedded broker (its own
process, file-backed), Redis for the subscription index, delivery log and stats, delivering
${TARGET_DELIVERIES.toLocaleString('en-US')} signed CloudEvents webhooks per case to a local
keep-alive receiver (\`ordering: key\` over 500 keys, \`maxInFlight\` ${TARGET_MAX_IN_FLIGHT}, delivery log on).
Each case's records are all in Kafka before delivery starts (its consumer group starts at
where they begin), as for the baseline. Deliveries/s from the first receipt to the last, and
CPU time a delivery over the same span: the delivering process's (fanout, or the baseline's
consumer, each its own process) and the whole machine's (every process, both cores), and
fanout's event-loop delay over the same span (its \`nodejs_eventloop_lag_*\` metrics: how long
work waited behind whatever ran without a break). The receiver runs in the bench process.
Everything on the same 2-core machine.

${rounds} rounds, each running every case once, then the baseline, then the latency case; the table gives medians
(deliveries/s with the range over the rounds), and "vs. baseline" is the median over the rounds
of the case against the same round's baseline.

| case | deliveries/s | target | vs. baseline | process CPU a delivery | machine CPU a delivery | fanout event-loop delay p99 / max |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}
${row('baseline: bare kafkajs consumer + undici POST', baseline, '', '100 %')}

End to end, \`POST /v1/events/order.created\` on ingest-bridge (its own process) to receipt, at
${LATENCY_RATE.toLocaleString('en-US')} events/s for ${LATENCY_SECONDS} s after ${LATENCY_WARMUP_SECONDS} s of warm-up at that rate, one subscription, once a round
(medians over the rounds, the range in brackets):
p50 **${ms(latencies.map((l) => l.p50))}**, p99 **${ms(latencies.map((l) => l.p99))}** (max ${ms(latencies.map((l) => l.max))}; target p99 < 50 ms).
Of that, ingest-bridge's answer (the POST until its \`202\`, Kafka's acknowledgement included):
p50 ${ms(latencies.map((l) => l.answer.p50))}, p99 ${ms(latencies.map((l) => l.answer.p99))}; from the \`202\` to receipt (negative when the webhook came first):
p50 ${ms(latencies.map((l) => l.afterAnswer.p50))}, p99 ${ms(latencies.map((l) => l.afterAnswer.p99))}.
CPU an event at that rate: fanout ${us(median(latencies.map((l) => l.fanoutCpuMicros)))}, ingest-bridge ${us(median(latencies.map((l) => l.ingestCpuMicros)))}.

Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench delivery\` (Node ${process.version}).
`;
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  });
}
