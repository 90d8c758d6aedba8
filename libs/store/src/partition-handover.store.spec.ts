import { PartitionHandoverStore } from './partition-handover.store';
import { createTestStore } from './testing';

describe('PartitionHandoverStore', () => {
  let store: Awaited<ReturnType<typeof createTestStore>>;
  let handovers: PartitionHandoverStore;

  beforeAll(async () => {
    store = await createTestStore();
    handovers = new PartitionHandoverStore(store.redis, store.keys);
  });
  afterAll(() => store.cleanup());

  it('keeps the latest hand-over of each partition, for its time to live', async () => {
    expect(await handovers.read('orders.v1', 0)).toBeNull();
    await handovers.write('orders.v1', 0, { token: 'a:1', state: 'first' }, 60_000);
    await handovers.write('orders.v1', 0, { token: 'b:1', state: 'second' }, 60_000);
    await handovers.write('orders.v1', 1, { token: 'a:1', state: 'other' }, 60_000);
    expect(await handovers.read('orders.v1', 0)).toEqual({ token: 'b:1', state: 'second' });
    expect(await handovers.read('orders.v1', 1)).toEqual({ token: 'a:1', state: 'other' });
    const ttl = await store.redis.client.pttl(store.keys.partitionHandover('orders.v1', 0));
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('says an instance is running until it stops or its mark expires', async () => {
    expect(await handovers.isRunning('i1')).toBe(false);
    await handovers.markRunning('i1', 60_000);
    await handovers.markRunning('i2', 50);
    expect(await handovers.isRunning('i1')).toBe(true);
    await handovers.markStopped('i1');
    expect(await handovers.isRunning('i1')).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(await handovers.isRunning('i2')).toBe(false);
  });
});
