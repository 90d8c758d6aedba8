import { randomBytes } from 'node:crypto';
import { DeadLetterRepository, REDRIVE_LEASE_MS } from './dead-letter.repository';
import { DeliveryLogRepository, type DeliveryAttempt } from './delivery-log.repository';
import { REPLAY_LEASE_MS, ReplayRepository, type ClaimedReplay } from './replay.repository';
import { RetryParkingStore } from './retry-parking.store';
import { SecretCipher } from './secret-cipher';
import { LeaseLostError } from './store.errors';
import { StreamCursorRepository } from './stream-cursor.repository';
import { SubscriptionNotices, type SubscriptionNotice } from './subscription-notices';
import { HELD_REPORT_FRESH_MS, SubscriptionStatsRepository } from './subscription-stats.repository';
import {
  SubscriptionRepository,
  secretsUnreadable,
  type NewSubscription,
  type SubscriptionStatus,
} from './subscription.repository';
import { createTestStore, newDeadLetterRecord, newSubscriptionRecord } from './testing';

type TestStore = Awaited<ReturnType<typeof createTestStore>>;

function newSubscription(
  tenant: string,
  overrides: Partial<NewSubscription> = {},
): NewSubscription {
  return newSubscriptionRecord({ tenant, authType: 'bearer', ...overrides });
}

const SECRETS = {
  signing: { current: 'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0', previous: null },
  auth: { type: 'bearer' as const, token: 'endpoint-token' },
};

async function waitUntil(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('SubscriptionRepository (real Redis)', () => {
  let store: TestStore;
  let repo: SubscriptionRepository;

  beforeEach(async () => {
    store = await createTestStore();
    repo = new SubscriptionRepository(store.redis, store.keys, new SecretCipher(randomBytes(32)));
  });
  afterEach(() => store.cleanup());

  it('stores secrets sealed and reads them back only on request', async () => {
    const { subscription } = await repo.create(newSubscription('acme'), SECRETS);
    const raw = JSON.stringify(
      await store.redis.client.hgetall(store.keys.subscription(subscription.id)),
    );
    expect(raw).not.toContain('endpoint-token');
    expect(raw).not.toContain(SECRETS.signing.current);
    expect(await repo.get(subscription.id)).toEqual(subscription);
    expect((await repo.getWithSecrets(subscription.id))?.secrets).toEqual(SECRETS);
  });

  it('loads every subscription it can open and names the ones sealed under another key', async () => {
    const readable = (await repo.create(newSubscription('acme'), SECRETS)).subscription;
    const other = new SubscriptionRepository(
      store.redis,
      store.keys,
      new SecretCipher(randomBytes(32)),
    );
    const foreign = (await other.create(newSubscription('acme'), SECRETS)).subscription;
    const loaded = await repo.loadAll();
    expect(loaded.subscriptions.map((s) => s.subscription.id)).toEqual([readable.id]);
    expect(loaded.unreadable.map((u) => u.id)).toEqual([foreign.id]);
  });

  it('pages per tenant and globally in creation order with a stable cursor', async () => {
    const created = [];
    for (let i = 0; i < 5; i += 1)
      created.push((await repo.create(newSubscription('a'), SECRETS)).subscription.id);
    await repo.create(newSubscription('b'), SECRETS);
    const first = await repo.list({ tenant: 'a', limit: 2 });
    expect(first.items.map((s) => s.id)).toEqual(created.slice(0, 2));
    await repo.delete(created[1]!); // deleting behind the cursor does not shift the next page
    const second = await repo.list({ tenant: 'a', limit: 2, cursor: first.nextCursor });
    expect(second.items.map((s) => s.id)).toEqual(created.slice(2, 4));
    const third = await repo.list({ tenant: 'a', limit: 2, cursor: second.nextCursor });
    expect(third.items.map((s) => s.id)).toEqual([created[4]]);
    expect(third.nextCursor).toBeNull();
    expect((await repo.list({ limit: 100 })).items).toHaveLength(5);
  });

  it('versions every change and refuses a stale expected version', async () => {
    const { subscription } = await repo.create(newSubscription('a'), SECRETS);
    const paused = await repo.update(subscription.id, (current) => ({
      ...current,
      subscription: { ...current.subscription, status: 'paused' },
    }));
    expect(paused.subscription.version).toBe(2);
    await expect(
      repo.update(subscription.id, (current) => current, { expectedVersion: 1 }),
    ).rejects.toMatchObject({ code: 'store.subscription_version.conflict' });
    await expect(repo.update('sub_missing', (c) => c)).rejects.toMatchObject({
      code: 'store.subscription.not_found',
    });
    expect(await repo.countByStatus()).toEqual({ pending: 0, active: 0, paused: 1, disabled: 0 });
  });

  describe('a subscription whose sealed secrets do not open', () => {
    /** Creates one and truncates its sealed value, as a damaged dump restored would. */
    async function withCorruptSecrets(): Promise<{ id: string; sealed: string }> {
      const { subscription } = await repo.create(newSubscription('a'), SECRETS);
      const key = store.keys.subscription(subscription.id);
      const sealed = (await store.redis.client.hget(key, 'sealed'))!.slice(0, -6);
      await store.redis.client.hset(key, 'sealed', sealed);
      return { id: subscription.id, sealed };
    }

    const storedSealed = async (id: string) =>
      store.redis.client.hget(store.keys.subscription(id), 'sealed');

    it('takes a change that leaves the secrets alone and keeps the sealed value as stored', async () => {
      const { id, sealed } = await withCorruptSecrets();
      const paused = await repo.update(id, (current) => ({
        ...current,
        subscription: { ...current.subscription, status: 'paused' },
      }));
      expect(paused.subscription).toMatchObject({ status: 'paused', version: 2 });
      expect(await repo.get(id)).toMatchObject({ status: 'paused', version: 2 });
      expect(await storedSealed(id)).toBe(sealed);
    });

    it('refuses a change that reads the secrets, saving nothing', async () => {
      const { id, sealed } = await withCorruptSecrets();
      await expect(
        repo.update(id, (current) => ({
          ...current,
          secrets: { ...current.secrets, auth: null },
        })),
      ).rejects.toMatchObject({
        code: 'store.subscription_secrets_unreadable.conflict',
        message: expect.stringContaining('do not open') as unknown,
      });
      expect((await repo.get(id))?.version).toBe(1);
      expect(await storedSealed(id)).toBe(sealed);
    });

    it('tells the change why, and seals new secrets it returns in their place', async () => {
      const { id } = await withCorruptSecrets();
      let why: ReturnType<typeof secretsUnreadable> = null;
      const fresh = { signing: { current: 'whsec_bmV3LXNlY3JldA', previous: null }, auth: null };
      await repo.update(id, (current) => {
        why = secretsUnreadable(current.secrets);
        return { ...current, secrets: fresh };
      });
      expect(why).toEqual({
        reason: expect.stringContaining('does not open') as unknown,
        otherKey: false,
      });
      expect((await repo.getWithSecrets(id))?.secrets).toEqual(fresh);
      // Opened secrets are not the stand-in.
      await repo.update(id, (current) => {
        why = secretsUnreadable(current.secrets);
        return current;
      });
      expect(why).toBeNull();
    });

    it('says when they were sealed under another key', async () => {
      const other = new SubscriptionRepository(
        store.redis,
        store.keys,
        new SecretCipher(randomBytes(32)),
      );
      const { subscription } = await other.create(newSubscription('a'), SECRETS);
      let why: ReturnType<typeof secretsUnreadable> = null;
      await repo.update(subscription.id, (current) => {
        why = secretsUnreadable(current.secrets);
        return current;
      });
      expect(why).toMatchObject({ otherKey: true });
      expect((await other.getWithSecrets(subscription.id))?.secrets).toEqual(SECRETS);
    });
  });

  it('applies concurrent updates one after the other without losing any', async () => {
    const { subscription } = await repo.create(newSubscription('a'), SECRETS);
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        repo.update(subscription.id, (current) => ({
          ...current,
          subscription: {
            ...current.subscription,
            metadata: { ...current.subscription.metadata, [`k${i}`]: 'v' },
          },
        })),
      ),
    ).catch(() => undefined); // more than five collisions may give up; what was saved must add up
    const stored = (await repo.get(subscription.id))!;
    expect(Object.keys(stored.metadata)).toHaveLength(stored.version - 1);
  });

  it('deletes the subscription with everything kept for it', async () => {
    const { subscription } = await repo.create(newSubscription('a'), SECRETS);
    const log = new DeliveryLogRepository(store.redis, store.keys);
    const stats = new SubscriptionStatsRepository(store.redis, store.keys);
    const replays = new ReplayRepository(store.redis, store.keys);
    await log.append(subscription.id, attempt('e1', 'succeeded'));
    await stats.record(subscription.id, { delivered: 1 });
    await new RetryParkingStore(store.redis, store.keys).noteFailure(subscription.id);
    const replay = await replays.request({
      subscriptionId: subscription.id,
      tenant: 'a',
      from: { time: '2025-01-01T00:00:00Z' },
      to: null,
    });
    expect(await repo.delete(subscription.id)).toBe(true);
    expect(await repo.delete(subscription.id)).toBe(false);
    expect(await repo.get(subscription.id)).toBeNull();
    expect(await replays.get(replay.id)).toBeNull();
    expect(await store.redis.client.exists(store.keys.deliveryLog(subscription.id))).toBe(0);
    expect(await store.redis.client.exists(store.keys.subscriptionStats(subscription.id))).toBe(0);
    expect(await store.redis.client.exists(store.keys.deliveryHealth(subscription.id))).toBe(0);
    expect(await repo.countByStatus()).toMatchObject({ active: 0 });
  });

  it('lets no late write of the engine bring back what a deleted subscription kept', async () => {
    const { id } = (await repo.create(newSubscription('a'), SECRETS)).subscription;
    const parking = new RetryParkingStore(store.redis, store.keys);
    const stats = new SubscriptionStatsRepository(store.redis, store.keys);
    const replays = new ReplayRepository(store.redis, store.keys);
    for (const task of ['t1', 't2'])
      await parking.park({
        subscriptionId: id,
        queueId: 'k',
        task,
        dueMs: 0,
        mode: 'create',
        owner: null,
      });
    const replay = await replays.request({
      subscriptionId: id,
      tenant: 'a',
      from: { time: '2025-01-01T00:00:00Z' },
      to: null,
    });
    const claimed = (await replays.claim())!;
    expect(claimed.id).toBe(replay.id);
    expect(await repo.delete(id)).toBe(true);

    // What the engine was doing for it meanwhile lands afterwards.
    const [claim] = await parking.claimDue(id, { nowMs: Date.now(), leaseMs: 30_000, limit: 5 });
    expect(await parking.finish(claim!, { kind: 'drop-queue' }, null)).toBe(true);
    await stats.record(id, { delivered: 1, failed: 1, deadLettered: 1 });
    await stats.reportHeld('engine-1', new Map([[id, 0]]));
    expect(await parking.noteFailure(id, 500)).toBe(500);
    await parking.noteSuccess(id);
    await replays.addProgress(claimed, { scanned: 5 });
    await replays.renew(claimed);
    await replays.firstEnds(claimed, []);
    await replays.finish(claimed, { status: 'cancelled' });
    const late = await new DeadLetterRepository(store.redis, store.keys).add(
      newDeadLetterRecord(id, 1),
    );
    expect(late.letter).toBeNull();
    const log = new DeliveryLogRepository(store.redis, store.keys);
    await log.appendMany(id, [attempt('e1', 'succeeded'), attempt('e2', 'failed')]);
    expect(await log.append(id, attempt('e3', 'succeeded'))).toBe('');
    await new StreamCursorRepository(store.redis, store.keys).acknowledge(id, 'cursor-1');

    const { keys } = store;
    expect(
      await store.redis.client.exists(
        keys.deliveryLog(id),
        keys.streamCursor(id),
        keys.subscriptionStats(id),
        keys.deliveryHealth(id),
        keys.deadLetters(id),
        keys.deadLetterIndex(id),
        keys.replay(replay.id),
        keys.parkedDue(id),
        keys.parkedQueue(id, 'k'),
      ),
    ).toBe(0);
    expect(await store.redis.client.llen(store.keys.replayClaimed())).toBe(0);
  });

  it('ends the failing period when a subscription becomes active again, and only then', async () => {
    const { id } = (await repo.create(newSubscription('a'), SECRETS)).subscription;
    const parking = new RetryParkingStore(store.redis, store.keys);
    const setStatus = (status: SubscriptionStatus) =>
      repo.update(id, (current) => ({
        ...current,
        subscription: { ...current.subscription, status },
      }));
    expect(await parking.noteFailure(id, 100)).toBe(100);
    await repo.update(id, (current) => current); // an edit while active: still failing
    expect(await parking.noteFailure(id, 200)).toBe(100);
    // Disabled for failing too long, then fixed and resumed: its next failure starts a new period.
    await setStatus('disabled');
    expect(await parking.noteFailure(id, 300)).toBe(100);
    await setStatus('active');
    expect(await parking.noteFailure(id, 400)).toBe(400);
    await setStatus('paused');
    await setStatus('active');
    expect(await parking.noteFailure(id, 500)).toBe(500);
  });

  it('drops lag reports too old to count when an instance writes its own', async () => {
    const { id } = (await repo.create(newSubscription('a'), SECRETS)).subscription;
    const stats = new SubscriptionStatsRepository(store.redis, store.keys);
    const now = Date.now();
    // Every process start reports under a new instance id: the old ones must not pile up.
    await stats.reportHeld('stopped', new Map([[id, 100]]), now - HELD_REPORT_FRESH_MS - 1);
    await stats.reportHeld('quiet', new Map([[id, 2]]), now - HELD_REPORT_FRESH_MS);
    await stats.reportHeld('running', new Map([[id, 4]]), now);
    const fields = await store.redis.client.hkeys(store.keys.subscriptionStats(id));
    expect(fields.sort()).toEqual(['held:quiet', 'held:running']);
    expect((await stats.get(id, now)).lagEvents).toBe(6);
  });

  it('publishes numbered notices and reloads everything for a new instance', async () => {
    const notices = new SubscriptionNotices(store.redis, store.keys);
    const { seq: startSeq, subscriptions } = await repo.loadAll();
    expect(subscriptions).toEqual([]);
    const seen: SubscriptionNotice[] = [];
    const listener = await notices.listen({
      afterSeq: startSeq,
      onNotice: (notice) => {
        seen.push(notice);
      },
      onResync: () => Promise.reject(new Error('no resync expected')),
    });
    try {
      const { subscription } = await repo.create(newSubscription('a'), SECRETS);
      await repo.update(subscription.id, (c) => c);
      await repo.delete(subscription.id);
      await waitUntil(() => seen.length === 3, 'three notices');
      expect(seen.map((n) => [n.seq, n.kind, n.subscriptionId])).toEqual([
        [startSeq + 1, 'subscription.created', subscription.id],
        [startSeq + 2, 'subscription.updated', subscription.id],
        [startSeq + 3, 'subscription.deleted', subscription.id],
      ]);
      expect(seen[1]?.version).toBe(2);
    } finally {
      await listener.close();
    }
    const kept = await repo.create(newSubscription('b'), SECRETS);
    const reload = await repo.loadAll();
    expect(reload.seq).toBe(startSeq + 4);
    expect(reload.subscriptions).toEqual([kept]);
  });

  it('catches up from the log after a gap, and resyncs when the log lost it', async () => {
    const notices = new SubscriptionNotices(store.redis, store.keys);
    await repo.create(newSubscription('a'), SECRETS); // seq 1, before the listener exists
    const seen: number[] = [];
    const listener = await notices.listen({
      afterSeq: 0,
      onNotice: (notice) => {
        seen.push(notice.seq);
      },
      onResync: () => Promise.reject(new Error('no resync expected')),
    });
    await repo.create(newSubscription('a'), SECRETS); // seq 2
    await waitUntil(() => seen.length === 2, 'seq 1 from the log, then 2');
    expect(seen).toEqual([1, 2]);
    await listener.close();

    await store.redis.client.del(store.keys.subscriptionNoticeLog()); // as if trimmed away
    await repo.create(newSubscription('a'), SECRETS); // seq 3, log holds only it
    let resyncs = 0;
    const late = await notices.listen({
      afterSeq: 1,
      onNotice: () => undefined,
      onResync: async () => {
        resyncs += 1;
        return (await repo.loadAll()).seq;
      },
    });
    await waitUntil(() => late.seq === 3, 'resync to seq 3');
    expect(resyncs).toBe(1);
    await late.close();
  });

  it('resyncs when the notice counter went backwards (Redis lost its last writes)', async () => {
    const notices = new SubscriptionNotices(store.redis, store.keys);
    for (let i = 0; i < 3; i += 1) await repo.create(newSubscription('a'), SECRETS); // seq 1-3
    let resyncs = 0;
    const listener = await notices.listen({
      afterSeq: 3,
      onNotice: () => undefined,
      onResync: async () => {
        resyncs += 1;
        return (await repo.loadAll()).seq;
      },
    });
    try {
      // The last two writes are lost: the counter and the log are back at seq 1.
      const log = store.keys.subscriptionNoticeLog();
      await store.redis.client.xdel(log, '2-0', '3-0');
      await store.redis.client.xsetid(log, '1-0');
      await store.redis.client.set(store.keys.subscriptionNoticeSeq(), 1);
      expect(await notices.since(3)).toEqual({ notices: [], complete: false });

      const { subscription } = await repo.create(newSubscription('a'), SECRETS); // seq 2 again
      await waitUntil(() => resyncs === 1, 'a resync for a notice numbered below the last one');
      expect(listener.seq).toBe(2);
      expect((await repo.loadAll()).subscriptions.map((s) => s.subscription.id)).toContain(
        subscription.id,
      );
    } finally {
      await listener.close();
    }
  });
});

function attempt(eventId: string, status: DeliveryAttempt['status']): DeliveryAttempt {
  return {
    eventId,
    type: 'order.created',
    attempt: 1,
    at: new Date().toISOString(),
    status,
    statusCode: status === 'succeeded' ? 204 : 500,
    durationMs: 3,
    error: null,
    responseBody: 'x'.repeat(5000),
    replay: false,
    test: false,
  };
}

describe('delivery engine records (real Redis)', () => {
  let store: TestStore;

  beforeAll(async () => {
    store = await createTestStore();
  });
  afterAll(() => store.cleanup());

  it('logs attempts capped, newest first, paged and filtered by status', async () => {
    const log = new DeliveryLogRepository(store.redis, store.keys, 10);
    // The log is written only for a subscription that exists.
    await store.redis.client.hset(store.keys.subscription('sub_x'), 'tenant', 'a');
    for (let i = 0; i < 30; i += 1) {
      await log.append('sub_x', attempt(`e${i}`, i % 3 === 0 ? 'failed' : 'succeeded'));
    }
    expect(await store.redis.client.xlen(store.keys.deliveryLog('sub_x'))).toBeLessThan(30);
    const page = await log.list('sub_x', { limit: 3 });
    expect(page.items.map((a) => a.eventId)).toEqual(['e29', 'e28', 'e27']);
    expect(page.items[0]?.responseBody).toHaveLength(2048);
    const next = await log.list('sub_x', { limit: 3, cursor: page.nextCursor });
    expect(next.items.map((a) => a.eventId)).toEqual(['e26', 'e25', 'e24']);
    const failed = await log.list('sub_x', { limit: 2, status: 'failed' });
    expect(failed.items.map((a) => a.eventId)).toEqual(['e27', 'e24']);
  });

  it('cuts a long response body without splitting a character made of two UTF-16 units', async () => {
    const log = new DeliveryLogRepository(store.redis, store.keys, 10);
    await store.redis.client.hset(store.keys.subscription('sub_emoji'), 'tenant', 'a');
    const body = `${'a'.repeat(2047)}😀${'b'.repeat(10)}`;
    await log.append('sub_emoji', { ...attempt('e1', 'failed'), responseBody: body });
    const [kept] = (await log.list('sub_emoji', { limit: 1 })).items;
    expect(kept?.responseBody).toBe('a'.repeat(2047));
  });

  it('appends a batch of attempts in order in one call, keeping only the newest up to the cap', async () => {
    const log = new DeliveryLogRepository(store.redis, store.keys, 10);
    await store.redis.client.hset(store.keys.subscription('sub_many'), 'tenant', 'a');
    await log.append('sub_many', attempt('single', 'succeeded'));
    await log.appendMany(
      'sub_many',
      Array.from({ length: 25 }, (_, i) => attempt(`b${i}`, i === 24 ? 'failed' : 'succeeded')),
    );
    await log.appendMany('sub_many', []);
    const page = await log.list('sub_many', { limit: 10 });
    expect(page.items.map((a) => a.eventId)).toEqual(
      Array.from({ length: 10 }, (_, i) => `b${24 - i}`),
    );
    expect(page.items[0]?.status).toBe('failed');
    expect(page.items[0]?.responseBody).toHaveLength(2048);
    expect(await store.redis.client.xlen(store.keys.deliveryLog('sub_many'))).toBeLessThan(26);
  });

  it('keeps dead letters, queues a redrive once, and marks them redriven', async () => {
    const letters = new DeadLetterRepository(store.redis, store.keys);
    await store.redis.client.hset(store.keys.subscription('sub_d'), 'status', 'active');
    const added = [];
    for (let i = 0; i < 3; i += 1) {
      added.push((await letters.add(newDeadLetterRecord('sub_d', i))).letter!);
    }
    const page = await letters.list('sub_d', { limit: 2 });
    expect(page.items.map((l) => l.eventId)).toEqual(['e0', 'e1']);
    expect((await letters.list('sub_d', { limit: 2, cursor: page.nextCursor })).items).toHaveLength(
      1,
    );

    const request = await letters.requestRedrive({
      subscriptionId: 'sub_d',
      tenant: 'a',
      ids: [added[0]!.id],
    });
    const [claimedA, claimedB] = await Promise.all([
      letters.claimRedrive(),
      letters.claimRedrive(),
    ]);
    expect([claimedA?.id, claimedB?.id].filter(Boolean)).toEqual([request.id]);
    const claimed = (claimedA ?? claimedB)!;
    await letters.markRedriven('sub_d', request.ids!, claimed);
    await letters.finishRedrive(claimed);
    const [redriven] = await letters.get('sub_d', [added[0]!.id]);
    expect(redriven?.redriveId).toBe(request.id);
    expect(typeof redriven?.redrivenAt).toBe('string');
    expect(await store.redis.client.llen(store.keys.redriveClaimed())).toBe(0);
  });

  it('tracks a replay from request to completion', async () => {
    const replays = new ReplayRepository(store.redis, store.keys);
    const replay = await replays.request({
      subscriptionId: 'sub_r',
      tenant: 'a',
      from: { time: '2025-01-01T00:00:00Z' },
      to: { cursor: 'abc' },
    });
    expect(replay).toMatchObject({ status: 'requested', progress: { scanned: 0 } });
    const claimed = await replays.claim();
    expect(claimed).toMatchObject({ id: replay.id, status: 'running' });
    expect(await replays.claim()).toBeNull();
    await replays.addProgress(claimed!, { scanned: 10, matched: 4, delivered: 4 });
    await replays.finish(claimed!, { status: 'completed' });
    const finished = await replays.get(replay.id);
    expect(typeof finished?.finishedAt).toBe('string');
    expect(finished).toMatchObject({
      status: 'completed',
      progress: { scanned: 10, matched: 4, delivered: 4, deadLettered: 0 },
    });
    expect((await replays.list('sub_r')).map((r) => r.id)).toEqual([replay.id]);
  });

  it('hands a claimed redrive whose lease ran out back to the queue, and only then', async () => {
    const letters = new DeadLetterRepository(store.redis, store.keys);
    const request = await letters.requestRedrive({
      subscriptionId: 'sub_rl',
      tenant: 'a',
      ids: null,
    });
    const later = await letters.requestRedrive({
      subscriptionId: 'sub_rl',
      tenant: 'a',
      ids: null,
    });
    const first = (await letters.claimRedrive())!;
    expect(first.id).toBe(request.id);
    // Its lease holds, renewed or not yet run out: nothing to take over.
    expect(await letters.takeOverExpiredRedrives()).toEqual([]);
    await letters.renewRedrive(first, Date.now() + REDRIVE_LEASE_MS);
    expect(await letters.takeOverExpiredRedrives(Date.now() + REDRIVE_LEASE_MS + 1)).toEqual([]);
    // Its instance died (or the redrive failed half-way): back at the front of the queue.
    expect(await letters.takeOverExpiredRedrives(Date.now() + 2 * REDRIVE_LEASE_MS + 1)).toEqual([
      request.id,
    ]);
    const again = (await letters.claimRedrive())!;
    expect(again.id).toBe(request.id);
    await letters.finishRedrive(again);
    expect(await letters.takeOverExpiredRedrives(Date.now() + 3 * REDRIVE_LEASE_MS)).toEqual([]);
    const next = (await letters.claimRedrive())!;
    expect(next.id).toBe(later.id);
    await letters.finishRedrive(next);
  });

  it('hands a claimed replay whose lease ran out back to the queue, and only then', async () => {
    const replays = new ReplayRepository(store.redis, store.keys);
    const replay = await replays.request({
      subscriptionId: 'sub_lease',
      tenant: 'a',
      from: { time: '2025-01-01T00:00:00Z' },
      to: null,
    });
    const claimed = (await replays.claim())!;
    expect(claimed.id).toBe(replay.id);
    await replays.addProgress(claimed, { scanned: 7, delivered: 3 });
    // Its lease holds: nothing to take over.
    expect(await replays.takeOverExpired()).toEqual([]);
    await replays.renew(claimed);
    expect(await replays.takeOverExpired(Date.now() + REPLAY_LEASE_MS / 2)).toEqual([]);
    // Its instance stopped renewing: once the lease is past, it is queued again, counters reset.
    expect(await replays.takeOverExpired(Date.now() + REPLAY_LEASE_MS + 1)).toEqual([replay.id]);
    expect(await replays.get(replay.id)).toMatchObject({
      status: 'requested',
      restarts: 1,
      progress: { scanned: 0, delivered: 0 },
    });
    const again = await replays.claim();
    expect(again).toMatchObject({ id: replay.id, status: 'running', restarts: 1 });
    await replays.finish(again!, { status: 'completed' });
    expect(await replays.takeOverExpired(Date.now() + REPLAY_LEASE_MS + 1)).toEqual([]);
  });

  it('hands a replay its instance stops running back to the front of the queue', async () => {
    const replays = new ReplayRepository(store.redis, store.keys);
    const first = await replays.request({
      subscriptionId: 'sub_back',
      tenant: 'a',
      from: { time: '2025-01-01T00:00:00Z' },
      to: null,
    });
    const waiting = await replays.request({
      subscriptionId: 'sub_back',
      tenant: 'a',
      from: { time: '2025-01-02T00:00:00Z' },
      to: null,
    });
    const firstRun = (await replays.claim())!;
    expect(firstRun.id).toBe(first.id);
    await replays.addProgress(firstRun, { scanned: 5, matched: 2 });
    const ends = [{ topic: 't', partition: 0, offset: '10' }];
    expect(await replays.firstEnds(firstRun, ends)).toEqual(ends);
    expect(await replays.handBack(firstRun)).toBe(true);
    expect(await replays.get(first.id)).toMatchObject({
      status: 'requested',
      restarts: 1,
      progress: { scanned: 0, matched: 0 },
    });
    // Not claimed any more: a second hand-back is refused and changes nothing.
    await expect(replays.handBack(firstRun)).rejects.toThrow(LeaseLostError);
    // At the front: it runs before the one that was waiting.
    const secondRun = (await replays.claim())!;
    expect(secondRun.id).toBe(first.id);
    // The end offsets its first run saw stay its ends when it runs again.
    expect(
      await replays.firstEnds(secondRun, [{ topic: 't', partition: 0, offset: '25' }]),
    ).toEqual(ends);
    // One replay of a subscription at a time: the other waits until the first has ended.
    expect(await replays.claim()).toBeNull();
    await replays.finish(secondRun, { status: 'completed' });
    const waitingRun = (await replays.claim())!;
    expect(waitingRun.id).toBe(waiting.id);
    await replays.finish(waitingRun, { status: 'completed' });
    expect(await replays.handBack(secondRun)).toBe(false);
    expect((await replays.get(first.id))?.status).toBe('completed');
  });

  it('runs one replay a subscription and a few a tenant at once, the oldest that may run first', async () => {
    const replays = new ReplayRepository(store.redis, store.keys);
    const ask = (subscriptionId: string, tenant: string) =>
      replays.request({ subscriptionId, tenant, from: { time: '2025-01-01T00:00:00Z' }, to: null });
    const slow = await ask('sub_slow', 'busy');
    const slowAgain = await ask('sub_slow', 'busy');
    const second = await ask('sub_b2', 'busy');
    const third = await ask('sub_b3', 'busy');
    const other = await ask('sub_other', 'quiet');
    const claims = new Map<string, ClaimedReplay>();
    const claim = async () => {
      const claimed = await replays.claim(30_000, 2);
      if (claimed) claims.set(claimed.id, claimed);
      return claimed;
    };
    const complete = (id: string) => replays.finish(claims.get(id)!, { status: 'completed' });
    // Claims race as two instances would make them; each replay goes to exactly one.
    const claimed = await Promise.all([1, 2, 3, 4, 5].map(claim));
    const ids = claimed.map((replay) => replay?.id).filter((id) => id !== undefined);
    // sub_slow's second replay waits for its first; tenant "busy" has two running, so its third
    // subscription waits too; tenant "quiet" is not held up by either.
    expect(ids.sort()).toEqual([slow.id, second.id, other.id].sort());
    expect((await replays.get(slowAgain.id))?.status).toBe('requested');
    expect((await replays.get(third.id))?.status).toBe('requested');
    // One of the tenant's ends: its oldest waiting replay that may run goes next (not
    // sub_slow's second one, whose subscription still runs a replay).
    await complete(second.id);
    expect((await claim())?.id).toBe(third.id);
    expect(await claim()).toBeNull();
    await complete(slow.id);
    await complete(third.id);
    expect((await claim())?.id).toBe(slowAgain.id);
    // A replay whose record is gone (its subscription was deleted) is dropped from the queue.
    const gone = await ask('sub_gone', 'quiet');
    await store.redis.client.del(store.keys.replay(gone.id));
    expect(await claim()).toBeNull();
    expect(await store.redis.client.lrange(store.keys.replayQueue(), 0, -1)).toEqual([]);
    for (const id of [slowAgain.id, other.id]) await complete(id);
  });

  it('counts outcomes, sets gauges and keeps stream cursors', async () => {
    const stats = new SubscriptionStatsRepository(store.redis, store.keys);
    // Stats are kept for a stored subscription only.
    await store.redis.client.hset(store.keys.subscription('sub_s'), 'status', 'active');
    const at = new Date('2025-02-02T00:00:00Z');
    await stats.record('sub_s', { delivered: 2, failed: 1 }, at);
    await stats.record('sub_s', { deadLettered: 1 });
    // `pending` is kept by the retry parking scripts; here it is set as they would.
    await store.redis.client.hset(store.keys.subscriptionStats('sub_s'), 'pending', '3');
    // Two instances' shares of the lag add up; a stale report (an instance gone) does not count.
    const now = Date.now();
    await stats.reportHeld('a', new Map([['sub_s', 4]]), now);
    await stats.reportHeld('b', new Map([['sub_s', 3]]), now - 1000);
    await stats.reportHeld('gone', new Map([['sub_s', 100]]), now - 60_000);
    expect(await stats.get('sub_s', now)).toEqual({
      delivered: 2,
      failed: 1,
      deadLettered: 1,
      pending: 3,
      lagEvents: 7,
      lastSuccessAt: at.toISOString(),
      lastFailureAt: at.toISOString(),
    });
    const cursors = new StreamCursorRepository(store.redis, store.keys);
    expect(await cursors.get('sub_s')).toBeNull();
    await cursors.acknowledge('sub_s', 'cursor-1');
    await cursors.acknowledge('sub_s', 'cursor-2');
    expect(await cursors.get('sub_s')).toMatchObject({ cursor: 'cursor-2' });
  });
});
