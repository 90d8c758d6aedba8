import { PendingDisableStore } from './pending-disables.store';
import { createTestStore } from './testing';

describe('PendingDisableStore', () => {
  let store: Awaited<ReturnType<typeof createTestStore>>;
  let pending: PendingDisableStore;

  beforeAll(async () => {
    store = await createTestStore();
    pending = new PendingDisableStore(store.redis, store.keys);
  });
  afterAll(() => store.cleanup());

  it('keeps each disable until its event is published, and drops what does not parse', async () => {
    const entry = {
      reason: 'endpoint_gone',
      lastStatus: 410,
      lastSuccessAt: null,
      failingSince: null,
      at: 1000,
    };
    await pending.add('sub_a', entry);
    await pending.add('sub_b', { ...entry, reason: 'failing_too_long' });
    await store.redis.client.hset(store.keys.pendingDisables(), 'sub_bad', '{');
    expect(await pending.list()).toEqual(
      new Map([
        ['sub_a', entry],
        ['sub_b', { ...entry, reason: 'failing_too_long' }],
      ]),
    );
    await pending.remove('sub_a');
    expect([...(await pending.list()).keys()]).toEqual(['sub_b']);
    expect(await store.redis.client.hexists(store.keys.pendingDisables(), 'sub_bad')).toBe(0);
  });
});
