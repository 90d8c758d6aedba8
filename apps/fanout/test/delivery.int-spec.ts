import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HTTP } from 'cloudevents';
import { Webhook } from 'standardwebhooks';
import type { ReceivedWebhook, WebhookResponder } from '@herald/delivery/testing';
import { HERALD_TOPICS, OffsetLookup, encodeCursor, topicPartitionKey } from '@herald/kafka';
import { createTestConnection, type RunningBroker } from '@herald/kafka/testing';
import { DeadLetterRepository, type DeadLetter } from '@herald/store';
import {
  createSubscription,
  operationalEvents,
  orderEvents,
  readAll,
  shippedContract,
  startDeliveryHarness,
  startSeparateDeliveryHarness,
  waitFor,
  type DeliveryHarness,
  type HarnessFanout,
  type SeparateFanout,
  type EventPublisher,
  type TestEvent,
  type TestStore,
} from './delivery.fixture';
import { metricValue } from './stream-app.fixture';

const bodyOf = (r: ReceivedWebhook) => JSON.parse(r.body) as Record<string, unknown>;
const webhookIds = (rs: readonly ReceivedWebhook[]) => rs.map((r) => r.headers['webhook-id']);
const arrivals = new WeakMap<ReceivedWebhook, number>();
/** Answers by path from a script of statuses (the last one repeats), noting arrival times. */
function scripted(
  scripts: Record<string, { status: number; headers?: Record<string, string> }[]>,
): WebhookResponder {
  const seen = new Map<string, number>();
  return (request) => {
    arrivals.set(request, Date.now());
    const script = scripts[request.path];
    if (!script) return { status: 204 };
    const n = seen.get(request.path) ?? 0;
    seen.set(request.path, n + 1);
    return script[Math.min(n, script.length - 1)]!;
  };
}
/** How late a retry may arrive after its due time on a loaded CI machine (timers, GC, the HTTP hop). */
const SLACK_MS = 300;
const gaps = (rs: readonly ReceivedWebhook[]) =>
  rs.slice(1).map((r, i) => arrivals.get(r)! - arrivals.get(rs[i]!)!);

describe('webhook delivery', () => {
  let harness: DeliveryHarness<SeparateFanout>;
  let broker: RunningBroker;
  let store: TestStore;
  let events: EventPublisher;
  const receiver = (respond?: WebhookResponder) => harness.receiver(respond);

  beforeAll(async () => {
    harness = await startSeparateDeliveryHarness({
      HERALD_DELIVERY_PARK_AFTER_MS: '1000',
      // Small pages, so a redrive of a few dozen letters takes several.
      HERALD_DELIVERY_REDRIVE_PAGE_SIZE: '25',
    });
    ({ broker, store, events } = harness);
  }, 60_000);

  afterAll(() => harness?.close());

  it('signs with Standard Webhooks (both secrets during a rotation) and shapes the three formats', async () => {
    const target = await receiver();
    const old = 'whsec_' + Buffer.from('an-older-secret-of-32-bytes-long!').toString('base64');
    const cloud = await createSubscription(
      store,
      `${target.url}/ce`,
      { format: 'cloudevents' },
      {
        previous: { secret: old, expiresAt: new Date(Date.now() + 3600_000).toISOString() },
      },
    );
    const standard = await createSubscription(store, `${target.url}/std`, { format: 'standard' });
    const tmf = await createSubscription(store, `${target.url}/tmf`, { format: 'tmf688' });
    // With the producer's data schema and an extension: a CloudEvents body carries them.
    const event = {
      ...orderEvents(1, 1)[0]!,
      dataschema: 'https://schemas.acme.test/orders/created/1',
      extensions: { region: 'eu' },
    };
    await events.publish([event]);
    const received = await target.waitFor(3);
    const byPath = new Map(received.map((r) => [r.path, r]));

    const ce = byPath.get('/ce')!;
    for (const secret of [cloud.secret, old])
      expect(() =>
        new Webhook(secret).verify(ce.body, ce.headers as Record<string, string>),
      ).not.toThrow();
    expect(ce.headers['webhook-signature']).toMatch(/^v1,\S+ v1,\S+$/);
    const parsed = HTTP.toEvent({ headers: ce.headers, body: ce.body });
    expect(Array.isArray(parsed) ? parsed[0] : parsed).toMatchObject({
      id: event.id,
      type: 'order.created',
      data: event.data,
      dataschema: 'https://schemas.acme.test/orders/created/1',
      region: 'eu',
    });
    expect(ce.headers['content-type']).toBe('application/cloudevents+json');
    expect(ce.headers).toMatchObject({
      'herald-subscription': cloud.subscription.id,
      'herald-attempt': '1',
      'webhook-id': event.id,
    });
    expect(ce.headers['user-agent']).toBe('Herald/0.1.0');
    expect(ce.headers['herald-replay']).toBeUndefined();

    const std = byPath.get('/std')!;
    expect(() =>
      new Webhook(standard.secret).verify(std.body, std.headers as Record<string, string>),
    ).not.toThrow();
    expect(bodyOf(std)).toEqual({
      type: 'order.created',
      timestamp: expect.any(String),
      data: event.data,
    });

    const tmfBody = byPath.get('/tmf')!;
    expect(() =>
      new Webhook(tmf.secret).verify(tmfBody.body, tmfBody.headers as Record<string, string>),
    ).not.toThrow();
    expect(bodyOf(tmfBody)).toEqual({
      eventId: event.id,
      eventTime: expect.any(String),
      eventType: 'OrderCreateEvent',
      event: event.data,
    });
  });

  it('retries on the schedule, honours and clamps Retry-After, and treats 3xx as a failure', async () => {
    const target = await receiver(
      scripted({
        '/retry': [{ status: 500 }, { status: 500 }, { status: 200 }],
        '/after': [
          { status: 503, headers: { 'retry-after': '5' } },
          { status: 429, headers: { 'retry-after': '0' } },
          { status: 200 },
        ],
        '/moved': [{ status: 302, headers: { location: '/elsewhere' } }, { status: 200 }],
      }),
    );
    await createSubscription(store, `${target.url}/retry`, {
      retry: { schedule: ['500ms', '1500ms'] },
    });
    await createSubscription(store, `${target.url}/after`, {
      retry: { schedule: ['400ms', '400ms'] },
    });
    await createSubscription(store, `${target.url}/moved`, { retry: { schedule: ['100ms'] } });
    const [event] = orderEvents(1, 1);
    await events.publish([event!]);
    await waitFor(() => target.received.length >= 8, { what: '8 requests', timeoutMs: 10_000 });
    const on = (path: string) => target.received.filter((r) => r.path === path);

    const retry = on('/retry');
    expect(retry.map((r) => r.headers['herald-attempt'])).toEqual(['1', '2', '3']);
    expect(new Set(webhookIds(retry))).toEqual(new Set([event!.id]));
    const [first, second] = gaps(retry);
    // 500 ms and 1,500 ms, each ±20 % jitter, plus slack for a loaded machine's timers (SLACK_MS
    // keeps the windows apart: the first gap can't pass for the second step, nor the reverse).
    expect(first).toBeGreaterThanOrEqual(400);
    expect(first).toBeLessThan(600 + SLACK_MS);
    expect(second).toBeGreaterThanOrEqual(1200);
    expect(second).toBeLessThan(1800 + SLACK_MS);

    const after = on('/after');
    expect(after).toHaveLength(3);
    const [stretched, floored] = gaps(after);
    // Retry-After 5 s clamped to twice the scheduled 400 ms; Retry-After 0 raised to 400 ms.
    expect(stretched).toBeGreaterThanOrEqual(800);
    expect(stretched).toBeLessThan(800 + SLACK_MS);
    expect(floored).toBeGreaterThanOrEqual(400);
    expect(floored).toBeLessThan(400 + SLACK_MS);

    expect(on('/moved')).toHaveLength(2);
    expect(on('/elsewhere')).toHaveLength(0);
  });

  it('parks a long retry in Redis and delivers it when due', async () => {
    const target = await receiver(scripted({ '/parked': [{ status: 500 }, { status: 204 }] }));
    const sub = await createSubscription(store, `${target.url}/parked`, {
      retry: { schedule: ['1500ms'] },
    });
    const [event] = orderEvents(1, 1);
    await events.publish([event!]);
    await target.waitFor(1);
    const parked = async () => Number(await store.redis.client.get(store.keys.parkedCount()));
    await waitFor(async () => (await parked()) === 1, { what: 'the retry to be parked' });
    const received = await target.waitFor(2, 10_000);
    expect(gaps(received)[0]).toBeGreaterThanOrEqual(1200);
    expect(received[1]!.headers['herald-attempt']).toBe('2');
    await waitFor(async () => (await parked()) === 0, { what: 'the parked retry to be done' });
    const stats = async () =>
      store.redis.client.hget(store.keys.subscriptionStats(sub.subscription.id), 'delivered');
    await waitFor(async () => (await stats()) === '1', { what: 'stats' });
  });

  it('claims its partitions again when Redis lost or overwrote the claim, and parks and delivers', async () => {
    // Every event's first attempt fails, its retry succeeds.
    const target = await receiver((request) => ({
      status: request.headers['herald-attempt'] === '1' && request.path === '/lost' ? 500 : 204,
    }));
    // The instance holds every partition (and has claimed each in Redis) once it has read from it.
    const warmUp = await receiver();
    const watching = await createSubscription(store, warmUp.url);
    await events.publish(orderEvents(60, 60, 'warm'));
    await warmUp.waitFor(60);
    await store.subscriptions.delete(watching.subscription.id);
    await createSubscription(store, `${target.url}/lost`, { retry: { schedule: ['1500ms'] } });
    // As after a Redis restart that lost its last writes (no claim), or a former owner's
    // claim landing late (another token): every partition of the topic, both ways.
    const topic = (await shippedContract()).get('order.created')!.topic;
    for (let partition = 0; partition < 6; partition++) {
      const key = store.keys.partitionOwner(topic, partition);
      if (partition % 2 === 0) await store.redis.client.del(key);
      else await store.redis.client.set(key, 'a-former-owner:0');
    }
    const batch = orderEvents(12, 12, 'lost');
    await events.publish(batch);
    const received = await target.waitFor(24, 15_000);
    const retried = received.filter((r) => r.headers['herald-attempt'] === '2');
    expect(new Set(webhookIds(retried))).toEqual(new Set(batch.map((e) => e.id)));
  });

  it('keeps a key in order across a pause and resume while an earlier event of it is parked', async () => {
    const target = await receiver(scripted({ '/paused': [{ status: 500 }, { status: 204 }] }));
    const sub = await createSubscription(store, `${target.url}/paused`, {
      retry: { schedule: ['4s'] },
    });
    const [first, second] = orderEvents(2, 1);
    await events.publish([first!]);
    const parked = async () => Number(await store.redis.client.get(store.keys.parkedCount()));
    await waitFor(async () => (await parked()) === 1, { what: 'the retry to be parked' });
    const setStatus = (status: 'paused' | 'active') =>
      store.subscriptions.update(sub.subscription.id, (stored) => ({
        ...stored,
        subscription: { ...stored.subscription, status },
      }));
    // fanout's index, as its metrics show it (no other test here pauses a subscription).
    const pausedInIndex = () =>
      metricValue(harness.fanout.url, 'herald_subscriptions', 'status="paused"');
    const pausedBefore = await pausedInIndex();
    // Paused and resumed well before the parked retry is due: its queue is still in Redis.
    await setStatus('paused');
    await waitFor(async () => (await pausedInIndex()) === pausedBefore + 1, {
      what: 'fanout to see the pause',
    });
    await setStatus('active');
    await waitFor(async () => (await pausedInIndex()) === pausedBefore, {
      what: 'fanout to see the resume',
    });
    await events.publish([second!]);
    const received = await target.waitFor(3, 15_000);
    // The second event of the key waits behind the parked first one.
    expect(received.map((r) => [r.headers['webhook-id'], r.headers['herald-attempt']])).toEqual([
      [first!.id, '1'],
      [first!.id, '2'],
      [second!.id, '1'],
    ]);
  });

  it('disables a subscription whose endpoint answers 410 and says so on herald.operational', async () => {
    const target = await receiver(scripted({ '/gone': [{ status: 410 }] }));
    const sub = await createSubscription(store, `${target.url}/gone`);
    await events.publish(orderEvents(3, 1));
    const status = async () => (await store.subscriptions.get(sub.subscription.id))?.status;
    await waitFor(async () => (await status()) === 'disabled', { what: 'disabled' });
    const disabled = (
      await operationalEvents(broker.brokers, 'herald.subscription.disabled', 1)
    ).filter((e) => e['subscriptionId'] === sub.subscription.id);
    expect(disabled[0]).toMatchObject({ tenant: 'acme', reason: 'endpoint_gone', lastStatus: 410 });
    await events.publish(orderEvents(2, 1));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(target.received).toHaveLength(1);
  });

  it('dead-letters an exhausted delivery, publishes herald.delivery.exhausted, and a redrive delivers it again', async () => {
    const target = await receiver(scripted({ '/dead': [{ status: 500 }] }));
    const sub = await createSubscription(store, `${target.url}/dead`, {
      retry: { schedule: ['100ms'] },
    });
    const [event] = orderEvents(1, 1);
    await events.publish([event!]);
    const letters = await waitFor(
      async () => {
        const page = await store.deadLetters.list(sub.subscription.id, { limit: 10 });
        return page.items.length > 0 && page.items;
      },
      { what: 'a dead letter' },
    );
    expect(letters[0]).toMatchObject({
      eventId: event!.id,
      attempts: 2,
      lastStatus: 500,
      topic: 'orders.v1',
    });
    expect(target.received).toHaveLength(2);
    const dlq = await readAll(broker.brokers, HERALD_TOPICS.dlqDelivery);
    expect(dlq.map((r) => JSON.parse(r.value!.toString()) as unknown)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ eventId: event!.id, subscriptionId: sub.subscription.id }),
      ]),
    );
    const exhausted = await operationalEvents(broker.brokers, 'herald.delivery.exhausted', 1);
    expect(exhausted).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ eventId: event!.id, attempts: 2, lastStatus: 500 }),
      ]),
    );

    target.respondWith(() => ({ status: 200 }));
    await store.deadLetters.requestRedrive({
      subscriptionId: sub.subscription.id,
      tenant: 'acme',
      ids: null,
    });
    const again = await target.waitFor(3, 15_000);
    expect(again[2]!.headers['webhook-id']).toBe(event!.id);
    expect(again[2]!.headers['herald-attempt']).toBe('1');
    const letter = async () =>
      (await store.deadLetters.get(sub.subscription.id, [letters[0]!.id]))[0];
    await waitFor(async () => (await letter())?.redrivenAt !== null, {
      what: 'the letter marked redriven',
    });
  });

  it('sends no herald.delivery.exhausted about an exhausted notice, so a failing subscriber to them does not feed itself', async () => {
    // A tenant's failing endpoint that also subscribes to the notices about its failures: each
    // dead letter publishes a notice that goes to the same endpoint, fails, and is dead-lettered
    // in turn. Without a stop, notices about notices go round for ever (and multiply with every
    // other such subscription of the tenant). The notice about the first failure is sent; the
    // notice about that one failing is published, but not sent to webhooks.
    const target = await receiver(() => ({ status: 500 }));
    const sub = await createSubscription(store, `${target.url}/loop`, {
      tenant: 'loop-tenant',
      types: ['order.*', 'herald.delivery.exhausted'],
      retry: { schedule: [] },
    });
    const [event] = orderEvents(1, 1);
    await events.publish([event!]);
    const notices = async (atLeast: number) =>
      (await operationalEvents(broker.brokers, 'herald.delivery.exhausted', atLeast)).filter(
        (e) => e['subscriptionId'] === sub.subscription.id,
      );
    await waitFor(async () => (await notices(1)).length >= 2, {
      what: 'the notice about the order event and the one about that notice',
    });
    // Time for more rounds, had the notices kept going round.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const mine = await notices(1);
    expect(mine.map((n) => n['type'])).toEqual(['order.created', 'herald.delivery.exhausted']);
    expect(target.received.map((r) => bodyOf(r)['type'])).toEqual([
      'order.created',
      'herald.delivery.exhausted',
    ]);
  });

  it('keeps delivering to one subscription while another one’s endpoint hangs', async () => {
    const hanging = await receiver(() => 'hang');
    const healthy = await receiver();
    const stuck = await createSubscription(store, hanging.url, { maxInFlight: 4 });
    const flowing = await createSubscription(store, healthy.url);
    const batch = orderEvents(500, 50);
    await events.publish(batch);
    const received = await healthy.waitFor(500, 20_000);
    expect(new Set(webhookIds(received))).toEqual(new Set(batch.map((e) => e.id)));
    expect(hanging.received.length).toBeLessThanOrEqual(4);
    // The stats show the stuck one's lag: every event is held unsettled; the other has none.
    await waitFor(async () => (await store.stats.get(stuck.subscription.id)).lagEvents === 500, {
      what: 'the lag of the hanging subscription in its stats',
    });
    await waitFor(async () => (await store.stats.get(flowing.subscription.id)).lagEvents === 0, {
      what: 'no lag for the healthy subscription',
    });
  });

  it('replays exactly the events from a time, in order per key, marked herald-replay, while live delivery goes on', async () => {
    const target = await receiver();
    const sub = await createSubscription(store, target.url, { types: ['order.created'] });
    const before = orderEvents(40, 4, 'before');
    await events.publish(before);
    await target.waitFor(40);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const from = new Date();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const after = orderEvents(60, 4, 'after');
    await events.publish(after);
    await target.waitFor(100);

    const replay = await store.replays.request({
      subscriptionId: sub.subscription.id,
      tenant: 'acme',
      from: { time: from.toISOString() },
      to: null,
    });
    // Published once the replay has captured its end offsets, so they are live-only.
    const started = async () => {
      const current = await store.replays.get(replay.id);
      return current !== null && (current.status === 'completed' || current.progress.scanned > 0);
    };
    await waitFor(started, { what: 'the replay to start reading' });
    const live = orderEvents(30, 3, 'live');
    await events.publish(live);
    const status = async () => (await store.replays.get(replay.id))?.status;
    await waitFor(async () => (await status()) === 'completed', {
      what: 'the replay',
      timeoutMs: 20_000,
    });
    await target.waitFor(190);

    const replayed = target.received.filter((r) => r.headers['herald-replay'] === 'true');
    expect(replayed.map((r) => r.headers['webhook-id']).sort()).toEqual(
      after.map((e) => e.id).sort(),
    );
    const byKey = new Map<string, number[]>();
    for (const r of replayed) {
      const data = bodyOf(r)['data'] as { orderId: string; seq: number };
      byKey.set(data.orderId, [...(byKey.get(data.orderId) ?? []), data.seq]);
    }
    for (const seqs of byKey.values()) expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    const liveIds = new Set(live.map((e) => e.id));
    const liveReceived = target.received.filter((r) =>
      liveIds.has(String(r.headers['webhook-id'])),
    );
    expect(liveReceived).toHaveLength(30);
    expect(liveReceived.every((r) => r.headers['herald-replay'] === undefined)).toBe(true);
    await waitFor(async () => (await store.replays.get(replay.id))!.progress.delivered === 60, {
      what: 'progress',
    });
    expect((await store.replays.get(replay.id))!.progress).toMatchObject({
      matched: 60,
      delivered: 60,
    });
  });

  it('replays from a stream cursor exactly what follows it, and refuses a cursor that was altered', async () => {
    const target = await receiver();
    const sub = await createSubscription(store, target.url, { types: ['order.created'] });
    await events.publish(orderEvents(20, 4, 'older'));
    await target.waitFor(20);
    // The position a stream client would hold now: the end of every partition of the topic.
    const topic = (await shippedContract()).get('order.created')!.topic;
    const lookup = new OffsetLookup(createTestConnection(broker.brokers, 'silent'));
    const ends = await lookup.endOffsets(topic);
    await lookup.close();
    const cursor = encodeCursor(
      new Map(ends.map((e) => [topicPartitionKey(topic, e.partition), BigInt(e.offset)])),
    );
    const newer = orderEvents(30, 3, 'newer');
    await events.publish(newer);
    await target.waitFor(50);

    const replay = await store.replays.request({
      subscriptionId: sub.subscription.id,
      tenant: 'acme',
      from: { cursor },
      to: null,
    });
    const finished = async (id: string) => {
      const current = await store.replays.get(id);
      return current?.status === 'completed' || current?.status === 'failed' ? current : false;
    };
    expect(await waitFor(() => finished(replay.id), { what: 'the replay' })).toMatchObject({
      status: 'completed',
    });
    await target.waitFor(80);
    const replayed = target.received.filter((r) => r.headers['herald-replay'] === 'true');
    expect(replayed.map((r) => r.headers['webhook-id']).sort()).toEqual(
      newer.map((e) => e.id).sort(),
    );

    const altered = `${cursor.slice(0, -2)}${cursor.endsWith('AA') ? 'BB' : 'AA'}`;
    const refused = await store.replays.request({
      subscriptionId: sub.subscription.id,
      tenant: 'acme',
      from: { cursor: altered },
      to: null,
    });
    const failed = await waitFor(() => finished(refused.id), { what: 'the refused replay' });
    expect(failed).toMatchObject({ status: 'failed' });
    expect(failed.error).toMatch(/cursor is not valid/);
  });
  it('runs a replay and a redrive while another subscription’s long replay waits on its endpoint', async () => {
    const slow = await receiver();
    const quick = await receiver();
    const failing = await receiver(scripted({ '/dlq': [{ status: 500 }] }));
    const slowSub = await createSubscription(store, slow.url, { types: ['order.created'] });
    const quickSub = await createSubscription(store, quick.url, { types: ['order.created'] });
    const deadSub = await createSubscription(store, `${failing.url}/dlq`, {
      types: ['order.created'],
      retry: { schedule: ['100ms'] },
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const from = new Date();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const batch = orderEvents(20, 4, 'held');
    await events.publish(batch);
    await slow.waitFor(20);
    await quick.waitFor(20);
    await waitFor(
      async () =>
        (await store.deadLetters.list(deadSub.subscription.id, { limit: 50 })).items.length === 20,
      { what: 'the failing subscription’s dead letters' },
    );

    // The slow subscription's endpoint now hangs: its replay cannot end before its requests time out.
    slow.respondWith(() => 'hang');
    const long = await store.replays.request({
      subscriptionId: slowSub.subscription.id,
      tenant: 'acme',
      from: { time: from.toISOString() },
      to: null,
    });
    await waitFor(async () => (await store.replays.get(long.id))?.status === 'running', {
      what: 'the long replay to start',
    });
    const short = await store.replays.request({
      subscriptionId: quickSub.subscription.id,
      tenant: 'acme',
      from: { time: from.toISOString() },
      to: null,
    });
    failing.respondWith(() => ({ status: 204 }));
    await store.deadLetters.requestRedrive({
      subscriptionId: deadSub.subscription.id,
      tenant: 'acme',
      ids: null,
    });

    await waitFor(async () => (await store.replays.get(short.id))?.status === 'completed', {
      what: 'the other subscription’s replay',
      timeoutMs: 10_000,
    });
    const redelivered = await failing.waitFor(60, 10_000);
    expect(new Set(webhookIds(redelivered.slice(40)))).toEqual(new Set(batch.map((e) => e.id)));
    const replayed = quick.received.filter((r) => r.headers['herald-replay'] === 'true');
    expect(new Set(webhookIds(replayed))).toEqual(new Set(batch.map((e) => e.id)));
    // All of that while the long one still runs, its requests hanging.
    expect((await store.replays.get(long.id))?.status).toBe('running');
    expect(
      slow.received.filter((r) => r.headers['herald-replay'] === 'true').length,
    ).toBeGreaterThan(0);
  });
});

/**
 * An endpoint that answers every request coming before `recoverAt` (ms) at that time, later
 * ones at once, noting how many times each webhook id was answered and any event of a key
 * answered out of order (before the one ahead of it in its key).
 */
async function recoveringEndpoint(recoverAt: number) {
  const lastSeq = new Map<string, number>();
  const seen = new Map<string, number>();
  const problems: string[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const id = String(request.headers['webhook-id']);
      const { orderId, seq } = (
        JSON.parse(Buffer.concat(chunks).toString()) as { data: { orderId: string; seq: number } }
      ).data;
      setTimeout(
        () => {
          // Answered, so delivered: nothing of its key may come before, nor any event twice.
          const last = lastSeq.get(orderId) ?? 0;
          if (seq !== last + 1) problems.push(`${orderId}: ${seq} after ${last}`);
          lastSeq.set(orderId, Math.max(last, seq));
          seen.set(id, (seen.get(id) ?? 0) + 1);
          response.writeHead(204).end();
        },
        Math.max(0, recoverAt - Date.now()),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/recovering`,
    seen,
    problems,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * `batch` published to a new subscription (ordered by key, `maxInFlight`) whose endpoint answers
 * nothing for 2.5 s and then everything, waited for until every event is answered (and half a
 * second more, for any late duplicate): what arrived out of order or more than once, and how
 * many lane spills and chained claims of parked tasks fanout counted meanwhile.
 */
async function deliverPastAStall(
  harness: DeliveryHarness<HarnessFanout>,
  options: { maxInFlight: number; batch: TestEvent[]; timeoutMs: number; what: string },
) {
  const counted = () =>
    Promise.all([
      metricValue(harness.fanout.url, 'herald_delivery_lane_spills_total', 'reason="silent"'),
      metricValue(harness.fanout.url, 'herald_delivery_parked_chained_total'),
    ]);
  const endpoint = await recoveringEndpoint(Date.now() + 2500);
  try {
    const [spillsBefore, chainedBefore] = await counted();
    await createSubscription(harness.store, endpoint.url, {
      maxInFlight: options.maxInFlight,
      ordering: 'key',
    });
    const { batch } = options;
    await harness.events.publish(batch);
    await waitFor(() => batch.every((event) => endpoint.seen.has(event.id)), {
      timeoutMs: options.timeoutMs,
      what: options.what,
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const [spills, chained] = await counted();
    return {
      outOfOrder: endpoint.problems,
      duplicated: [...endpoint.seen].filter(([, n]) => n > 1).map(([id]) => id),
      spills: spills - spillsBefore,
      chained: chained - chainedBefore,
    };
  } finally {
    await endpoint.close();
  }
}

describe('webhook delivery beside a slow endpoint', () => {
  let harness: DeliveryHarness<SeparateFanout>;

  beforeAll(async () => {
    // A lane's memory bound below the partition backlog bound, as with the defaults (2000 < 5000).
    harness = await startSeparateDeliveryHarness({
      HERALD_DELIVERY_LANE_MEMORY: '20',
      HERALD_DELIVERY_MAX_BACKLOG: '100',
      // Hanging requests time out long after any wait here: nothing below waits for them.
      HERALD_DELIVERY_REQUEST_TIMEOUT_MS: '60000',
    });
  });
  afterAll(() => harness?.close());
  // Each test's subscriptions go with it: a slow or closed endpoint left behind would be one more
  // the next test's events go to.
  afterEach(async () => {
    const { subscriptions } = await harness.store.subscriptions.loadAll();
    for (const { subscription } of subscriptions)
      await harness.store.subscriptions.delete(subscription.id);
  });

  /** An endpoint that answers every request, 250 ms after it came: progressing, but slowly. */
  async function slowEndpoint() {
    let requests = 0;
    const server = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        requests += 1;
        setTimeout(() => response.writeHead(204).end(), 250);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/slow`,
      requests: () => requests,
      close: () => {
        server.closeAllConnections();
        return new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  }

  /**
   * Live traffic in waves: a first 60 events and 2 s for the slow lanes to take their pace, then
   * `wave` at a time, `pauseMs` apart (the slow lane never goes a second without an answer).
   */
  async function publishInWaves(batch: readonly TestEvent[], wave: number, pauseMs: number) {
    await harness.events.publish(batch.slice(0, 60));
    await new Promise((resolve) => setTimeout(resolve, 2000));
    for (let at = 60; at < batch.length; at += wave) {
      await harness.events.publish(batch.slice(at, at + wave));
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }

  it('keeps delivering to one subscription while another one’s endpoint answers, but slowly', async () => {
    const slow = await slowEndpoint();
    const fast = await harness.receiver();
    await createSubscription(harness.store, slow.url, { maxInFlight: 1, ordering: 'none' });
    await createSubscription(harness.store, fast.url);
    const batch = orderEvents(1200, 120);
    // The first wave gives the slow lane its pace (4 a second) before the rest come.
    await publishInWaves(batch, 190, 300);
    const received = await fast.waitFor(1200, 20_000);
    expect(new Set(webhookIds(received))).toEqual(new Set(batch.map((e) => e.id)));
    // The slow one got a few, at its own pace; the rest wait parked for it.
    expect(slow.requests()).toBeLessThan(200);
    await slow.close();
  });

  it('keeps delivering to one subscription while another one’s endpoint is slower than the traffic but would drain what its partitions hold within 30 s', async () => {
    // 40 a second: 30 s of its work (1,200 tasks) is more than the six partitions of orders.v1
    // hold unsettled (6 × 100). Its lane never holds 30 s of work, so the drain rule alone never
    // parks it: the partitions pause at their backlog bound with the other subscription's
    // events settled, and that one got them at 40 a second.
    const slow = await slowEndpoint();
    const fast = await harness.receiver();
    await createSubscription(harness.store, slow.url, { maxInFlight: 10, ordering: 'key' });
    await createSubscription(harness.store, fast.url);
    const batch = orderEvents(2400, 120);
    // About 500 a second: the slow endpoint's twelve times, well within what fanout does on a
    // slow machine (its event loop saturated, no lane's pace would count).
    await publishInWaves(batch, 240, 500);
    // Counted in the slow endpoint's answers (40 a second) from the last event published: held
    // back to its pace, the other subscription waits for hundreds more (262 in a run without
    // the rule, about 10 with it); reading on, 3 s' worth at most on a loaded machine.
    const answeredBefore = slow.requests();
    const received = await fast.waitFor(2400, 20_000);
    expect(slow.requests() - answeredBefore).toBeLessThan(120);
    expect(new Set(webhookIds(received))).toEqual(new Set(batch.map((e) => e.id)));
    const heldBack = await metricValue(
      harness.fanout.url,
      'herald_delivery_backlog_held_back_total',
      'topic="orders.v1"',
    );
    expect(heldBack).toBeGreaterThan(0);
    // Its lane parked what it held past its memory's bound for that.
    const spills = await metricValue(
      harness.fanout.url,
      'herald_delivery_lane_spills_total',
      'reason="held_back"',
    );
    expect(spills).toBeGreaterThan(0);
    await slow.close();
  });

  it('keeps delivering to one subscription while another one, slower than its traffic, takes another type of the same partitions', async () => {
    // No record is for both: the slow one's records wait on it alone, and they fill the
    // partitions' backlog bound between the other's.
    const slow = await slowEndpoint();
    const fast = await harness.receiver();
    await createSubscription(harness.store, slow.url, {
      maxInFlight: 10,
      ordering: 'key',
      types: ['order.created'],
    });
    await createSubscription(harness.store, fast.url, { types: ['order.confirmed'] });
    const batch = orderEvents(2400, 120).map((event, i) =>
      i % 2 === 0 ? event : { ...event, type: 'order.confirmed' },
    );
    const confirmed = batch.filter((event) => event.type === 'order.confirmed');
    await publishInWaves(batch, 240, 500);
    const answeredBefore = slow.requests();
    const received = await fast.waitFor(confirmed.length, 20_000);
    expect(slow.requests() - answeredBefore).toBeLessThan(120);
    expect(new Set(webhookIds(received))).toEqual(new Set(confirmed.map((e) => e.id)));
    await slow.close();
  });

  it('reads on for the others once they catch up with a partition paused while every subscription was behind', async () => {
    // Answers what came before `until` only then, later requests at once: behind at first,
    // then as fast as fanout sends.
    const until = Date.now() + 1500;
    const ids = new Set<string>();
    const late = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        const id = String(request.headers['webhook-id']);
        setTimeout(
          () => {
            ids.add(id);
            response.writeHead(204).end();
          },
          Math.max(0, until - Date.now()),
        );
      });
    });
    await new Promise<void>((resolve) => late.listen(0, '127.0.0.1', resolve));
    const slow = await slowEndpoint();
    try {
      await createSubscription(harness.store, slow.url, { maxInFlight: 10, ordering: 'key' });
      await createSubscription(
        harness.store,
        `http://127.0.0.1:${(late.address() as AddressInfo).port}/late`,
      );
      // Every partition past its bound at once, while neither endpoint has answered: the pauses
      // find no subscription ahead. Once the late one answers, it is done with what was read,
      // and only the slow one holds the partitions back: at 40 a second it would settle the half
      // of what they hold that resumes them in 7 s, and all 2,400 in a minute.
      const batch = orderEvents(2400, 120);
      await harness.events.publish(batch);
      await waitFor(() => Date.now() >= until, { timeoutMs: 5000, what: 'the late answers' });
      const answeredBefore = slow.requests();
      await waitFor(() => batch.every((event) => ids.has(event.id)), {
        timeoutMs: 40_000,
        what: 'the late endpoint to get all 2,400',
      });
      // Counted in the slow endpoint's answers since the late one began answering: 71-80 in runs
      // here, 700 when a pause was looked at only as it began (the late one then waited for the
      // slow one's next pauses).
      expect(slow.requests() - answeredBefore).toBeLessThan(400);
    } finally {
      late.closeAllConnections();
      await new Promise<void>((resolve) => late.close(() => resolve()));
      await slow.close();
    }
  });

  it('delivers a key’s events in order, each once, when its endpoint stops answering for a while and then answers again', async () => {
    const outcome = await deliverPastAStall(harness, {
      maxInFlight: 4,
      batch: orderEvents(600, 30),
      timeoutMs: 20_000,
      what: 'every event delivered once the endpoint answers again',
    });
    expect(outcome.outOfOrder).toEqual([]);
    expect(outcome.duplicated).toEqual([]);
    // It did stall: what its lane held went to Redis, the keys in flight behind their heads.
    expect(outcome.spills).toBeGreaterThan(0);
  });

  it('delivers every event to one subscription while another one’s endpoint fails every request at once, retried in memory', async () => {
    const failing = await harness.receiver(() => ({ status: 500 }));
    const fast = await harness.receiver();
    // Retries short enough to wait in memory, one key's at a time: the lane settles a few tasks
    // a second (each after its retries, as a dead letter) and is never a second without an answer.
    await createSubscription(harness.store, failing.url, {
      maxInFlight: 4,
      ordering: 'key',
      retry: { schedule: ['200ms', '200ms', '200ms'] },
    });
    await createSubscription(harness.store, fast.url);
    // In waves, so its records fill every partition's backlog before the later ones are read.
    const batch = orderEvents(1200, 120);
    for (let at = 0; at < batch.length; at += 100) {
      await harness.events.publish(batch.slice(at, at + 100));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const received = await fast.waitFor(1200, 10_000);
    expect(new Set(webhookIds(received))).toEqual(new Set(batch.map((e) => e.id)));
  });

  it.each(['none', 'key'] as const)(
    'delivers every event to one subscription while another one’s endpoint hangs from the start (ordering %s)',
    async (ordering) => {
      const hanging = await harness.receiver(() => 'hang');
      const fast = await harness.receiver();
      await createSubscription(harness.store, hanging.url, { maxInFlight: 4, ordering });
      await createSubscription(harness.store, fast.url);
      // At once: more than the backlog bound of every partition before the hang is noticed.
      const batch = orderEvents(1200, 120);
      await harness.events.publish(batch);
      // Well before the hanging requests time out (60 s here): nothing waits for them. (Within
      // 2 s on an idle machine; the bound is for a loaded one.)
      const received = await fast.waitFor(1200, 30_000);
      expect(new Set(webhookIds(received))).toEqual(new Set(batch.map((e) => e.id)));
      expect(hanging.received.length).toBeLessThanOrEqual(4);
    },
  );
});

describe('webhook delivery of a parked key', () => {
  let harness: DeliveryHarness<SeparateFanout>;

  beforeAll(async () => {
    harness = await startSeparateDeliveryHarness({
      HERALD_DELIVERY_LANE_MEMORY: '20',
      HERALD_DELIVERY_MAX_BACKLOG: '100',
      HERALD_DELIVERY_REQUEST_TIMEOUT_MS: '60000',
      // The poller looks once at the start and then not for ten minutes: whatever is delivered
      // here is claimed as the task before it is settled.
      HERALD_DELIVERY_POLL_INTERVAL_MS: '600000',
    });
  });
  afterAll(() => harness?.close());

  it('sends a parked key’s tasks one after another as its endpoint answers, not one a poll', async () => {
    const outcome = await deliverPastAStall(harness, {
      maxInFlight: 1,
      // One key: its head is in flight when the lane parks it, so the lane holds the claim on
      // the parked copy, and every later task of the key is parked behind it.
      batch: orderEvents(300, 1),
      timeoutMs: 30_000,
      what: 'every event of the parked key delivered',
    });
    expect(outcome.outOfOrder).toEqual([]);
    expect(outcome.duplicated).toEqual([]);
    expect(outcome.spills).toBeGreaterThan(0);
    expect(outcome.chained).toBeGreaterThan(0);
  });
});

describe('a redrive, watched from inside fanout', () => {
  // In this process: the test watches the engine's own dead-letter repository.
  let harness: DeliveryHarness;
  let store: TestStore;
  let events: EventPublisher;
  const receiver = (respond?: WebhookResponder) => harness.receiver(respond);

  beforeAll(async () => {
    harness = await startDeliveryHarness({
      HERALD_DELIVERY_PARK_AFTER_MS: '1000',
      // Small pages, so a redrive of a few dozen letters takes several.
      HERALD_DELIVERY_REDRIVE_PAGE_SIZE: '25',
    });
    ({ store, events } = harness);
  }, 60_000);

  afterAll(() => harness?.close());

  it('redrives all dead letters a page at a time, each once, and none dead-lettered after it started', async () => {
    const target = await receiver(scripted({ '/pages': [{ status: 500 }] }));
    const sub = await createSubscription(store, `${target.url}/pages`, {
      retry: { schedule: ['100ms'] },
    });
    const id = sub.subscription.id;
    const batch = orderEvents(60, 60);
    await events.publish(batch);
    const letters = await waitFor(
      async () => {
        const page = await store.deadLetters.list(id, { limit: 100 });
        return page.items.length === 60 && page.items;
      },
      { what: '60 dead letters' },
    );
    await target.waitFor(120);

    // The engine's own repository, watched: what each page marks, and a letter dead-lettered (as
    // by another instance) once the first page is marked, for an event already among the pages.
    const repository = harness.fanout.app.get(DeadLetterRepository);
    const mark = repository.markRedriven.bind(repository);
    const pages: number[] = [];
    let late: DeadLetter | undefined;
    const watch = jest
      .spyOn(repository, 'markRedriven')
      .mockImplementation(async (subscriptionId, ids, claim, at) => {
        if (subscriptionId === id) {
          pages.push(ids.length);
          if (!late) {
            const { id: _id, redrivenAt: _at, redriveId: _by, ...first } = letters[0]!;
            late = (await store.deadLetters.add(first)).letter!;
          }
        }
        return mark(subscriptionId, ids, claim, at);
      });
    try {
      target.respondWith(() => ({ status: 204 }));
      const request = await store.deadLetters.requestRedrive({
        subscriptionId: id,
        tenant: 'acme',
        ids: null,
      });
      await waitFor(
        async () =>
          (
            await store.deadLetters.get(
              id,
              letters.map((l) => l.id),
            )
          ).every((l) => l.redriveId === request.id) &&
          (await store.redis.client.llen(store.keys.redriveClaimed())) === 0,
        { what: 'the redrive finished', timeoutMs: 15_000 },
      );
      const redelivered = (await target.waitFor(180, 15_000)).slice(120);
      // Parked at once and delivered: give a second delivery of any event the time to show.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(target.received).toHaveLength(180);
      expect(webhookIds(redelivered).sort()).toEqual(batch.map((e) => e.id).sort());
      expect(pages).toEqual([25, 25, 10]);
      expect((await store.deadLetters.get(id, [late!.id]))[0]?.redrivenAt).toBeNull();
    } finally {
      watch.mockRestore();
    }
  });
});
