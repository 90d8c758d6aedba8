import { RetryParkingStore } from '@herald/store';
import { createTestStore } from '@herald/store/testing';
import { createLogger } from '@herald/observability';
import { SubscriptionIndex } from '../subscriptions/subscription-index';
import { storedSubscription as stored } from '../subscriptions/subscription.fixture';
import type { DeliveryEngine } from './delivery.engine';
import { serializeTask, type DeliveryTask } from './delivery-task';
import { ParkedTaskPoller } from './parked-task.poller';
import { parseSourceEvent } from './source-event';

function task(subscriptionId: string): DeliveryTask {
  const parsed = parseSourceEvent({
    topic: 'orders.v1',
    partition: 0,
    offset: '7',
    key: Buffer.from('o-1'),
    timestamp: '1700000000000',
    value: Buffer.from('{"orderId":"o-1"}'),
    headers: {
      ce_specversion: Buffer.from('1.0'),
      ce_id: Buffer.from('evt-1'),
      ce_type: Buffer.from('order.created'),
      ce_source: Buffer.from('/orders'),
      ce_time: Buffer.from('2025-03-01T12:00:00.000Z'),
    },
  });
  if (!parsed.ok) throw new Error(parsed.reason);
  return {
    subscriptionId,
    source: parsed.source,
    attempt: 2,
    firstAttemptAt: null,
    origin: 'redrive',
    replayId: null,
    queueId: `d.${subscriptionId}`,
    ordered: false,
    ticket: null,
    claim: null,
  };
}

describe('parked-task poller (real Redis)', () => {
  let store: Awaited<ReturnType<typeof createTestStore>>;
  beforeEach(async () => {
    store = await createTestStore();
  });
  afterEach(() => store.cleanup());

  it('claims the due work of a subscription behind any number of stuck ones', async () => {
    const parking = new RetryParkingStore(store.redis, store.keys);
    const index = new SubscriptionIndex();
    const now = Date.now();
    // Parks are taken for stored subscriptions only.
    const storeRecord = (id: string) =>
      store.redis.client.hset(store.keys.subscription(id), 'status', 'active');
    // 250 subscriptions whose lanes have no room, all due before the one that has room.
    const stuck = Array.from({ length: 250 }, (_, i) => `sub_stuck${String(i).padStart(3, '0')}`);
    for (const [i, id] of stuck.entries()) {
      index.upsert(stored(id));
      await storeRecord(id);
      const parked = task(id);
      await parking.park({
        subscriptionId: id,
        queueId: parked.queueId,
        task: serializeTask(parked),
        dueMs: now - 10_000 + i,
        mode: 'create',
        owner: null,
      });
    }
    index.upsert(stored('sub_free'));
    await storeRecord('sub_free');
    const free = task('sub_free');
    await parking.park({
      subscriptionId: 'sub_free',
      queueId: free.queueId,
      task: serializeTask(free),
      dueMs: now - 1000,
      mode: 'create',
      owner: null,
    });
    const submitted: string[] = [];
    const engine = {
      capacity: (id: string) => (id === 'sub_free' ? 8 : 0),
      submitClaimed: (claimed: DeliveryTask) => submitted.push(claimed.subscriptionId) > 0,
    } as unknown as DeliveryEngine;
    const poller = new ParkedTaskPoller(
      parking,
      engine,
      index,
      createLogger('fanout-test', 'silent'),
      {
        intervalMs: 100,
        leaseMs: 30_000,
      },
    );

    expect(await poller.poll(now)).toBe(false);
    expect(submitted).toEqual(['sub_free']);
    // The stuck ones stay parked and due, in their order, for when their lanes have room.
    expect(await parking.dueSubscriptions(now, 1000)).toEqual(stuck);
  });
});
