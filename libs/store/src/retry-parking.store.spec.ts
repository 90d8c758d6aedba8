import { createTestStore } from './testing';
import { RetryParkingStore } from './retry-parking.store';

describe('RetryParkingStore', () => {
  let store: Awaited<ReturnType<typeof createTestStore>>;
  let parking: RetryParkingStore;
  const owner = { topic: 'orders.v1', partition: 2, token: 'instance-a' };

  beforeAll(async () => {
    store = await createTestStore();
    parking = new RetryParkingStore(store.redis, store.keys);
  });
  afterAll(() => store.cleanup());

  /** A subscription's record as far as this store looks at it: that it exists. */
  const storeSubscription = (id: string) =>
    store.redis.client.hset(store.keys.subscription(id), 'status', 'active');

  it('parks a head, queues later tasks of its key behind it and claims only the head', async () => {
    await storeSubscription('sub_a');
    await parking.ownPartition(owner.topic, owner.partition, owner.token);
    const park = (task: string, mode: 'create' | 'append' = 'create') =>
      parking.park({ subscriptionId: 'sub_a', queueId: 'k1', task, dueMs: 1000, mode, owner });
    expect(await park('t1')).toBe('parked');
    expect(await park('t2', 'append')).toBe('queued');
    expect(await park('t3')).toBe('queued');
    expect(await parking.dueSubscriptions(999)).toEqual([]);
    expect(await parking.dueSubscriptions(1000)).toEqual(['sub_a']);

    const claimedAt = Date.now();
    const [claim, ...rest] = await parking.claimDue('sub_a', {
      nowMs: 1000,
      leaseMs: 5000,
      limit: 10,
    });
    expect(rest).toEqual([]);
    expect(claim).toMatchObject({ queueId: 'k1', task: 't1' });
    expect(claim!.lease).toBeGreaterThanOrEqual(claimedAt + 5000);
    // Claimed: nobody else sees it due until the lease ends.
    expect(await parking.claimDue('sub_a', { nowMs: 2000, leaseMs: 5000, limit: 10 })).toEqual([]);
    expect(
      await parking.finish(claim!, { kind: 'retry', task: 't1b', dueMs: 3000 }, owner, 2000),
    ).toBe(true);
    const [again] = await parking.claimDue('sub_a', { nowMs: 3000, leaseMs: 5000, limit: 10 });
    expect(again).toMatchObject({ task: 't1b' });
    expect(await parking.finish(again!, { kind: 'done' }, owner, 3100)).toBe(true);
    const [next] = await parking.claimDue('sub_a', { nowMs: 3100, leaseMs: 5000, limit: 10 });
    expect(next).toMatchObject({ task: 't2' });
    expect(await parking.count()).toBe(2);
    expect(await store.redis.client.hget(store.keys.subscriptionStats('sub_a'), 'pending')).toBe(
      '2',
    );
  });

  it('finishes a head and claims the next task of its queue in one step, until the queue is empty', async () => {
    await storeSubscription('sub_chain');
    await parking.ownPartition(owner.topic, owner.partition, owner.token);
    for (const task of ['c1', 'c2', 'c3'])
      await parking.park({
        subscriptionId: 'sub_chain',
        queueId: 'k',
        task,
        dueMs: 0,
        mode: 'create',
        owner,
      });
    const countBefore = await parking.count();
    const [head] = await parking.claimDue('sub_chain', { nowMs: 10, leaseMs: 5000, limit: 10 });
    const second = await parking.finishAndClaimNext(head!, owner, 5000, 1000);
    expect(second).toEqual({
      kept: true,
      next: { subscriptionId: 'sub_chain', queueId: 'k', task: 'c2', lease: 6000 },
    });
    // Claimed: the poller does not see it due, not even long after the first finish.
    expect(await parking.claimDue('sub_chain', { nowMs: 5999, leaseMs: 5000, limit: 10 })).toEqual(
      [],
    );
    // The claim it returned is a claim: a finish under another lease is refused.
    expect(
      await parking.finishAndClaimNext({ ...second.next!, lease: 1 }, owner, 5000, 1100),
    ).toEqual({ kept: false, next: null });
    const third = await parking.finishAndClaimNext(second.next!, owner, 5000, 1200);
    expect(third.next).toMatchObject({ task: 'c3', lease: 6200 });
    expect(await parking.finishAndClaimNext(third.next!, owner, 5000, 1300)).toEqual({
      kept: true,
      next: null,
    });
    expect(await parking.count()).toBe(countBefore - 3);
    expect(await parking.dueSubscriptions(Number.MAX_SAFE_INTEGER)).not.toContain('sub_chain');
    // The partition no longer lists the key as parked.
    const { parked } = await parking.ownPartition(owner.topic, owner.partition, owner.token);
    expect(parked.get('sub_chain')).toBeUndefined();
  });

  it('refuses a finish whose lease ran out and was claimed again', async () => {
    await storeSubscription('sub_b');
    await parking.park({
      subscriptionId: 'sub_b',
      queueId: 'x',
      task: 'only',
      dueMs: 0,
      mode: 'create',
      owner: null,
    });
    const [first] = await parking.claimDue('sub_b', { nowMs: 10, leaseMs: 100, limit: 5 });
    const [second] = await parking.claimDue('sub_b', {
      nowMs: first!.lease,
      leaseMs: 100,
      limit: 5,
    });
    expect(second).toMatchObject({ task: 'only' });
    expect(await parking.finish(first!, { kind: 'done' }, null, 210)).toBe(false);
    expect(await parking.finish(second!, { kind: 'done' }, null, 210)).toBe(true);
    expect(await parking.dueSubscriptions(Number.MAX_SAFE_INTEGER)).not.toContain('sub_b');
  });

  it('leases a claim from when it is made, however long before its round began', async () => {
    await storeSubscription('sub_stall');
    await parking.park({
      subscriptionId: 'sub_stall',
      queueId: 'x',
      task: 'once',
      dueMs: 0,
      mode: 'create',
      owner: null,
    });
    const leaseMs = 30_000;
    // A poll round that read its clock, then stalled for longer than the lease before claiming.
    const stalledRound = Date.now() - 2 * leaseMs;
    const [claim] = await parking.claimDue('sub_stall', { nowMs: stalledRound, leaseMs, limit: 5 });
    expect(claim).toMatchObject({ task: 'once' });
    // Another instance's round, now: the head is still claimed.
    expect(await parking.claimDue('sub_stall', { nowMs: Date.now(), leaseMs, limit: 5 })).toEqual(
      [],
    );
    expect(await parking.finish(claim!, { kind: 'done' }, null)).toBe(true);
  });

  it('lets only the partition owner park, and tells a new owner which keys are parked and who owned it', async () => {
    const source = { topic: 'kitchen.v1', partition: 0 };
    await storeSubscription('sub_c');
    expect((await parking.ownPartition(source.topic, source.partition, 'old')).previousOwner).toBe(
      null,
    );
    expect(
      await parking.park({
        subscriptionId: 'sub_c',
        queueId: 'k9',
        task: 'a',
        dueMs: 5,
        mode: 'create',
        owner: { ...source, token: 'old' },
      }),
    ).toBe('parked');
    const { parked, previousOwner } = await parking.ownPartition(
      source.topic,
      source.partition,
      'new',
    );
    expect([...(parked.get('sub_c') ?? [])]).toEqual(['k9']);
    expect(previousOwner).toBe('old');
    expect(
      await parking.park({
        subscriptionId: 'sub_c',
        queueId: 'k9',
        task: 'b',
        dueMs: 5,
        mode: 'append',
        owner: { ...source, token: 'old' },
      }),
    ).toBe('not-owner');
    expect(
      await parking.park({
        subscriptionId: 'sub_c',
        queueId: 'other',
        task: 'c',
        dueMs: 5,
        mode: 'append',
        owner: { ...source, token: 'new' },
      }),
    ).toBe('no-queue');
    const [claim] = await parking.claimDue('sub_c', { nowMs: 10, leaseMs: 100, limit: 5 });
    await parking.finish(claim!, { kind: 'drop-queue' }, source, 20);
    const again = await parking.ownPartition(source.topic, source.partition, 'new');
    expect(again).toEqual({ parked: new Map(), previousOwner: 'new' });
  });

  it('parks nothing for a deleted subscription, so its stats do not come back', async () => {
    await storeSubscription('sub_gone');
    const park = (queueId: string, mode: 'create' | 'append' = 'create') =>
      parking.park({ subscriptionId: 'sub_gone', queueId, task: 't', dueMs: 0, mode, owner: null });
    expect(await park('k')).toBe('parked');
    const [claim] = await parking.claimDue('sub_gone', { nowMs: 10, leaseMs: 100, limit: 5 });
    const parkedBefore = await parking.count();
    // Deleted (as SubscriptionRepository.delete does it: the record and its stats go) while a
    // retry of it was under way; the retry's park lands afterwards.
    await store.redis.client.del(
      store.keys.subscription('sub_gone'),
      store.keys.subscriptionStats('sub_gone'),
    );
    expect(await park('k2')).toBe('no-subscription');
    expect(await park('k', 'append')).toBe('no-subscription');
    expect(await store.redis.client.exists(store.keys.subscriptionStats('sub_gone'))).toBe(0);
    expect(await store.redis.client.exists(store.keys.parkedQueue('sub_gone', 'k2'))).toBe(0);
    expect(await store.redis.client.llen(store.keys.parkedQueue('sub_gone', 'k'))).toBe(1);
    expect(await parking.count()).toBe(parkedBefore);
    // The queue parked before the deletion is dropped as before, and brings nothing back either.
    expect(await parking.finish(claim!, { kind: 'drop-queue' }, null, 20)).toBe(true);
    expect(await store.redis.client.exists(store.keys.subscriptionStats('sub_gone'))).toBe(0);
    expect(await parking.count()).toBe(parkedBefore - 1);
  });

  it('counts a failing period from the first failure after the last success', async () => {
    await storeSubscription('sub_d');
    expect(await parking.noteFailure('sub_d', 100)).toBe(100);
    expect(await parking.noteFailure('sub_d', 200)).toBe(100);
    await parking.noteSuccess('sub_d', 300);
    expect(await parking.noteFailure('sub_d', 400)).toBe(400);
  });

  it('ends a failing period at a success the caller saw but had not written yet', async () => {
    await storeSubscription('sub_e');
    expect(await parking.noteFailure('sub_e', 100)).toBe(100);
    expect(await parking.noteFailure('sub_e', 500, 300)).toBe(500);
    expect(await parking.noteFailure('sub_e', 600, 300)).toBe(500);
    // An older success than the one stored changes nothing.
    expect(await parking.noteFailure('sub_e', 700, 50)).toBe(500);
  });
});
