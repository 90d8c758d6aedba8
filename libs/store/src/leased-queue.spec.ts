import { DeadLetterRepository, REDRIVE_LEASE_MS } from './dead-letter.repository';
import { REPLAY_LEASE_MS, ReplayRepository } from './replay.repository';
import { LeaseLostError } from './store.errors';
import { createTestStore } from './testing';

type TestStore = Awaited<ReturnType<typeof createTestStore>>;

// Two engine instances share one Redis: `stalled` claims, then stops renewing (an event-loop
// pause, a partition from Redis) past its lease; `other` takes the work over and claims it. When
// `stalled` wakes, every write under its old claim must be refused and change nothing.
describe('claims under a lease, fenced by their token (real Redis)', () => {
  let store: TestStore;

  beforeEach(async () => {
    store = await createTestStore();
  });
  afterEach(() => store.cleanup());

  const snapshot = async (hash: string, claimed: string) => ({
    hash: await store.redis.client.hgetall(hash),
    claimed: await store.redis.client.lrange(claimed, 0, -1),
  });

  it('refuses every write of a replay claim taken over by another instance', async () => {
    const stalled = new ReplayRepository(store.redis, store.keys);
    const other = new ReplayRepository(store.redis, store.keys);
    const replay = await stalled.request({
      subscriptionId: 'sub_fence',
      tenant: 'a',
      from: { time: '2025-01-01T00:00:00Z' },
      to: null,
    });
    const first = (await stalled.claim())!;
    await stalled.addProgress(first, { scanned: 3 });

    // Its lease runs out; the other instance takes it over before anyone claims it again.
    expect(await other.takeOverExpired(Date.now() + REPLAY_LEASE_MS + 1)).toEqual([replay.id]);
    const queued = await snapshot(store.keys.replay(replay.id), store.keys.replayClaimed());
    await expect(stalled.renew(first)).rejects.toThrow(LeaseLostError);
    await expect(stalled.addProgress(first, { scanned: 5 })).rejects.toThrow(LeaseLostError);
    await expect(stalled.finish(first, { status: 'completed' })).rejects.toThrow(LeaseLostError);
    expect(await snapshot(store.keys.replay(replay.id), store.keys.replayClaimed())).toEqual(
      queued,
    );

    // Claimed again, by the other instance: the stalled one still changes nothing.
    const second = (await other.claim())!;
    expect(second).toMatchObject({ id: replay.id, status: 'running', restarts: 1 });
    expect(second.token).not.toBe(first.token);
    await other.addProgress(second, { scanned: 2, delivered: 1 });
    const running = await snapshot(store.keys.replay(replay.id), store.keys.replayClaimed());
    const ends = [{ topic: 't', partition: 0, offset: '9' }];
    await expect(stalled.renew(first, 10 * REPLAY_LEASE_MS)).rejects.toThrow(LeaseLostError);
    await expect(stalled.addProgress(first, { scanned: 100, delivered: 100 })).rejects.toThrow(
      LeaseLostError,
    );
    await expect(stalled.firstEnds(first, ends)).rejects.toThrow(LeaseLostError);
    await expect(stalled.finish(first, { status: 'completed' })).rejects.toThrow(LeaseLostError);
    await expect(stalled.handBack(first)).rejects.toThrow(LeaseLostError);
    expect(await snapshot(store.keys.replay(replay.id), store.keys.replayClaimed())).toEqual(
      running,
    );

    // The other instance's claim holds throughout, and it ends the replay.
    await other.renew(second);
    expect(await other.firstEnds(second, ends)).toEqual(ends);
    await other.finish(second, { status: 'completed' });
    expect(await other.get(replay.id)).toMatchObject({
      status: 'completed',
      restarts: 1,
      progress: { scanned: 2, delivered: 1 },
    });
    expect(await store.redis.client.llen(store.keys.replayClaimed())).toBe(0);
  });

  it('refuses the renewal and the finish of a redrive claim taken over by another instance', async () => {
    const stalled = new DeadLetterRepository(store.redis, store.keys);
    const other = new DeadLetterRepository(store.redis, store.keys);
    const request = await stalled.requestRedrive({
      subscriptionId: 'sub_fence',
      tenant: 'a',
      ids: null,
    });
    const first = (await stalled.claimRedrive())!;
    expect(first.id).toBe(request.id);

    expect(await other.takeOverExpiredRedrives(Date.now() + REDRIVE_LEASE_MS + 1)).toEqual([
      request.id,
    ]);
    const second = (await other.claimRedrive())!;
    expect(second.id).toBe(request.id);
    const carried = await snapshot(store.keys.redrive(request.id), store.keys.redriveClaimed());
    // Woken, the stalled instance would extend the lease and delete the request the other one
    // is still carrying out.
    await expect(stalled.renewRedrive(first, Date.now() + 10 * REDRIVE_LEASE_MS)).rejects.toThrow(
      LeaseLostError,
    );
    await expect(stalled.finishRedrive(first)).rejects.toThrow(LeaseLostError);
    await expect(stalled.handBackRedrive(first)).rejects.toThrow(LeaseLostError);
    expect(await snapshot(store.keys.redrive(request.id), store.keys.redriveClaimed())).toEqual(
      carried,
    );
    expect(await store.redis.client.llen(store.keys.redriveQueue())).toBe(0);

    await other.renewRedrive(second);
    await other.finishRedrive(second);
    expect(await store.redis.client.exists(store.keys.redrive(request.id))).toBe(0);
    expect(await store.redis.client.llen(store.keys.redriveClaimed())).toBe(0);
    // Finished by the other instance: the stalled one's late writes bring nothing back.
    await expect(stalled.renewRedrive(first)).rejects.toThrow(LeaseLostError);
    await expect(stalled.finishRedrive(first)).rejects.toThrow(LeaseLostError);
    expect(await store.redis.client.exists(store.keys.redrive(request.id))).toBe(0);
  });
});
