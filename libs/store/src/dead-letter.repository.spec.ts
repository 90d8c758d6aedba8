import {
  DEFAULT_DEAD_LETTER_LIMITS,
  DeadLetterRepository,
  REDRIVE_LEASE_MS,
  TRIM_BATCH,
  type DeadLetterLimits,
} from './dead-letter.repository';
import { LeaseLostError } from './store.errors';
import { createTestStore, newDeadLetterRecord } from './testing';

type TestStore = Awaited<ReturnType<typeof createTestStore>>;

const HOUR_MS = 3600 * 1000;
const DAY_MS = 24 * HOUR_MS;

describe('DeadLetterRepository retention and paging', () => {
  let store: TestStore;
  let letters: DeadLetterRepository;

  beforeAll(async () => {
    store = await createTestStore();
    letters = new DeadLetterRepository(store.redis, store.keys);
  });

  afterAll(() => store.cleanup());

  const indexed = (subscriptionId: string) =>
    store.redis.client.zrange(store.keys.deadLetterIndex(subscriptionId), 0, -1);
  const stored = (subscriptionId: string) =>
    store.redis.client.hkeys(store.keys.deadLetters(subscriptionId));
  /** Letters are kept only for a subscription that exists: give these a record. */
  const subscribed = async (...subscriptionIds: string[]) => {
    for (const id of subscriptionIds)
      await store.redis.client.hset(store.keys.subscription(id), 'status', 'active');
  };
  /** A redrive of the subscription's letters, requested and claimed (none other is queued). */
  const claimedRedrive = async (subscriptionId: string) => {
    const request = await letters.requestRedrive({ subscriptionId, tenant: 'a', ids: null });
    const claimed = (await letters.claimRedrive())!;
    expect(claimed.id).toBe(request.id);
    return claimed;
  };

  it('keeps the newest letters up to the cap, dropping the oldest as each new one is added', async () => {
    await subscribed('sub_cap', 'sub_other');
    const limits: DeadLetterLimits = { ...DEFAULT_DEAD_LETTER_LIMITS, maxPerSubscription: 5 };
    const ids: string[] = [];
    const trimmed: number[] = [];
    for (let n = 0; n < 8; n += 1) {
      const added = await letters.add(newDeadLetterRecord('sub_cap', n), limits);
      ids.push(added.letter!.id);
      trimmed.push(added.trimmed.cap);
      expect(added.trimmed.age).toBe(0);
    }
    await letters.add(newDeadLetterRecord('sub_other', 0), limits);

    expect(trimmed).toEqual([0, 0, 0, 0, 0, 1, 1, 1]);
    expect(await indexed('sub_cap')).toEqual(ids.slice(3));
    expect((await stored('sub_cap')).sort()).toEqual(ids.slice(3));
    const page = await letters.list('sub_cap', { limit: 10 });
    expect(page.items.map((l) => l.eventId)).toEqual(['e3', 'e4', 'e5', 'e6', 'e7']);
    expect(await indexed('sub_other')).toHaveLength(1);
  });

  it('drops letters older than the age limit when one is added, and in a sweep', async () => {
    await subscribed('sub_age', 'sub_idle');
    const limits: DeadLetterLimits = { maxPerSubscription: 1000, maxAgeMs: 14 * DAY_MS };
    const now = Date.now();
    for (let n = 0; n < 3; n += 1)
      await letters.add(newDeadLetterRecord('sub_age', n), limits, now - 15 * DAY_MS);
    const recent = await letters.add(newDeadLetterRecord('sub_age', 3), limits, now - 13 * DAY_MS);
    expect(recent.trimmed).toEqual({ cap: 0, age: 0 });

    const added = await letters.add(newDeadLetterRecord('sub_age', 4), limits, now);
    expect(added.trimmed).toEqual({ cap: 0, age: 3 });
    expect(await indexed('sub_age')).toEqual([recent.letter!.id, added.letter!.id]);
    expect((await stored('sub_age')).sort()).toEqual([recent.letter!.id, added.letter!.id]);

    // A subscription that dead-letters nothing more still sheds its old letters in a sweep.
    await letters.add(newDeadLetterRecord('sub_idle', 0), limits, now - 15 * DAY_MS);
    const kept = await letters.add(newDeadLetterRecord('sub_idle', 1), limits, now - 13 * DAY_MS);
    expect(await letters.trim('sub_idle', limits, now)).toEqual({ cap: 0, age: 1 });
    expect(await indexed('sub_idle')).toEqual([kept.letter!.id]);
    expect(await stored('sub_idle')).toEqual([kept.letter!.id]);
    expect(await letters.trim('sub_idle', limits, now)).toEqual({ cap: 0, age: 0 });
    expect(await letters.trim('sub_none', limits, now)).toEqual({ cap: 0, age: 0 });
  });

  it('sweeps more than one batch, and down to a cap lowered since', async () => {
    await subscribed('sub_many');
    // Added under limits nothing reaches; the sweep then applies tighter ones.
    const wide: DeadLetterLimits = { maxPerSubscription: 10 * TRIM_BATCH, maxAgeMs: 30 * DAY_MS };
    const limits: DeadLetterLimits = { ...wide, maxAgeMs: 14 * DAY_MS };
    const now = Date.now();
    const pipeline = [];
    for (let n = 0; n < TRIM_BATCH + 5; n += 1)
      pipeline.push(letters.add(newDeadLetterRecord('sub_many', n), wide, now - 20 * DAY_MS + n));
    await Promise.all(pipeline);
    for (let n = 0; n < 10; n += 1)
      await letters.add(newDeadLetterRecord('sub_many', 10_000 + n), wide, now);
    expect(await letters.trim('sub_many', limits, now)).toEqual({ cap: 0, age: TRIM_BATCH + 5 });
    expect(await letters.trim('sub_many', { ...limits, maxPerSubscription: 4 }, now)).toEqual({
      cap: 6,
      age: 0,
    });
    const page = await letters.list('sub_many', { limit: 10 });
    expect(page.items.map((l) => l.eventId)).toEqual(['e10006', 'e10007', 'e10008', 'e10009']);
    expect(await store.redis.client.hlen(store.keys.deadLetters('sub_many'))).toBe(4);
  });

  it('pages up to a bound, so letters added while paging are not reached', async () => {
    await subscribed('sub_page');
    const first = [];
    for (let n = 0; n < 5; n += 1)
      first.push((await letters.add(newDeadLetterRecord('sub_page', n))).letter!);
    const until = await letters.newestId('sub_page');
    expect(until).toBe(first[4]!.id);
    expect(await letters.newestId('sub_empty')).toBeNull();

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await letters.list('sub_page', { limit: 2, cursor, until });
      seen.push(...page.items.map((l) => l.id));
      cursor = page.nextCursor;
      pages += 1;
      // Dead-lettered while the pages are read: not part of this walk.
      await letters.add(newDeadLetterRecord('sub_page', 100 + pages));
    } while (cursor !== null);

    expect(seen).toEqual(first.map((l) => l.id));
    expect(pages).toBe(3);
    expect((await letters.list('sub_page', { limit: 100 })).items).toHaveLength(8);
  });

  it('does not bring back a letter trimmed while a redrive marks it', async () => {
    await subscribed('sub_mark');
    const older = (await letters.add(newDeadLetterRecord('sub_mark', 0))).letter!;
    const newer = (await letters.add(newDeadLetterRecord('sub_mark', 1))).letter!;
    const redrive = await claimedRedrive('sub_mark');
    // The cap is reached (another instance adds) between reading the letters and writing them.
    const read = letters.get.bind(letters);
    jest.spyOn(letters, 'get').mockImplementationOnce(async (subscriptionId, ids) => {
      const found = await read(subscriptionId, ids);
      await letters.trim('sub_mark', { ...DEFAULT_DEAD_LETTER_LIMITS, maxPerSubscription: 1 });
      return found;
    });
    await letters.markRedriven('sub_mark', [older.id, newer.id], redrive);
    expect(await stored('sub_mark')).toEqual([newer.id]);
    expect(await indexed('sub_mark')).toEqual([newer.id]);
    expect((await letters.get('sub_mark', [newer.id]))[0]?.redriveId).toBe(redrive.id);
    await letters.finishRedrive(redrive);
  });

  it('lists no letter for a deleted subscription, so none outlives it', async () => {
    await subscribed('sub_gone');
    expect((await letters.add(newDeadLetterRecord('sub_gone', 0))).letter).not.toBeNull();
    // Deleted (its record and letters go in one script) while a delivery was being given up on.
    await store.redis.client.del(
      store.keys.subscription('sub_gone'),
      store.keys.deadLetters('sub_gone'),
      store.keys.deadLetterIndex('sub_gone'),
    );

    expect(await letters.add(newDeadLetterRecord('sub_gone', 1))).toEqual({
      letter: null,
      trimmed: { cap: 0, age: 0 },
    });
    expect(
      await store.redis.client.exists(
        store.keys.deadLetters('sub_gone'),
        store.keys.deadLetterIndex('sub_gone'),
      ),
    ).toBe(0);
    expect((await letters.list('sub_gone', { limit: 10 })).items).toEqual([]);
  });

  it('refuses the marks of a redrive claim taken over by another instance', async () => {
    await subscribed('sub_fence');
    const added = [];
    for (let n = 0; n < 2; n += 1)
      added.push((await letters.add(newDeadLetterRecord('sub_fence', n))).letter!);
    const ids = added.map((l) => l.id);
    const stalled = await claimedRedrive('sub_fence');
    await letters.takeOverExpiredRedrives(Date.now() + 10 * REDRIVE_LEASE_MS);
    const other = (await letters.claimRedrive())!;
    expect(other.id).toBe(stalled.id);

    // The other instance marks the first letter; the stalled one wakes and would mark both.
    const otherAt = new Date('2025-01-02T00:00:00Z');
    await letters.markRedriven('sub_fence', [ids[0]!], other, otherAt);
    const before = await store.redis.client.hgetall(store.keys.deadLetters('sub_fence'));
    await expect(letters.markRedriven('sub_fence', ids, stalled)).rejects.toThrow(LeaseLostError);
    expect(await store.redis.client.hgetall(store.keys.deadLetters('sub_fence'))).toEqual(before);
    const [marked, unmarked] = await letters.get('sub_fence', ids);
    expect(marked).toMatchObject({ redriveId: other.id, redrivenAt: otherAt.toISOString() });
    expect(unmarked).toMatchObject({ redriveId: null, redrivenAt: null });

    // Finished by the other instance: a late mark still writes nothing.
    await letters.finishRedrive(other);
    await expect(letters.markRedriven('sub_fence', ids, stalled)).rejects.toThrow(LeaseLostError);
    expect(await store.redis.client.hgetall(store.keys.deadLetters('sub_fence'))).toEqual(before);
  });
});
