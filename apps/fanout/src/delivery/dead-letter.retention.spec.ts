import pino from 'pino';
import { MetricsRegistry } from '@herald/observability';
import { DeadLetterRepository } from '@herald/store';
import { createTestStore, newDeadLetterRecord } from '@herald/store/testing';
import { DeadLetterRetention } from './dead-letter.retention';
import { DeliveryMetrics } from './delivery.metrics';

const DAY_MS = 24 * 3600 * 1000;

describe('DeadLetterRetention', () => {
  let store: Awaited<ReturnType<typeof createTestStore>>;
  let repository: DeadLetterRepository;

  beforeAll(async () => {
    store = await createTestStore();
    repository = new DeadLetterRepository(store.redis, store.keys);
  });

  afterAll(() => store.cleanup());

  /** Letters are listed only for a subscription that exists: give these a record. */
  const subscribed = async (...subscriptionIds: string[]) => {
    for (const id of subscriptionIds)
      await store.redis.client.hset(store.keys.subscription(id), 'status', 'active');
  };

  /** A logger at info whose lines are kept, parsed, for the test to read. */
  function logLines() {
    const lines: { msg: string; [field: string]: unknown }[] = [];
    const logger = pino(
      { level: 'info' },
      { write: (line: string) => lines.push(JSON.parse(line) as (typeof lines)[number]) },
    );
    return { lines, logger };
  }

  it('counts what adds and sweeps trim, and logs it in one line a sweep', async () => {
    await subscribed('sub_busy', 'sub_idle');
    const registry = new MetricsRegistry('herald-fanout');
    const { lines, logger } = logLines();
    const retention = new DeadLetterRetention(
      repository,
      () => ['sub_busy', 'sub_idle', 'sub_none'],
      new DeliveryMetrics(registry, () => Promise.resolve(0)),
      logger,
      { maxPerSubscription: 3, maxAgeMs: 14 * DAY_MS },
    );
    const now = Date.now();
    for (let n = 0; n < 2; n += 1)
      await repository.add(newDeadLetterRecord('sub_idle', n), retention.limits, now - 15 * DAY_MS);
    for (let n = 0; n < 7; n += 1) await retention.add(newDeadLetterRecord('sub_busy', n));
    expect(lines).toEqual([]);

    await retention.sweep(now);
    const text = await registry.registry.metrics();
    expect(text).toMatch(/herald_dead_letters_trimmed_total\{reason="cap"[^}]*\} 4/);
    expect(text).toMatch(/herald_dead_letters_trimmed_total\{reason="age"[^}]*\} 2/);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      overCap: 4,
      tooOld: 2,
      subscriptions: 2,
      subscriptionIds: ['sub_busy', 'sub_idle'],
    });
    expect((await repository.list('sub_busy', { limit: 10 })).items.map((l) => l.eventId)).toEqual([
      'e4',
      'e5',
      'e6',
    ]);
    expect((await repository.list('sub_idle', { limit: 10 })).items).toEqual([]);

    // Nothing more to trim: no line.
    await retention.sweep(now);
    await retention.stop();
    expect(lines).toHaveLength(1);
  });

  it('lists no letter for a deleted subscription, and says so', async () => {
    const registry = new MetricsRegistry('herald-fanout');
    const { lines, logger } = logLines();
    const retention = new DeadLetterRetention(
      repository,
      () => [],
      new DeliveryMetrics(registry, () => Promise.resolve(0)),
      logger,
      { maxPerSubscription: 3, maxAgeMs: 14 * DAY_MS },
    );
    expect(await retention.add(newDeadLetterRecord('sub_deleted', 0))).toBeNull();
    expect(
      await store.redis.client.exists(
        store.keys.deadLetters('sub_deleted'),
        store.keys.deadLetterIndex('sub_deleted'),
      ),
    ).toBe(0);
    expect(lines).toEqual([
      expect.objectContaining({
        msg: 'dead letter not listed: its subscription is deleted',
        subscriptionId: 'sub_deleted',
        eventId: 'e0',
      }),
    ]);
  });
});
