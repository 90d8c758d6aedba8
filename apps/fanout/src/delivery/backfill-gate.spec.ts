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
    expect(gate.holds('sub_none', null, 0)).toBe(false);
  });

  it('holds until the backfill has ended, reading its record at most once a recheck', async () => {
    const gate = new BackfillGate(replays, pino({ level: 'silent' }), 1000);
    const id = 'sub_gate';
    // Not asked for yet: hold.
    await expect(gate.holds(id, range, 0)).resolves.toBe(true);
    const backfill = await replays.request({
      subscriptionId: id,
      tenant: 'a',
      from: { time: range.from },
      to: { time: range.to },
    });
    // Another replay of the subscription, already done, is not its backfill.
    const other = await replays.request({
      subscriptionId: id,
      tenant: 'a',
      from: { time: '2026-11-01T00:00:00Z' },
      to: null,
    });
    await replays.finish(other.id, { status: 'completed' });
    await expect(gate.holds(id, range, 1500)).resolves.toBe(true);
    await replays.finish(backfill.id, { status: 'completed' });
    // Within the recheck the answer is remembered; after it the record is read again.
    await expect(gate.holds(id, range, 2000)).resolves.toBe(true);
    await expect(gate.holds(id, range, 2600)).resolves.toBe(false);
    // Ended for good: no promise, no Redis.
    expect(gate.holds(id, range, 2700)).toBe(false);
  });

  it('lets a failed or cancelled backfill end the hold too', async () => {
    const gate = new BackfillGate(replays, pino({ level: 'silent' }), 1000);
    const backfill = await replays.request({
      subscriptionId: 'sub_failed',
      tenant: 'a',
      from: { time: range.from },
      to: { time: range.to },
    });
    await replays.finish(backfill.id, { status: 'failed', error: 'broken' });
    await expect(gate.holds('sub_failed', range, 0)).resolves.toBe(false);
  });
});
