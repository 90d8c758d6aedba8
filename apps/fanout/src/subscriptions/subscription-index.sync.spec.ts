import { createLogger } from '@herald/observability';
import type {
  NoticeListenerOptions,
  SubscriptionNotices,
  SubscriptionRepository,
} from '@herald/store';
import { SubscriptionIndex } from './subscription-index';
import { SubscriptionIndexSync } from './subscription-index.sync';

/** A sync over a store at notice `seq` whose listener has applied `applied`. */
async function syncAt(seq: {
  current: number;
  applied: number;
  fails?: boolean;
  /** Redis never answers. */
  hangs?: boolean;
  /** Counts the reads of the counter. */
  asked?: number;
}) {
  const repository = {
    loadAll: () => Promise.resolve({ seq: seq.applied, subscriptions: [], unreadable: [] }),
  } as unknown as SubscriptionRepository;
  const notices = {
    currentSeq: () => {
      seq.asked = (seq.asked ?? 0) + 1;
      if (seq.hangs) return new Promise<number>(() => undefined);
      return seq.fails
        ? Promise.reject(new Error('Connection is closed.'))
        : Promise.resolve(seq.current);
    },
    listen: (_options: NoticeListenerOptions) =>
      Promise.resolve({
        get seq() {
          return seq.applied;
        },
        close: () => Promise.resolve(),
      }),
  } as unknown as SubscriptionNotices;
  const sync = new SubscriptionIndexSync(
    new SubscriptionIndex(),
    repository,
    notices,
    createLogger('fanout-test', 'silent'),
  );
  await sync.start();
  return sync;
}

describe('SubscriptionIndexSync.freshUntil', () => {
  it('says the index is fresh once every notice Redis has numbered is applied', async () => {
    const seq: { current: number; applied: number; fails?: boolean } = { current: 7, applied: 6 };
    const sync = await syncAt(seq);
    const now = Date.now();
    setTimeout(() => (seq.applied = 7), 20);
    expect(await sync.freshUntil(now, 1000)).toBe(true);
    // Already fresh for anything before: no Redis read, at once.
    seq.fails = true;
    expect(await sync.freshUntil(now - 1, 1000)).toBe(true);
    await sync.stop();
  });

  it('says it is not sure when a notice does not arrive in time, or Redis does not answer', async () => {
    const lagging = await syncAt({ current: 9, applied: 8 });
    const started = Date.now();
    expect(await lagging.freshUntil(Date.now(), 200)).toBe(false);
    expect(Date.now() - started).toBeLessThan(1000);
    await lagging.stop();
    const away = await syncAt({ current: 3, applied: 3, fails: true });
    expect(await away.freshUntil(Date.now(), 200)).toBe(false);
    await away.stop();
    // Redis that hangs, or whose commands ioredis queues while it reconnects: no answer ever.
    const store = { current: 3, applied: 3, hangs: true, asked: 0 };
    const hanging = await syncAt(store);
    const asked = Date.now();
    expect(await hanging.freshUntil(Date.now(), 200)).toBe(false);
    expect(Date.now() - asked).toBeLessThan(1000);
    // The next look waits for the same read rather than leaving another one queued.
    expect(await hanging.freshUntil(Date.now(), 100)).toBe(false);
    expect(store.asked).toBe(1);
    await hanging.stop();
  });
});
