import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, APPS, type Gateway } from '@herald/dev/src/gateway';
import { freePort } from '@herald/test-harness';
import {
  checkIngest,
  checkStream,
  checkSubscription,
  keyOrder,
  settled,
  type CheckedSubscription,
  type IngestFigures,
  type StreamFigures,
  type SubscriptionFigures,
} from './delivery-checker';
import {
  CHANNEL_TOPICS,
  EventLedger,
  HTTP_TYPES,
  KITCHENS,
  SOURCE_TYPES,
  type LedgerEvent,
} from './event-ledger';
import {
  FAULT_TARGETS,
  FaultInjector,
  RestartableRedis,
  type FaultRecord,
  type FaultTarget,
} from './fault-injector';
import { GatewayApi, type SubscriptionRequest } from './gateway-api';
import { KafkaSnapshot } from './kafka-snapshot';
import { MemorySampler, type MemorySample } from './memory-sampler';
import { HttpPublisher, SourceTopicPublisher } from './publishers';
import { SeededRandom, sleep, waitUntil } from './random';
import { SseStreamClient, WsStreamClient, type StreamClient } from './stream-clients';
import {
  ArrivalClock,
  LatencyRecorder,
  WebhookReceiver,
  type ReceiverBehaviour,
} from './webhook-receivers';

const OPERATIONAL_TOPIC = 'herald.operational';
const TENANT_A = 'acme';
const TENANT_B = 'globex';

export interface ScenarioOptions {
  /** Events to publish in all (HTTP and source topic together). */
  readonly events: number;
  /** Events per second. */
  readonly rate: number;
  /** SIGKILL and restart processes while publishing. */
  readonly faults: boolean;
  /** How many faults to inject while publishing (default: one per 12 s, at least one per target). */
  readonly faultCount?: number;
  /** Which processes to kill (default all of them), to reproduce a failure of one. */
  readonly faultTargets?: readonly FaultTarget[];
  readonly seed: number;
  /** Partition keys (order ids); a fifth of them go through the source topic. */
  readonly keys: number;
  /** `chaos`: failing, slow and 410 receivers, faults; `soak`: healthy receivers, no faults. */
  readonly profile: 'chaos' | 'soak';
  /** How long to wait after publishing for everything to be delivered or dead-lettered (ms). */
  readonly drainTimeoutMs: number;
  /** Memory sampling interval (ms). */
  readonly sampleIntervalMs: number;
  /** Keep the data folder (logs, broker and Redis files) even when every check passed. */
  readonly keep: boolean;
  readonly log: (message: string) => void;
  /** Called about once a minute while publishing (soak progress). */
  readonly onMinute?: (minute: number, progress: ScenarioProgress) => void;
}

export interface ScenarioProgress {
  readonly published: number;
  readonly accepted: number;
  readonly delivered: number;
}

export interface CrossTenantProbe {
  readonly what: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface ScenarioReport {
  readonly runId: string;
  readonly profile: 'chaos' | 'soak';
  readonly seed: number;
  readonly rate: number;
  readonly startedAt: string;
  readonly wallSeconds: number;
  readonly publishSeconds: number;
  readonly drainSeconds: number;
  readonly drained: boolean;
  readonly ingest: IngestFigures;
  readonly subscriptions: SubscriptionFigures[];
  readonly streams: StreamFigures[];
  readonly probes: CrossTenantProbe[];
  readonly faults: FaultRecord[];
  readonly peakMemoryBytes: Record<string, number>;
  readonly memorySeries: Record<string, MemorySample[]>;
  /** Per minute since publishing started: receipt − publish latencies (ms), webhooks and streams. */
  readonly webhookLatency: Map<number, number[]>;
  readonly streamLatency: Map<number, number[]>;
  readonly publishedPerMinute: Map<number, number>;
  readonly dataDir: string;
  /** Must-be-0 failures, one line each; empty when the run passed. */
  readonly failures: string[];
}

interface ReceiverPlan {
  readonly name: string;
  readonly tenant: string;
  readonly behaviour: ReceiverBehaviour;
  readonly types: string[];
  readonly kitchenFilter?: string;
  readonly operational?: boolean;
  readonly retry?: string[];
  readonly maxInFlight?: number;
  readonly slowMs?: readonly [number, number];
}

/** The webhook subscriptions of each profile, by tenant. */
function receiverPlans(profile: 'chaos' | 'soak'): ReceiverPlan[] {
  if (profile === 'soak')
    return [
      { name: 'a-orders', tenant: TENANT_A, behaviour: 'fast', types: ['order.*'] },
      {
        name: 'a-orders-slow',
        tenant: TENANT_A,
        behaviour: 'slow',
        types: ['order.created', 'order.completed'],
        slowMs: [5, 40],
        maxInFlight: 32,
      },
      { name: 'b-kitchen', tenant: TENANT_B, behaviour: 'fast', types: ['kitchen.**'] },
      {
        name: 'b-lyon',
        tenant: TENANT_B,
        behaviour: 'fast',
        types: ['kitchen.**'],
        kitchenFilter: KITCHENS[0],
      },
    ];
  const short = Array<string>(8).fill('200ms');
  return [
    { name: 'a-orders', tenant: TENANT_A, behaviour: 'fast', types: ['order.*'], retry: short },
    {
      name: 'a-orders-slow',
      tenant: TENANT_A,
      behaviour: 'slow',
      types: ['order.created', 'order.completed'],
      retry: short,
    },
    // Two quick retries only: a share of its events runs out of them and is dead-lettered.
    {
      name: 'a-flaky',
      tenant: TENANT_A,
      behaviour: 'flaky',
      types: ['order.*'],
      retry: ['100ms', '200ms'],
    },
    { name: 'a-gone', tenant: TENANT_A, behaviour: 'gone', types: ['order.confirmed'] },
    {
      name: 'a-operational',
      tenant: TENANT_A,
      behaviour: 'fast',
      types: ['herald.**'],
      operational: true,
    },
    { name: 'b-kitchen', tenant: TENANT_B, behaviour: 'fast', types: ['kitchen.**'], retry: short },
    {
      name: 'b-lyon-503',
      tenant: TENANT_B,
      behaviour: 'unavailable',
      types: ['kitchen.**'],
      kitchenFilter: KITCHENS[0],
      retry: short,
    },
    {
      name: 'b-operational',
      tenant: TENANT_B,
      behaviour: 'fast',
      types: ['herald.**'],
      operational: true,
    },
  ];
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export { percentile };

/**
 * One run: the whole gateway as processes (its own broker, Redis, ports and data folder), two
 * tenants with their own keys and subscriptions, local webhook receivers and stream clients;
 * publishes over HTTP and to the kitchen's source topic at a steady rate, optionally killing and
 * restarting every process on the way; then waits for everything to settle and checks it all
 * against the ledger and what Kafka holds.
 */
export async function runScenario(options: ScenarioOptions): Promise<ScenarioReport> {
  const { log } = options;
  const started = Date.now();
  const runId = `c${randomBytes(4).toString('hex')}`;
  const random = new SeededRandom(options.seed);
  const dataDir = mkdtempSync(join(tmpdir(), `herald-${options.profile}-`));
  const logDir = join(dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const logs = new Map<string, WriteStream>();
  const onLine = (name: string, line: string): void => {
    let stream = logs.get(name);
    if (!stream) logs.set(name, (stream = createWriteStream(join(logDir, `${name}.log`))));
    stream.write(`${line}\n`);
  };
  log(`run ${runId} (${options.profile}, seed ${options.seed}); data and logs in ${dataDir}`);

  const redis = new RestartableRedis(await freePort(), join(dataDir, 'redis'));
  await redis.start();
  let gateway: Gateway | undefined;
  const receivers: WebhookReceiver[] = [];
  const streams: StreamClient[] = [];
  const closers: (() => Promise<unknown>)[] = [];
  let passed = false;
  try {
    gateway = await startGateway({
      dataDir,
      env: {
        KAFKA_BROKERS: undefined,
        REDIS_URL: redis.url,
        LOG_LEVEL: 'warn',
        HERALD_REDIS_PREFIX: `${runId}:`,
        HERALD_ALLOWED_NETWORKS: '127.0.0.0/8',
        HERALD_ADMIN_KEY: `hk_admin_${randomBytes(18).toString('base64url')}`,
        // A killed member's partitions move on within seconds, not the default 30.
        HERALD_FANOUT_SESSION_TIMEOUT_MS: '6000',
        HERALD_BRIDGE_SESSION_TIMEOUT_MS: '6000',
        HERALD_DELIVERY_REQUEST_TIMEOUT_MS: '5000',
        KAFKA_PUBLISH_TIMEOUT_MS: '5000',
      },
      ports: {
        broker: await freePort(),
        'subscription-api': await freePort(),
        'ingest-bridge': await freePort(),
        fanout: await freePort(),
      },
      onLine,
      log,
    });
    const gw = gateway;
    for (const app of APPS) {
      const ready = await waitUntil(
        async () => (await fetch(`${gw.urls[app.name]}/health/ready`)).status === 200,
        60_000,
        200,
      );
      if (!ready) throw new Error(`${app.name} did not become ready within 60 s`);
    }
    log(`gateway ready after ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const api = new GatewayApi(gw.urls['subscription-api'], gw.adminKey);
    const { types: catalogTypes, examples } = await api.catalog();
    const producerKey = await api.createKey('chaos-producer', 'kitchen-and-orders', [
      'events:publish',
    ]);
    const keyA = await api.createKey(`${TENANT_A}-key`, TENANT_A, [
      'subscriptions:read',
      { scope: 'subscriptions:write', types: ['order.*', 'herald.**'] },
      { scope: 'streams:read', types: ['order.*', 'herald.**'] },
    ]);
    const keyB = await api.createKey(`${TENANT_B}-key`, TENANT_B, [
      'subscriptions:read',
      { scope: 'subscriptions:write', types: ['kitchen.**', 'herald.**'] },
      { scope: 'streams:read', types: ['kitchen.**', 'herald.**'] },
    ]);
    const keyOf = (tenant: string): string => (tenant === TENANT_A ? keyA : keyB);

    const ledger = new EventLedger(runId, options.keys, Math.ceil(options.keys * 0.8));
    const clock = new ArrivalClock();
    const webhookLatency = new LatencyRecorder(Date.now());
    const streamLatency = new LatencyRecorder(Date.now());
    const subscriptions: (CheckedSubscription & { id: string })[] = [];
    for (const plan of receiverPlans(options.profile)) {
      const receiver = new WebhookReceiver({
        name: plan.name,
        tenant: plan.tenant,
        types: plan.types,
        behaviour: plan.behaviour,
        ledger,
        clock,
        latency: webhookLatency,
        ...(plan.slowMs ? { slowMs: plan.slowMs } : {}),
      });
      await receiver.start();
      receivers.push(receiver);
      const request: SubscriptionRequest = {
        kind: 'webhook',
        url: receiver.url,
        types: plan.types,
        description: `chaos ${runId} ${plan.name}`,
        ...(plan.kitchenFilter ? { filter: { 'data.kitchenId': plan.kitchenFilter } } : {}),
        ...(plan.retry ? { retry: { schedule: plan.retry } } : {}),
        ...(plan.maxInFlight ? { maxInFlight: plan.maxInFlight } : {}),
      };
      const id = await api.createSubscription(keyOf(plan.tenant), request);
      receiver.subscriptionId = id;
      subscriptions.push({
        id,
        receiver,
        ...(plan.kitchenFilter ? { kitchenFilter: plan.kitchenFilter } : {}),
        ...(plan.operational ? { operational: true } : {}),
        deadLetters: new Set(),
        status: 'active',
      });
    }

    const http = new HttpPublisher(() => gw.urls['ingest-bridge'], producerKey, examples);
    const source = new SourceTopicPublisher(gw.kafkaBrokers, examples);
    closers.push(() => source.close());

    // Warm-up: fanout's group has joined and indexed every subscription once each receiver got
    // an event. These events are not part of the checks.
    let warmUps = 0;
    const warmedUp = await waitUntil(
      async () => {
        const waiting = subscriptions.filter((s) => !s.operational && s.receiver.requests === 0);
        if (waiting.length === 0) return true;
        const key = ledger.keyFor(0);
        const batch = [
          ...HTTP_TYPES.map((type) => ({ type, publisher: http })),
          ...SOURCE_TYPES.map((type) => ({ type, publisher: source })),
        ];
        await Promise.all(
          batch.flatMap(({ type, publisher }) =>
            KITCHENS.map((kitchen) =>
              publisher.publish({
                n: -1,
                id: ledger.warmUpId(warmUps++),
                type,
                route: publisher === http ? 'http' : 'source',
                keyIndex: 0,
                key,
                kitchen,
                sentAt: 0,
                acceptedAt: 0,
                failed: false,
                attempts: 0,
                lastStatus: 0,
              }),
            ),
          ),
        );
        return false;
      },
      90_000,
      1000,
    );
    if (!warmedUp)
      throw new Error(
        `warm-up: no event reached ${subscriptions
          .filter((s) => !s.operational && s.receiver.requests === 0)
          .map((s) => s.receiver.name)
          .join(', ')} within 90 s`,
      );
    log(`warm-up done after ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const streamPlans: { tenant: string; types: string[]; transport: 'sse' | 'ws' }[] =
      options.profile === 'chaos'
        ? [
            { tenant: TENANT_A, types: ['order.*'], transport: 'sse' },
            { tenant: TENANT_B, types: ['kitchen.**'], transport: 'ws' },
            { tenant: TENANT_B, types: ['herald.**'], transport: 'sse' },
          ]
        : [
            { tenant: TENANT_A, types: ['order.*'], transport: 'sse' },
            { tenant: TENANT_B, types: ['kitchen.**'], transport: 'ws' },
          ];
    for (const plan of streamPlans) {
      const client = new (plan.transport === 'sse' ? SseStreamClient : WsStreamClient)({
        name: `${plan.transport}-${plan.tenant}-${plan.types.join(',')}`,
        tenant: plan.tenant,
        key: keyOf(plan.tenant),
        types: plan.types,
        catalogTypes,
        fanoutUrl: () => gw.urls.fanout,
        ledger,
        latency: streamLatency,
      });
      client.open();
      streams.push(client);
    }

    const probes = await crossTenantProbes(api, gw.urls.fanout, keyA, keyB, subscriptions);

    const sampler = new MemorySampler(
      () => [
        ...[...gw.processes].map(([name, managed]) => ({ name, pid: managed.pid })),
        { name: 'redis', pid: redis.pid },
      ],
      options.sampleIntervalMs,
    );
    sampler.start();
    closers.push(() => Promise.resolve(sampler.stop()));

    // Publishing: event n is due at n / rate; each key's events go one after another, so Kafka
    // order per key is publish order.
    const publishStarted = Date.now();
    webhookLatency.startedAt = publishStarted;
    streamLatency.startedAt = publishStarted;
    const chains = new Map<number, Promise<void>>();
    const publishedPerMinute = new Map<number, number>();
    const injector = new FaultInjector(gw, redis, random, publishStarted, log);
    // Faults strike during the first 85 % of the publishing window, so the last restarts are
    // over before publishing ends and the drain measures recovery, not an outage.
    const windowMs = (options.events * 1000) / options.rate;
    const faultsDone = options.faults
      ? injector.runSchedule(
          windowMs * 0.85,
          options.faultCount ?? Math.max(FAULT_TARGETS.length, Math.round(windowMs / 12_000)),
          options.faultTargets ?? FAULT_TARGETS,
        )
      : Promise.resolve();
    const gone = receivers.find((r) => r.options.behaviour === 'gone');
    const goneAt = Math.floor(options.events * 0.4);
    let nextMinute = 1;
    const send = (event: LedgerEvent): Promise<void> =>
      (event.route === 'http' ? http : source).publish(event);
    for (let n = 0; n < options.events; n++) {
      const due = publishStarted + (n * 1000) / options.rate;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      if (n === goneAt && gone) {
        gone.goAway();
        log(`receiver ${gone.name} now answers 410 Gone (after ${n} events)`);
      }
      const event = ledger.plan();
      const minute = Math.floor((Date.now() - publishStarted) / 60_000);
      publishedPerMinute.set(minute, (publishedPerMinute.get(minute) ?? 0) + 1);
      const previous = chains.get(event.keyIndex) ?? Promise.resolve();
      chains.set(
        event.keyIndex,
        previous.then(() => send(event)),
      );
      if (Date.now() - publishStarted >= nextMinute * 60_000) {
        options.onMinute?.(nextMinute, {
          published: n + 1,
          accepted: ledger.accepted,
          delivered: receivers.reduce((sum, r) => sum + r.firstSuccess.size, 0),
        });
        nextMinute += 1;
      }
    }
    await Promise.all(chains.values());
    await faultsDone;
    const publishSeconds = (Date.now() - publishStarted) / 1000;
    log(
      `published ${ledger.events.length} events in ${publishSeconds.toFixed(1)} s (${ledger.accepted} accepted); draining`,
    );

    // Drain: read Kafka to its end, then wait until every subscription has each event delivered
    // or dead-lettered and every stream has caught up.
    const drainStarted = Date.now();
    const snapshot = new KafkaSnapshot(gw.kafkaBrokers, [...CHANNEL_TOPICS, OPERATIONAL_TOPIC]);
    await snapshot.start();
    closers.push(() => snapshot.stop());
    const refresh = async (): Promise<void> => {
      for (const subscription of subscriptions) {
        if (subscription.operational) continue;
        subscription.deadLetters = await api.deadLetterIds(subscription.id);
      }
    };
    const drained = await waitUntil(
      async () => {
        if (!(await snapshot.caughtUp())) return false;
        const missingFromKafka = ledger.events.some(
          (e) => e.acceptedAt > 0 && !snapshot.copies.has(e.id),
        );
        if (missingFromKafka && Date.now() - drainStarted < options.drainTimeoutMs / 2)
          return false;
        await refresh();
        if (!subscriptions.every((s) => settled(s, ledger, snapshot))) return false;
        return streams.every((client) => {
          const figures = checkStream(client, snapshot);
          return (
            figures.refused !== undefined || figures.stoppedBy !== undefined || figures.gaps === 0
          );
        });
      },
      options.drainTimeoutMs,
      2000,
    );
    // Late duplicates or stray deliveries would show up in this short quiet period.
    await sleep(options.profile === 'chaos' ? 2000 : 5000);
    await waitUntil(() => snapshot.caughtUp(), 20_000, 500);
    await refresh();
    for (const subscription of subscriptions)
      subscription.status = await api.subscriptionStatus(subscription.id);
    const drainSeconds = (Date.now() - drainStarted) / 1000;
    const finalProbes = await crossTenantProbes(api, gw.urls.fanout, keyA, keyB, subscriptions);
    sampler.stop();

    const order = keyOrder(ledger, snapshot);
    const ingest = checkIngest(ledger, snapshot);
    const subscriptionFigures = subscriptions.map((s) =>
      checkSubscription(s, ledger, snapshot, order),
    );
    const streamFigures = streams.map((client) => checkStream(client, snapshot));
    const allProbes = [...probes, ...finalProbes];

    const failures: string[] = [];
    if (ingest.acceptedNotInKafka > 0)
      failures.push(`${ingest.acceptedNotInKafka} accepted events are not on their channel topic`);
    for (const s of subscriptionFigures) {
      if (s.missing > 0) failures.push(`${s.name}: ${s.missing} missing`);
      if (s.orderViolations > 0) failures.push(`${s.name}: ${s.orderViolations} order violations`);
      if (s.crossTenant > 0) failures.push(`${s.name}: ${s.crossTenant} cross-tenant deliveries`);
    }
    for (const s of streamFigures) {
      if (s.gaps > 0) failures.push(`stream ${s.name}: ${s.gaps} gaps`);
      if (s.repeats > 0) failures.push(`stream ${s.name}: ${s.repeats} repeats`);
      if (s.crossTenant > 0)
        failures.push(`stream ${s.name}: ${s.crossTenant} events outside its tenant or types`);
      // The run deletes, pauses and disables nothing a stream needs.
      if (s.stoppedBy !== undefined)
        failures.push(`stream ${s.name}: ended for good by the server (${s.stoppedBy})`);
    }
    for (const probe of allProbes)
      if (!probe.ok) failures.push(`cross-tenant probe failed: ${probe.what} (${probe.detail})`);
    const goneFigures = subscriptionFigures.find((s) => s.behaviour === 'gone');
    if (goneFigures && goneFigures.status !== 'disabled')
      failures.push(`${goneFigures.name} answered 410 but is ${goneFigures.status}, not disabled`);
    for (const fault of injector.faults)
      if (fault.error) failures.push(`restarting ${fault.target} failed: ${fault.error}`);
    if (!drained && failures.length === 0)
      failures.push(`not settled within ${options.drainTimeoutMs / 1000} s of draining`);

    passed = failures.length === 0;
    return {
      runId,
      profile: options.profile,
      seed: options.seed,
      rate: options.rate,
      startedAt: new Date(started).toISOString(),
      wallSeconds: (Date.now() - started) / 1000,
      publishSeconds,
      drainSeconds,
      drained,
      ingest,
      subscriptions: subscriptionFigures,
      streams: streamFigures,
      probes: allProbes,
      faults: injector.faults,
      peakMemoryBytes: Object.fromEntries(sampler.peaks),
      memorySeries: Object.fromEntries(sampler.series),
      webhookLatency: webhookLatency.buckets,
      streamLatency: streamLatency.buckets,
      publishedPerMinute,
      dataDir,
      failures,
    };
  } finally {
    for (const client of streams) client.close();
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await gateway?.stop().catch(() => undefined);
    await redis.stop().catch(() => undefined);
    await Promise.all(receivers.map((r) => r.close()));
    await Promise.all(
      [...logs.values()].map((s) => new Promise((resolve) => s.end(() => resolve(undefined)))),
    );
    if (passed && !options.keep) rmSync(dataDir, { recursive: true, force: true });
    else log(`data and logs kept in ${dataDir}`);
  }
}

/**
 * Tenant B's key must not read tenant A's subscriptions or dead letters, nor list them, nor open
 * a stream of types only A may read; and the other way round.
 */
async function crossTenantProbes(
  api: GatewayApi,
  fanoutUrl: string,
  keyA: string,
  keyB: string,
  subscriptions: readonly (CheckedSubscription & { id: string })[],
): Promise<CrossTenantProbe[]> {
  const probes: CrossTenantProbe[] = [];
  const ofA = subscriptions.find((s) => s.receiver.options.tenant === TENANT_A)!;
  const ofB = subscriptions.find((s) => s.receiver.options.tenant === TENANT_B)!;
  for (const [key, other, name] of [
    [keyB, ofA, 'B reads A'],
    [keyA, ofB, 'A reads B'],
  ] as const) {
    for (const path of [
      `/v1/subscriptions/${other.id}`,
      `/v1/subscriptions/${other.id}/dead-letters`,
    ]) {
      const { status } = await api.request('GET', path, { key });
      probes.push({
        what: `${name}: GET ${path.replace(other.id, '{id}')}`,
        ok: status === 404 || status === 403,
        detail: `answered ${status}`,
      });
    }
  }
  for (const [key, tenant] of [
    [keyA, TENANT_A],
    [keyB, TENANT_B],
  ] as const) {
    const { status, json } = await api.request('GET', '/v1/subscriptions?limit=100', { key });
    const items = (json as { items?: { tenant?: string }[] } | null)?.items ?? [];
    const foreign = items.filter((item) => item.tenant !== tenant).length;
    probes.push({
      what: `${tenant} lists only its own subscriptions`,
      ok: status === 200 && foreign === 0,
      detail: `answered ${status} with ${foreign} of another tenant`,
    });
  }
  for (const [key, types, name] of [
    [keyB, 'order.*', 'B streams order.*'],
    [keyA, 'kitchen.**', 'A streams kitchen.**'],
  ] as const) {
    let status = 0;
    try {
      const response = await fetch(
        `${fanoutUrl}/v1/streams/sse?types=${encodeURIComponent(types)}`,
        { headers: { authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(5000) },
      );
      status = response.status;
      await response.body?.cancel();
    } catch {
      status = 0;
    }
    probes.push({ what: name, ok: status === 403, detail: `answered ${status}` });
  }
  return probes;
}
