// A subscription whose change notice fanout missed: the events routed meanwhile reach it once the
// index is fresh again, in order per key, each once.
import { generateSecret } from '@herald/delivery';
import type { ReceivedWebhook } from '@herald/delivery/testing';
import { SecretCipher, SubscriptionRepository } from '@herald/store';
import { newSubscriptionRecord } from '@herald/store/testing';
import { startRedisServer } from '@herald/test-harness';
import {
  createSubscription,
  orderEvents,
  startDeliveryHarness,
  waitFor,
  type DeliveryHarness,
} from './delivery.fixture';
import { metricValue } from './stream-app.fixture';

/** Records of `orders.v1` the group has not committed past (its lag), as Kafka says. */
async function uncommitted(harness: DeliveryHarness): Promise<number> {
  const admin = harness.events.connection.kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets('orders.v1');
    const [committed] = await admin.fetchOffsets({
      groupId: harness.setup.group,
      topics: ['orders.v1'],
    });
    return ends.reduce((sum, { partition, high }) => {
      const at = committed!.partitions.find((p) => p.partition === partition)?.offset ?? '-1';
      return sum + Number(high) - Math.max(0, Number(at));
    }, 0);
  } finally {
    await admin.disconnect();
  }
}

/** Per key, the sequence numbers in the order they arrived. */
function sequencesByKey(received: readonly ReceivedWebhook[]): Map<string, number[]> {
  const byKey = new Map<string, number[]>();
  for (const webhook of received) {
    const { orderId, seq } = (
      JSON.parse(webhook.body) as { data: { orderId: string; seq: number } }
    ).data;
    byKey.set(orderId, [...(byKey.get(orderId) ?? []), seq]);
  }
  return byKey;
}

describe('a subscription the index learned of late', () => {
  let harness: DeliveryHarness;

  beforeAll(async () => {
    harness = await startDeliveryHarness();
  }, 60_000);
  afterAll(() => harness?.close());

  it('gets the events routed without it while its change notice was lost, once the index catches up', async () => {
    const { store, setup, events } = harness;
    const early = await harness.receiver();
    const late = await harness.receiver();
    await createSubscription(store, early.url, { types: ['order.*'] });
    const warmUp = orderEvents(10, 5, 'warm');
    await events.publish(warmUp);
    await early.waitFor(10);

    // Created as the API would, but its notice published where nobody listens: fanout's index
    // does not have it, and Redis's notice counter says a change is missing.
    const unannounced = new SubscriptionRepository(
      store.redis,
      { ...store.keys, subscriptionNoticeChannel: () => `${setup.prefix}channel:nowhere` },
      new SecretCipher(Buffer.from(setup.secretKey, 'base64')),
    );
    await unannounced.create(
      newSubscriptionRecord({ url: late.url, types: ['order.*'], retry: { schedule: ['100ms'] } }),
      { signing: { current: generateSecret(), previous: null }, auth: null },
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Five events of each of eight keys now, two more of each once the index has caught up.
    const keyed = orderEvents(56, 8, 'keyed');
    await events.publish(keyed.slice(0, 40));
    // Routed after fanout gave up waiting for the notice (2 s): to the subscription it knows.
    await early.waitFor(50, 20_000);
    expect(
      await metricValue(harness.fanout.url, 'herald_delivery_stale_index_batches_total'),
    ).toBeGreaterThan(0);
    expect(late.received).toHaveLength(0);
    // Not committed past them: fanout killed now would read them again (commits every 200 ms).
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(await uncommitted(harness)).toBeGreaterThanOrEqual(40);

    // Any later notice shows fanout the gap; it reads the missed one back from the log.
    await createSubscription(store, early.url, { types: ['nothing.matches'] });
    await events.publish(keyed.slice(40));
    await late.waitFor(56, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 300)); // a duplicate would come by now
    const ids = late.received.map((webhook) => String(webhook.headers['webhook-id']));
    expect(new Set(ids).size).toBe(56);
    expect(ids.length).toBe(56);
    expect(ids.filter((id) => id.startsWith('warm'))).toEqual([]);
    // The missed events before the later ones of their key: order per key holds.
    const byKey = sequencesByKey(late.received);
    expect(byKey.size).toBe(8);
    for (const [key, seqs] of byKey) expect([key, seqs]).toEqual([key, [1, 2, 3, 4, 5, 6, 7]]);
    expect(
      await metricValue(harness.fanout.url, 'herald_delivery_stale_index_rerouted_total'),
    ).toBeGreaterThanOrEqual(40);
    expect(early.received).toHaveLength(66);
    await waitFor(async () => (await uncommitted(harness)) === 0, {
      timeoutMs: 5000,
      what: 'the group to commit past every record',
    });
  }, 60_000);
});

describe('delivery while Redis hangs', () => {
  let redis: Awaited<ReturnType<typeof startRedisServer>>;
  let harness: DeliveryHarness;

  beforeAll(async () => {
    // Its own redis-server, so that it can be made to hang.
    redis = await startRedisServer();
    harness = await startDeliveryHarness({}, redis.url);
  }, 60_000);
  afterAll(async () => {
    redis?.resume();
    await harness?.close();
    await redis?.stop();
  });

  it('goes on delivering to the subscriptions it knows, and commits past those records once Redis answers', async () => {
    const { store, events } = harness;
    const receiver = await harness.receiver();
    await createSubscription(store, receiver.url, { types: ['order.*'] });
    // Sixty keys: every partition is read (and claimed in Redis) before Redis stops. One first
    // read while it hangs waits for it: its parked keys must be known before anything is sent.
    const keyed = orderEvents(120, 60, 'hang');
    await events.publish(keyed.slice(0, 60));
    await receiver.waitFor(60);

    redis.hang();
    try {
      await events.publish(keyed.slice(60));
      // Routed once fanout stops waiting for the index (2 s); before, it waited for Redis.
      await receiver.waitFor(120, 15_000);
      expect(await uncommitted(harness)).toBeGreaterThanOrEqual(60);
      // Scraped while Redis hangs (the retries-pending count from Redis failed it with a 500).
      const scrape = await fetch(`${harness.fanout.url}/metrics`);
      expect(scrape.status).toBe(200);
      await scrape.body?.cancel();
      expect(
        await metricValue(harness.fanout.url, 'herald_delivery_stale_index_records'),
      ).toBeGreaterThanOrEqual(60);
    } finally {
      redis.resume();
    }
    await waitFor(async () => (await uncommitted(harness)) === 0, {
      timeoutMs: 10_000,
      what: 'the group to commit past every record once Redis answers',
    });
    expect(await metricValue(harness.fanout.url, 'herald_delivery_stale_index_records')).toBe(0);
    const ids = receiver.received.map((webhook) => String(webhook.headers['webhook-id']));
    expect(new Set(ids).size).toBe(120);
    expect(ids).toHaveLength(120);
    expect(
      await metricValue(harness.fanout.url, 'herald_delivery_stale_index_batches_total'),
    ).toBeGreaterThan(0);
  }, 60_000);
});
