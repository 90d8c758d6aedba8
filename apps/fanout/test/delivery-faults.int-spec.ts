// At least once under faults, with everything a separate process: the broker (file-backed CLI),
// Redis (append-only), and fanout (killed with SIGKILL and started again).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWebhookReceiver, type WebhookReceiver } from '@herald/delivery/testing';
import { startBrokerProcess, type BrokerProcess } from '@herald/kafka/testing';
import { backfillRange, type NewSubscription } from '@herald/store';
import { freePort, startRedisServer } from '@herald/test-harness';
import {
  EventPublisher,
  createSubscription,
  newFanoutEnv,
  orderEvents,
  spawnFanout,
  storeFor,
  waitFor,
  type FanoutEnv,
  type FanoutProcess,
  type TestEvent,
  type TestStore,
} from './delivery.fixture';
import { metricValue } from './stream-app.fixture';

const FANOUT_ENV = {
  HERALD_FANOUT_SESSION_TIMEOUT_MS: '6000',
  HERALD_DELIVERY_REQUEST_TIMEOUT_MS: '3000',
  HERALD_DELIVERY_LOG: 'false',
  // A replay of a SIGKILLed instance is taken over after 6 s instead of 30.
  HERALD_DELIVERY_CLAIM_LEASE_MS: '6000',
  KAFKA_PUBLISH_TIMEOUT_MS: '5000',
};

/**
 * A receiver for one subscription that checks order per key as it goes: an event arriving while
 * an earlier one of its key has not succeeded is noted (and later excused only if every missing
 * one was dead-lettered). A share of requests fails on purpose.
 */
async function orderCheckingReceiver(failureRate: number, phase: () => string = () => '') {
  const succeeded = new Map<string, number>();
  const ids = new Set<string>();
  const suspicious: { key: string; missing: number[] }[] = [];
  /** Deliveries of an id already delivered, by the phase of the test they came in. */
  const duplicates = new Map<string, number>();
  let successes = 0;
  const receiver: WebhookReceiver = await startWebhookReceiver({
    respond: (request) => {
      const { orderId, seq } = (
        JSON.parse(request.body) as { data: { orderId: string; seq: number } }
      ).data;
      const done = succeeded.get(orderId) ?? 0;
      if (seq > done + 1)
        suspicious.push({
          key: orderId,
          missing: Array.from({ length: seq - done - 1 }, (_, i) => done + 1 + i),
        });
      if (Math.random() < failureRate) return { status: 500 };
      successes += 1;
      const id = String(request.headers['webhook-id']);
      if (ids.has(id)) duplicates.set(phase(), (duplicates.get(phase()) ?? 0) + 1);
      ids.add(id);
      if (seq > done) succeeded.set(orderId, seq);
      return { status: 204 };
    },
  });
  return {
    receiver,
    ids,
    suspicious,
    duplicates,
    get successes() {
      return successes;
    },
  };
}

type CheckingReceiver = Awaited<ReturnType<typeof orderCheckingReceiver>>;

async function deadLetteredIds(
  store: TestStore,
  subscriptionId: string,
): Promise<Map<string, true>> {
  const ids = new Map<string, true>();
  let cursor: string | null = null;
  do {
    const page = await store.deadLetters.list(subscriptionId, { limit: 100, cursor });
    for (const letter of page.items) ids.set(letter.eventId, true);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return ids;
}

/** Waits until each subscription has every event delivered or dead-lettered; returns the dead letters. */
async function awaitEverything(
  store: TestStore,
  targets: { id: string; check: CheckingReceiver }[],
  batch: readonly TestEvent[],
  timeoutMs: number,
) {
  const letters = new Map<string, Map<string, true>>();
  let missing: number[] = [];
  await waitFor(
    async () => {
      missing = [];
      for (const { id, check } of targets) {
        const dead = await deadLetteredIds(store, id);
        letters.set(id, dead);
        missing.push(
          batch.filter((event) => !check.ids.has(event.id) && !dead.has(event.id)).length,
        );
      }
      return missing.every((n) => n === 0);
    },
    { timeoutMs, intervalMs: 1000, what: 'every event at every subscription or its dead letters' },
  ).catch((error: Error) => {
    throw new Error(`${error.message} (missing per subscription: ${missing.join(', ')})`);
  });
  return letters;
}

function checkOrder(
  check: CheckingReceiver,
  batch: readonly TestEvent[],
  dead: Map<string, true>,
): string[] {
  const idOf = new Map(batch.map((e) => [`${e.key}#${(e.data as { seq: number }).seq}`, e.id]));
  return check.suspicious
    .filter(({ key, missing }) => missing.some((seq) => !dead.has(idOf.get(`${key}#${seq}`) ?? '')))
    .map(({ key, missing }) => `${key}: sent while ${missing.join(',')} had not succeeded`);
}

describe('at least once under faults (separate processes)', () => {
  let dir: string;
  let broker: BrokerProcess;
  let brokerPort: number;
  let redis: Awaited<ReturnType<typeof startRedisServer>>;
  let redisPort: number;
  const fanouts: FanoutProcess[] = [];
  const receivers: WebhookReceiver[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'herald-faults-'));
    brokerPort = await freePort();
    redisPort = await freePort();
    broker = await startBrokerProcess(join(dir, 'kafka'), { port: brokerPort });
    redis = await startRedisServer({ port: redisPort, dir: join(dir, 'redis'), appendOnly: true });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.close()));
    await Promise.all(fanouts.map((f) => f.kill('SIGKILL')));
    await broker?.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function fanout(setup: FanoutEnv): Promise<FanoutProcess> {
    const started = await spawnFanout(setup, FANOUT_ENV);
    fanouts.push(started);
    return started;
  }

  it('delivers 10,000 events to three subscriptions through three SIGKILLs, a broker restart and a Redis restart', async () => {
    const setup = newFanoutEnv(broker.brokers, redis.url);
    const store = await storeFor(setup);
    // What the test is doing as each delivery comes, for telling which fault a duplicate follows.
    let phase = 'before any fault';
    const steady = [
      await orderCheckingReceiver(0, () => phase),
      await orderCheckingReceiver(0, () => phase),
      await orderCheckingReceiver(0.3, () => phase),
    ];
    receivers.push(...steady.map((s) => s.receiver));
    const subscriptions = await Promise.all(
      steady.map((check, i) =>
        createSubscription(store, check.receiver.url, {
          maxInFlight: 32,
          // The flaky one runs out of retries now and then: those events must be dead letters.
          retry: { schedule: i === 2 ? ['50ms', '100ms'] : Array<string>(8).fill('100ms') },
        }),
      ),
    );
    let current = await fanout(setup);
    const events = new EventPublisher(broker.brokers);
    const batch = orderEvents(10_000, 100);
    const chunks = Array.from({ length: 20 }, (_, i) => batch.slice(i * 500, (i + 1) * 500));
    const publish = async (chunk: TestEvent[]) => {
      await waitFor(
        async () => {
          try {
            await events.publish(chunk);
            return true;
          } catch {
            return false;
          }
        },
        { timeoutMs: 60_000, intervalMs: 500, what: 'a publish to go through' },
      );
    };
    const faults: Record<number, () => Promise<void>> = {
      3: async () => {
        phase = 'after SIGKILL 1';
        await current.kill('SIGKILL');
        current = await fanout(setup);
      },
      6: async () => {
        phase = 'after the broker restart';
        await broker.stop();
        broker = await startBrokerProcess(join(dir, 'kafka'), { port: brokerPort });
      },
      9: async () => {
        phase = 'after SIGKILL 2';
        await current.kill('SIGKILL');
        current = await fanout(setup);
      },
      12: async () => {
        phase = 'after the Redis restart';
        await redis.stop();
        redis = await startRedisServer({
          port: redisPort,
          dir: join(dir, 'redis'),
          appendOnly: true,
        });
      },
      15: async () => {
        phase = 'after SIGKILL 3';
        await current.kill('SIGKILL');
        current = await fanout(setup);
      },
    };
    const started = Date.now();
    for (const [i, chunk] of chunks.entries()) {
      await publish(chunk);
      await faults[i]?.();
    }
    const letters = await awaitEverything(
      store,
      subscriptions.map((s, i) => ({ id: s.subscription.id, check: steady[i]! })),
      batch,
      150_000,
    );
    const seconds = (Date.now() - started) / 1000;
    const delivered = steady.reduce((sum, s) => sum + s.successes, 0);
    const distinct = steady.reduce((sum, s) => sum + s.ids.size, 0);
    const dead = [...letters.values()].reduce((sum, m) => sum + m.size, 0);
    console.log(
      `faults test: ${batch.length} events × 3 subscriptions in ${seconds.toFixed(1)} s; ` +
        `${distinct} distinct deliveries, ${dead} dead letters, ${delivered - distinct} duplicates ` +
        `(duplicate rate ${((100 * (delivered - distinct)) / distinct).toFixed(2)} %)`,
    );
    const byPhase = new Map<string, number[]>();
    for (const [i, check] of steady.entries())
      for (const [name, count] of check.duplicates) {
        const counts = byPhase.get(name) ?? [0, 0, 0];
        counts[i] = count;
        byPhase.set(name, counts);
      }
    console.log(
      `faults test: duplicates per subscription (steady, steady, flaky), by what came last: ${
        [...byPhase].map(([name, counts]) => `${name} ${counts.join('/')}`).join('; ') || 'none'
      }`,
    );
    for (const [i, check] of steady.entries())
      expect(checkOrder(check, batch, letters.get(subscriptions[i]!.subscription.id)!)).toEqual([]);
    // Only the flaky subscription may have dead letters.
    expect(
      letters.get(subscriptions[0]!.subscription.id)!.size +
        letters.get(subscriptions[1]!.subscription.id)!.size,
    ).toBe(0);
    await events.close();
    await current.kill('SIGTERM');
    await store.cleanup();
  }, 240_000);

  it('shares the partitions between two instances and loses nothing when one stops', async () => {
    const setup = newFanoutEnv(broker.brokers, redis.url);
    const store = await storeFor(setup);
    const checks = [await orderCheckingReceiver(0), await orderCheckingReceiver(0.1)];
    receivers.push(...checks.map((c) => c.receiver));
    const subscriptions = await Promise.all(
      checks.map((check) =>
        createSubscription(store, check.receiver.url, {
          retry: { schedule: Array<string>(8).fill('100ms') },
        }),
      ),
    );
    const [first, second] = await Promise.all([fanout(setup), fanout(setup)]);
    const delivered = (instance: FanoutProcess) =>
      metricValue(instance.url, 'herald_deliveries_total', 'outcome="delivered"');
    const events = new EventPublisher(broker.brokers);
    const batch = orderEvents(4000, 80);
    await events.publish(batch.slice(0, 2000));
    // Both instances took part: the group split the partitions between them.
    await waitFor(async () => (await delivered(first)) > 0 && (await delivered(second)) > 0, {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: 'both instances to deliver',
    });
    await first.kill('SIGTERM');
    await events.publish(batch.slice(2000));
    const letters = await awaitEverything(
      store,
      subscriptions.map((s, i) => ({ id: s.subscription.id, check: checks[i]! })),
      batch,
      90_000,
    );
    for (const [i, check] of checks.entries())
      expect(checkOrder(check, batch, letters.get(subscriptions[i]!.subscription.id)!)).toEqual([]);
    const total = checks.reduce((sum, c) => sum + c.successes, 0);
    const distinct = checks.reduce((sum, c) => sum + c.ids.size, 0);
    console.log(
      `two instances: ${distinct} distinct deliveries, ${total - distinct} duplicates after a graceful stop`,
    );
    await events.close();
    await second.kill('SIGTERM');
    await store.cleanup();
  }, 180_000);

  it('keeps noting its progress while its commits hang (broker frozen), so after a SIGKILL nothing settled is sent again', async () => {
    const setup = newFanoutEnv(broker.brokers, redis.url);
    const store = await storeFor(setup);
    // 204 while `answering`; otherwise requests are held unanswered (and never counted).
    let answering = true;
    const answered = new Map<string, number>();
    const target = await startWebhookReceiver({
      respond: (request) => {
        if (!answering) return 'hang';
        const id = String(request.headers['webhook-id']);
        answered.set(id, (answered.get(id) ?? 0) + 1);
        return { status: 204 };
      },
    });
    receivers.push(target);
    // At 400 a second, so the 2,000 take five: most are still in memory when the broker freezes.
    await createSubscription(store, target.url, {
      maxInFlight: 8,
      maxPerSecond: 400,
      ordering: 'none',
    });
    const events = new EventPublisher(broker.brokers);
    const batch = orderEvents(2000, 50);
    // Started first: it creates the topics.
    const doomed = await fanout(setup);
    await events.publish(batch);
    await waitFor(() => answered.size >= 200, { timeoutMs: 30_000, what: '200 deliveries' });
    // Frozen: every commit from now on waits for a broker that does not answer.
    broker.child.kill('SIGSTOP');
    try {
      // Deliveries go on from memory, settled past the commit...
      const before = answered.size;
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(answered.size).toBeGreaterThan(before);
      // ...then nothing settles while two progress notes' intervals pass.
      answering = false;
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await doomed.kill('SIGKILL');
    } finally {
      broker.child.kill('SIGCONT');
    }
    answering = true;
    const successor = await fanout(setup);
    await waitFor(() => batch.every((event) => answered.has(event.id)), {
      timeoutMs: 60_000,
      what: 'every event delivered',
    });
    const duplicates = [...answered.values()].filter((n) => n > 1).length;
    expect(duplicates).toBe(0);
    await successor.kill('SIGTERM');
    await events.close();
    await store.cleanup();
  }, 120_000);

  /**
   * `count` events delivered live to a fresh subscription, then a replay of them (from a second
   * before them) under way on a first fanout instance at 40 deliveries a second, so it is still
   * running when that instance stops.
   */
  async function replayUnderWay(count: number) {
    const setup = newFanoutEnv(broker.brokers, redis.url);
    const store = await storeFor(setup);
    const target = await startWebhookReceiver();
    receivers.push(target);
    const sub = await createSubscription(store, target.url, {
      types: ['order.created'],
      maxPerSecond: 40,
    });
    const first = await fanout(setup);
    const events = new EventPublisher(broker.brokers);
    const from = new Date(Date.now() - 1000);
    const batch = orderEvents(count, count / 10);
    await events.publish(batch);
    await target.waitFor(count, 60_000);
    const replay = await store.replays.request({
      subscriptionId: sub.subscription.id,
      tenant: 'acme',
      from: { time: from.toISOString() },
      to: null,
    });
    const current = async () => (await store.replays.get(replay.id))!;
    await waitFor(async () => (await current()).progress.delivered >= 20, {
      what: 'the replay under way',
      timeoutMs: 30_000,
    });
    return {
      setup,
      store,
      events,
      batch,
      first,
      current,
      /** Event ids delivered marked `herald-replay: true`, sorted. */
      replayed: () =>
        [
          ...new Set(
            target.received
              .filter((r) => r.headers['herald-replay'] === 'true')
              .map((r) => String(r.headers['webhook-id'])),
          ),
        ].sort(),
      async completed(what: string, timeoutMs: number) {
        await waitFor(async () => (await current()).status === 'completed', {
          what,
          timeoutMs,
          intervalMs: 500,
        });
        return current();
      },
    };
  }

  it('takes over a replay whose instance was SIGKILLed and runs it again to its end', async () => {
    const run = await replayUnderWay(200);
    await run.first.kill('SIGKILL');
    expect((await run.current()).status).toBe('running');

    await fanout(run.setup);
    // The dead instance's lease (6 s here) runs out, another instance takes the replay over.
    const done = await run.completed('the replay taken over and completed', 90_000);
    expect(done.restarts).toBe(1);
    expect(done.progress).toMatchObject({ matched: 200, delivered: 200 });
    expect(run.replayed()).toEqual(run.batch.map((e) => e.id).sort());
    await run.events.close();
    await run.store.cleanup();
  }, 180_000);

  it('hands a replay back when its instance stops on SIGTERM, and the next instance runs it to its end', async () => {
    const run = await replayUnderWay(120);
    // Published after the replay captured its end offsets: live only, also after the restart.
    await run.events.publish(orderEvents(30, 3, 'later'));
    // A graceful stop (a rolling deploy): the replay is not ended, it waits for an instance.
    await run.first.kill('SIGTERM');
    expect(await run.current()).toMatchObject({ status: 'requested', restarts: 1 });
    expect(run.first.output.join('\n')).toContain('replay handed back');

    await fanout(run.setup);
    const done = await run.completed('the replay run again to its end', 60_000);
    expect(done.restarts).toBe(1);
    // The run again read the range the first run captured, not up to a later end.
    expect(done.progress).toMatchObject({ matched: 120, delivered: 120 });
    expect(run.replayed()).toEqual(run.batch.map((e) => e.id).sort());
    await run.events.close();
    await run.store.cleanup();
  }, 180_000);

  it('reads a partition it had paused for its backlog again when the partition comes back after a rebalance', async () => {
    const setup = newFanoutEnv(broker.brokers, redis.url);
    const store = await storeFor(setup);
    const target = await startWebhookReceiver();
    receivers.push(target);
    // A rate-limited subscription: its lane keeps going, slowly, so every partition's backlog
    // passes the (small) bound and the partition is paused.
    await createSubscription(store, target.url, {
      types: ['order.created'],
      maxPerSecond: 10,
      maxInFlight: 4,
    });
    const env = { ...FANOUT_ENV, HERALD_DELIVERY_MAX_BACKLOG: '4' };
    const first = await spawnFanout(setup, env);
    fanouts.push(first);
    const events = new EventPublisher(broker.brokers);
    const before = orderEvents(240, 240);
    await events.publish(before);
    await waitFor(() => first.output.join('').includes('partition paused: backlog'), {
      what: 'partitions paused for their backlog',
      timeoutMs: 30_000,
    });
    // A second instance takes some of the paused partitions; when it stops they come back.
    const second = await spawnFanout(setup, env);
    fanouts.push(second);
    await waitFor(() => /"assigned":\[[^\]]*"orders\.v1\/\d/.test(second.output.join('')), {
      what: 'the second instance to be given partitions of orders.v1',
      timeoutMs: 30_000,
    });
    await second.kill('SIGTERM');
    const after = orderEvents(60, 60);
    await events.publish(after);

    const expected = [...before, ...after].map((e) => e.id).sort();
    await waitFor(
      () =>
        new Set(target.received.map((r) => String(r.headers['webhook-id']))).size >=
        expected.length,
      { what: 'every event delivered', timeoutMs: 90_000, intervalMs: 500 },
    );
    expect(
      [...new Set(target.received.map((r) => String(r.headers['webhook-id'])))].sort(),
    ).toEqual(expected);
    expect(first.output.join('')).toContain('partition resumed: paused before it moved');
    await events.close();
    await first.kill('SIGTERM');
    await store.cleanup();
  }, 180_000);

  it('reads a partition paused for its backlog again as soon as half of it is settled, not at the next commit', async () => {
    const setup = newFanoutEnv(broker.brokers, redis.url);
    const store = await storeFor(setup);
    const target = await startWebhookReceiver();
    receivers.push(target);
    await createSubscription(store, target.url, { types: ['order.created'] });
    // Commits (and, before, resumes) only once a minute: far past this test's wait.
    const started = await spawnFanout(setup, {
      ...FANOUT_ENV,
      HERALD_DELIVERY_MAX_BACKLOG: '4',
      HERALD_DELIVERY_COMMIT_INTERVAL_MS: '60000',
    });
    fanouts.push(started);
    const events = new EventPublisher(broker.brokers);
    // The first fetch of each partition brings more than the bound: every partition is paused.
    const first = orderEvents(120, 120);
    await events.publish(first);
    await target.waitFor(first.length, 30_000);
    expect(started.output.join('')).toContain('partition paused: backlog');
    const second = orderEvents(60, 60);
    await events.publish(second);
    const expected = [...first, ...second].map((e) => e.id).sort();
    await waitFor(
      () =>
        new Set(target.received.map((r) => String(r.headers['webhook-id']))).size >=
        expected.length,
      { what: 'the events published after the pause delivered', timeoutMs: 20_000 },
    );
    expect(
      [...new Set(target.received.map((r) => String(r.headers['webhook-id'])))].sort(),
    ).toEqual(expected);
    expect(started.output.join('')).toContain('partition resumed');
    const metrics = await (await fetch(`${started.url}/metrics`)).text();
    expect(metrics).toMatch(
      /herald_delivery_backlog_pauses_total\{[^}]*topic="orders\.v1"[^}]*\} [1-9]/,
    );
    await events.close();
    await started.kill('SIGTERM');
    await store.cleanup();
  }, 120_000);

  it('exits 0 within its shutdown budget on SIGTERM while a partner’s request hangs', async () => {
    const setup = newFanoutEnv(broker.brokers, redis.url);
    const store = await storeFor(setup);
    const hanging = await startWebhookReceiver({ respond: () => 'hang' });
    receivers.push(hanging);
    await createSubscription(store, hanging.url, { types: ['order.created'] });
    // The default request timeout (15 s) is longer than this shutdown budget.
    const started = await spawnFanout(setup, {
      ...FANOUT_ENV,
      HERALD_DELIVERY_REQUEST_TIMEOUT_MS: '15000',
      HERALD_SHUTDOWN_TIMEOUT_MS: '4000',
    });
    fanouts.push(started);
    const events = new EventPublisher(broker.brokers);
    await events.publish(orderEvents(3, 3));
    await hanging.waitFor(1, 30_000);
    const signalled = Date.now();
    await started.kill('SIGTERM');
    const took = Date.now() - signalled;
    expect([started.child.exitCode, started.output.join('')]).toEqual([
      0,
      expect.stringContaining('shut down cleanly'),
    ]);
    expect(took).toBeLessThan(4000);
    await events.close();
    await store.cleanup();
  });

  it('takes over a redrive whose instance died holding it, and delivers every letter again', async () => {
    const setup = newFanoutEnv(broker.brokers, redis.url);
    const store = await storeFor(setup);
    const target = await startWebhookReceiver({ respond: () => ({ status: 500 }) });
    receivers.push(target);
    const sub = await createSubscription(store, target.url, {
      types: ['order.created'],
      retry: { schedule: ['100ms'] },
    });
    const first = await fanout(setup);
    const events = new EventPublisher(broker.brokers);
    const batch = orderEvents(40, 8);
    await events.publish(batch);
    const letters = await waitFor(
      async () => {
        const page = await store.deadLetters.list(sub.subscription.id, { limit: 100 });
        return page.items.length === batch.length && page.items;
      },
      { what: 'every event dead-lettered', timeoutMs: 60_000, intervalMs: 250 },
    );
    await first.kill('SIGTERM');
    target.respondWith(() => ({ status: 204 }));

    // An instance claims the redrive and dies before finishing it: its claim stays in Redis with
    // a lease nobody renews, which is what a SIGKILL at any point of the redrive leaves behind.
    const request = await store.deadLetters.requestRedrive({
      subscriptionId: sub.subscription.id,
      tenant: 'acme',
      ids: null,
    });
    expect((await store.deadLetters.claimRedrive(Date.now(), 3000))?.id).toBe(request.id);
    const before = target.received.length;

    const second = await fanout(setup);
    // Once the dead claim's lease has run out, the running instance takes the redrive over.
    await waitFor(
      async () =>
        (
          await store.deadLetters.get(
            sub.subscription.id,
            letters.map((l) => l.id),
          )
        ).every((letter) => letter.redrivenAt !== null),
      { what: 'every letter marked redriven', timeoutMs: 60_000, intervalMs: 250 },
    );
    const redelivered = await waitFor(
      () => {
        const again = target.received
          .slice(before)
          .filter((r) => r.headers['herald-attempt'] === '1');
        return again.length >= batch.length && again;
      },
      { what: 'every letter delivered again', timeoutMs: 30_000 },
    );
    expect([...new Set(redelivered.map((r) => String(r.headers['webhook-id'])))].sort()).toEqual(
      batch.map((e) => e.id).sort(),
    );
    expect(second.output.join('')).toContain('redrive taken over');
    expect(await store.redis.client.llen(store.keys.redriveClaimed())).toBe(0);
    await events.close();
    await second.kill('SIGTERM');
    await store.cleanup();
  }, 180_000);

  it('keeps order per key between a backfill and the live events of the same keys, and asks for a backfill nobody asked for', async () => {
    const setup = newFanoutEnv(broker.brokers, redis.url);
    const store = await storeFor(setup);
    const check = await orderCheckingReceiver(0);
    // The second subscription's backfill is never asked for, as when subscription-api stops
    // between making a subscription active and asking: fanout must ask for it.
    const unasked = await orderCheckingReceiver(0);
    receivers.push(check.receiver, unasked.receiver);
    await fanout(setup);
    const events = new EventPublisher(broker.brokers);
    const prefix = `bf${Date.now().toString(36)}`;
    const all = orderEvents(400, 10, prefix);
    // 30 events of each key before the subscriptions exist (their backfill), 10 after (live).
    await events.publish(all.slice(0, 300));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const options: Partial<NewSubscription> = {
      from: 'earliest',
      // Only this test's events (the topic holds the other tests' too), slowly enough that the
      // backfill is still running when the live events come.
      filter: { 'data.orderId': { $regex: `^${prefix}-` } },
      maxPerSecond: 100,
      maxInFlight: 8,
    };
    const sub = await createSubscription(store, check.receiver.url, options);
    const unaskedSub = await createSubscription(store, unasked.receiver.url, options);
    // What subscription-api does once the subscription is active.
    const range = backfillRange(sub.subscription)!;
    const backfill = await store.replays.request({
      subscriptionId: sub.subscription.id,
      tenant: 'acme',
      from: { time: range.from },
      to: { time: range.to },
    });
    await events.publish(all.slice(300));
    for (const receiver of [check, unasked])
      await waitFor(() => receiver.ids.size === all.length, {
        what: `all ${all.length} events (got ${receiver.ids.size})`,
        timeoutMs: 60_000,
        intervalMs: 500,
      });
    // Per key, no live event came while one of the backfill's was still to succeed.
    expect(check.suspicious).toEqual([]);
    expect(unasked.suspicious).toEqual([]);
    expect(await store.replays.get(backfill.id)).toMatchObject({
      status: 'completed',
      progress: { matched: 300, delivered: 300 },
    });
    // fanout asked for the missing one, once.
    const unaskedRange = backfillRange(unaskedSub.subscription)!;
    expect(await store.replays.list(unaskedSub.subscription.id)).toEqual([
      expect.objectContaining({
        from: { time: unaskedRange.from },
        to: { time: unaskedRange.to },
        status: 'completed',
        progress: expect.objectContaining({ matched: 300, delivered: 300 }),
      }),
    ]);
    await events.close();
    await store.cleanup();
  }, 120_000);
});
