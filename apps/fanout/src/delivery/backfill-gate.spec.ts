import pino from 'pino';
import { ReplayRepository, backfillRange } from '@herald/store';
import { createTestStore } from '@herald/store/testing';
import { BackfillGate } from './backfill-gate';

describe('BackfillGate (real Redis)', () => {
  let store: Awaited<ReturnType<typeof createTestStore>>;
  let replays: ReplayRepository;

  beforeAll(async () => {
    store = await createTestStore();
    replays = new ReplayRepository(store.redis, store.keys);
  });

  afterAll(() => store?.cleanup());

  /**
   * Ends a replay as its engine instance would (the gate reads only its status); the engine's
   * own `finish` needs the claim, and a subscription's replays are claimed one at a time.
   */
  const end = (id: string, status: 'completed' | 'failed') =>
    store.redis.client.hset(store.keys.replay(id), 'status', status);

  const createdAt = '2026-12-01T10:00:00.000Z';
  const range = backfillRange({ kind: 'webhook', from: 'earliest', createdAt })!;

  it('needs no backfill for a live-only or future start, nor for a stream', () => {
    expect(backfillRange({ kind: 'webhook', from: 'latest', createdAt })).toBeNull();
    expect(backfillRange({ kind: 'webhook', from: '2026-12-02T00:00:00Z', createdAt })).toBeNull();
    expect(backfillRange({ kind: 'stream', from: 'earliest', createdAt })).toBeNull();
    expect(range).toEqual({ from: '1970-01-01T00:00:00.000Z', to: createdAt });
  });

  it('answers false at once, without Redis, when there is nothing to wait for', () => {
    const gate = new BackfillGate(replays, pino({ level: 'silent' }), 1000);
    expect(gate.holds({ id: 'sub_none', tenant: 'a' }, null, 0)).toBe(false);
  });

  it('holds until the backfill has ended, reading its record at most once a recheck', async () => {
    const gate = new BackfillGate(replays, pino({ level: 'silent' }), 1000);
    const subscription = { id: 'sub_gate', tenant: 'a' };
    const backfill = await replays.request({
      subscriptionId: subscription.id,
      tenant: 'a',
      from: { time: range.from },
      to: { time: range.to },
    });
    // Another replay of the subscription, already done, is not its backfill.
    const other = await replays.request({
      subscriptionId: subscription.id,
      tenant: 'a',
      from: { time: '2026-11-01T00:00:00Z' },
      to: null,
    });
    await end(other.id, 'completed');
    await expect(gate.holds(subscription, range, 0)).resolves.toBe(true);
    await expect(gate.holds(subscription, range, 1500)).resolves.toBe(true);
    await end(backfill.id, 'completed');
    // Within the recheck the answer is remembered; after it the record is read again.
    await expect(gate.holds(subscription, range, 2000)).resolves.toBe(true);
    await expect(gate.holds(subscription, range, 2600)).resolves.toBe(false);
    // Ended for good: no promise, no Redis.
    expect(gate.holds(subscription, range, 2700)).toBe(false);
    // It found the backfill subscription-api asked for and asked for none.
    expect(await replays.list(subscription.id)).toHaveLength(2);
  });

  it('asks for a backfill that was never asked for, once, and holds until it has ended', async () => {
    let requested = 0;
    const logger = pino({ level: 'silent' });
    const gate = new BackfillGate(replays, logger, 1000, () => (requested += 1));
    const subscription = { id: 'sub_never_asked', tenant: 'a' };
    await expect(gate.holds(subscription, range, 0)).resolves.toBe(true);
    const [backfill, ...more] = await replays.list(subscription.id);
    expect(more).toEqual([]);
    expect(backfill).toMatchObject({
      tenant: 'a',
      status: 'requested',
      from: { time: range.from },
      to: { time: range.to },
    });
    expect(requested).toBe(1);

    // Another instance's gate (or subscription-api) asking again adds nothing.
    const other = new BackfillGate(replays, logger, 1000, () => (requested += 1));
    await expect(other.holds(subscription, range, 0)).resolves.toBe(true);
    await expect(gate.holds(subscription, range, 1500)).resolves.toBe(true);
    expect(await replays.list(subscription.id)).toHaveLength(1);
    expect(requested).toBe(1);

    await end(backfill!.id, 'completed');
    await expect(gate.holds(subscription, range, 3000)).resolves.toBe(false);
  });

  it('creates one backfill however many ask at once', async () => {
    const ask = () => replays.requestBackfill({ subscriptionId: 'sub_race', tenant: 'a', range });
    const answers = await Promise.all(Array.from({ length: 8 }, ask));
    expect(answers.filter((answer) => answer.created)).toHaveLength(1);
    expect(new Set(answers.map((answer) => answer.replay.id)).size).toBe(1);
    expect(await replays.list('sub_race')).toHaveLength(1);
  });

  it('lets a failed or cancelled backfill end the hold too', async () => {
    const gate = new BackfillGate(replays, pino({ level: 'silent' }), 1000);
    const backfill = await replays.request({
      subscriptionId: 'sub_failed',
      tenant: 'a',
      from: { time: range.from },
      to: { time: range.to },
    });
    await end(backfill.id, 'failed');
    await expect(gate.holds({ id: 'sub_failed', tenant: 'a' }, range, 0)).resolves.toBe(false);
  });
});
