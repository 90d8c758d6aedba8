import type { WebhookAttemptResult, WebhookClient } from '@herald/delivery';
import { createLogger, MetricsRegistry, Tracer } from '@herald/observability';
import type {
  PendingDisable,
  PendingDisableStore,
  RetryParkingStore,
  StoredSubscription,
  Subscription,
  SubscriptionRepository,
} from '@herald/store';
import { z } from 'zod';
import { SubscriptionIndex } from '../subscriptions/subscription-index';
import { storedSubscription } from '../subscriptions/subscription.fixture';
import type { BackfillGate } from './backfill-gate';
import type { DeadLetterWriter } from './dead-letter.writer';
import { fanoutDeliveryConfig } from './delivery.config';
import { DeliveryEngine, PENDING_DISABLE_GRACE_MS } from './delivery.engine';
import { DeliveryMetrics } from './delivery.metrics';
import type { DeliveryRecordsWriter } from './delivery-records.writer';
import type { DeliveryTask } from './delivery-task';
import { parseSourceEvent } from './source-event';

const gone: WebhookAttemptResult = {
  kind: 'response',
  status: 410,
  headers: {},
  body: '',
  bodyTruncated: false,
  durationMs: 3,
};

function liveTask(subscriptionId: string, settle: () => void): DeliveryTask {
  const parsed = parseSourceEvent({
    topic: 'orders.v1',
    partition: 0,
    offset: '7',
    key: Buffer.from('o-1'),
    // Read after the subscription was made: a live event from before it is not its own.
    timestamp: String(Date.now()),
    value: Buffer.from('{"orderId":"o-1"}'),
    headers: {
      ce_specversion: Buffer.from('1.0'),
      ce_id: Buffer.from('evt-1'),
      ce_type: Buffer.from('order.created'),
      ce_source: Buffer.from('/orders'),
      ce_time: Buffer.from(new Date().toISOString()),
    },
  });
  if (!parsed.ok) throw new Error(parsed.reason);
  return {
    subscriptionId,
    source: parsed.source,
    attempt: 1,
    firstAttemptAt: null,
    origin: 'live',
    replayId: null,
    queueId: `k.${subscriptionId}`,
    ordered: false,
    ticket: { settle, current: true, owner: null },
    claim: null,
  };
}

/**
 * A repository holding one subscription whose updates fail while `failing` is set, each after
 * `gate` opens when one is set.
 */
class FlakyRepository {
  failing = true;
  updates = 0;
  gate: Promise<void> | null = null;
  /** Called as each update begins (what else was written before it). */
  onUpdate: () => void = () => undefined;
  constructor(private current: StoredSubscription) {}

  get(id: string): Promise<Subscription | null> {
    return Promise.resolve(id === this.current.subscription.id ? this.current.subscription : null);
  }

  async update(
    _id: string,
    change: (current: StoredSubscription) => StoredSubscription,
  ): Promise<StoredSubscription> {
    this.updates += 1;
    this.onUpdate();
    await this.gate;
    if (this.failing) throw new Error('ERR the store is read-only');
    this.current = change(this.current);
    return this.current;
  }
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('delivery engine', () => {
  let engine: DeliveryEngine | undefined;
  afterEach(() => engine?.stop(1000));

  /**
   * An engine whose one subscription's endpoint answers every attempt 410 Gone; its first
   * `together` attempts get their answers at once, when the last of them is sent.
   */
  function goneEndpoint(id: string, together = 1, others: readonly string[] = []) {
    const index = new SubscriptionIndex();
    index.upsert(storedSubscription(id));
    for (const other of others) index.upsert(storedSubscription(other));
    const repository = new FlakyRepository(storedSubscription(id));
    const counts = { sends: 0 };
    let answerAll = () => {};
    const allSent = new Promise<void>((resolve) => (answerAll = resolve));
    const client = {
      send: async () => {
        counts.sends += 1;
        if (counts.sends === together) answerAll();
        await allSent;
        return gone;
      },
      release: () => undefined,
    } as unknown as WebhookClient;
    const parking = {
      noteFailure: (_id: string, nowMs: number) => Promise.resolve(nowMs),
      noteSuccess: () => Promise.resolve(),
    } as unknown as RetryParkingStore;
    const pending = new Map<string, PendingDisable>();
    const pendingDisables = {
      add: (id: string, entry: PendingDisable) => Promise.resolve(void pending.set(id, entry)),
      remove: (id: string) => Promise.resolve(void pending.delete(id)),
      list: () => Promise.resolve(new Map(pending)),
    } as unknown as PendingDisableStore;
    const disabledEvents: string[] = [];
    const deadLetters = {
      subscriptionDisabled: (subscription: { id: string }) => {
        disabledEvents.push(subscription.id);
        return Promise.resolve();
      },
    } as unknown as DeadLetterWriter;
    const records = {
      attempt: () => undefined,
      deadLettered: () => undefined,
      watchHeld: () => undefined,
    } as unknown as DeliveryRecordsWriter;
    const metrics = new DeliveryMetrics(new MetricsRegistry('herald-fanout'), () =>
      Promise.resolve(0),
    );
    engine = new DeliveryEngine({
      index,
      client,
      parking,
      pendingDisables,
      repository: repository as unknown as SubscriptionRepository,
      records,
      deadLetters,
      backfills: { holds: () => false } as unknown as BackfillGate,
      metrics,
      tracer: new Tracer(),
      config: fanoutDeliveryConfig.build(z.object(fanoutDeliveryConfig.env).parse({})),
      requestTimeoutMs: 1000,
      version: 'test',
      logger: createLogger('fanout-test', 'silent'),
    });
    return { engine, index, repository, counts, disabledEvents, pending, metrics };
  }

  it('does not settle an event whose 410 could not disable the subscription; its next 410 does', async () => {
    const id = 'sub_gone';
    const { engine, index, repository, counts, disabledEvents } = goneEndpoint(id);
    let settled = 0;
    engine.submit(liveTask(id, () => (settled += 1)));

    // The disable write fails: the event is neither delivered nor dead-lettered, so it is not
    // settled (its offset is not committed) and the subscription stays active.
    await until(() => repository.updates >= 1 && engine.inFlight() === 0);
    expect(settled).toBe(0);
    expect(index.get(id)?.subscription.status).toBe('active');

    // Once the store works again, the retried event's 410 disables the subscription.
    repository.failing = false;
    await until(() => settled > 0);
    expect(settled).toBe(1);
    expect(counts.sends).toBeGreaterThanOrEqual(2);
    expect(index.get(id)?.subscription.status).toBe('disabled');
    expect(disabledEvents).toEqual([id]);
  });

  it('counts a partition held back once a pause, however often its lanes are told again', async () => {
    const { engine, metrics } = goneEndpoint('sub_ahead', 10, ['sub_far']);
    for (let i = 0; i < 7; i++) engine.submit(liveTask('sub_far', () => undefined));
    engine.partitionHeldBack('orders.v1', 0, ['sub_far'], true);
    engine.partitionHeldBack('orders.v1', 0, ['sub_far'], false);
    engine.partitionHeldBack('orders.v1', 0, ['sub_gone_meanwhile'], false);
    const counted = (await metrics.backlogHeldBack.get()).values;
    expect(counted.map(({ labels, value }) => [labels['topic'], value])).toEqual([
      ['orders.v1', 1],
    ]);
  });

  it('leaves a task that comes after it stopped unsettled, for whoever reads the partition next', async () => {
    const id = 'sub_late';
    const { engine, counts } = goneEndpoint(id);
    await engine.stop(100);
    let settled = 0;
    engine.submit(liveTask(id, () => (settled += 1)));
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Settled, its offset would be committed (or handed over as done) though never sent.
    expect(settled).toBe(0);
    expect(counts.sends).toBe(0);
  });

  it('settles a 410 that meets a disable in progress only once that disable holds', async () => {
    const id = 'sub_gone_twice';
    const { engine, index, repository, disabledEvents } = goneEndpoint(id, 2);
    let open = () => {};
    repository.gate = new Promise<void>((resolve) => (open = resolve));
    let settled = 0;
    engine.submit(liveTask(id, () => (settled += 1)));
    engine.submit(liveTask(id, () => (settled += 1)));

    // Both answered 410 together, and the first disable waits on the store: neither is settled.
    await until(() => repository.updates >= 1);
    expect(engine.inFlight()).toBe(2);
    expect(settled).toBe(0);

    // That disable fails: both events stay, to be sent again.
    open();
    await until(() => engine.inFlight() === 0);
    expect(settled).toBe(0);
    expect(index.get(id)?.subscription.status).toBe('active');

    repository.gate = null;
    repository.failing = false;
    await until(() => settled === 2);
    expect(index.get(id)?.subscription.status).toBe('disabled');
    expect(disabledEvents).toEqual([id]);
  });

  it('records a disable before its status is written, and forgets it once its event is published', async () => {
    const id = 'sub_recorded';
    const { engine, repository, disabledEvents, pending } = goneEndpoint(id);
    repository.failing = false;
    const recordedFirst: boolean[] = [];
    repository.onUpdate = () => recordedFirst.push(pending.get(id)?.reason === 'endpoint_gone');
    engine.submit(liveTask(id, () => undefined));
    await until(() => disabledEvents.length === 1);
    await until(() => pending.size === 0);
    expect(recordedFirst).toEqual([true]);
  });

  it('publishes the event of a disable its instance did not, and drops one that never happened', async () => {
    const id = 'sub_left_behind';
    const { engine, repository, disabledEvents, pending } = goneEndpoint(id);
    const entry = {
      reason: 'failing_too_long',
      lastStatus: 503,
      lastSuccessAt: null,
      failingSince: '2025-01-01T00:00:00.000Z',
      at: 1000,
    };
    // Still active: that instance died before the status write; nothing to say.
    pending.set(id, entry);
    await engine.sweepPendingDisables(1000 + PENDING_DISABLE_GRACE_MS);
    expect(disabledEvents).toEqual([]);
    expect(pending.size).toBe(0);
    // Disabled: it died after the status write; the event is published, once the grace is over.
    repository.failing = false;
    await repository.update(id, (current) => ({
      ...current,
      subscription: { ...current.subscription, status: 'disabled' },
    }));
    pending.set(id, entry);
    await engine.sweepPendingDisables(1000 + PENDING_DISABLE_GRACE_MS - 1);
    expect(disabledEvents).toEqual([]);
    await engine.sweepPendingDisables(1000 + PENDING_DISABLE_GRACE_MS);
    expect(disabledEvents).toEqual([id]);
    expect(pending.size).toBe(0);
  });
});
