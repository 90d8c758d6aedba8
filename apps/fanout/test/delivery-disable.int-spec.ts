import type { RunningBroker } from '@herald/kafka/testing';
import { PendingDisableStore } from '@herald/store';
import {
  createSubscription,
  newFanoutEnv,
  operationalEvents,
  orderEvents,
  startDeliveryHarness,
  startFanoutInProcess,
  storeFor,
  waitFor,
  type DeliveryHarness,
  type EventPublisher,
  type TestStore,
} from './delivery.fixture';

// SPEC §6: a subscription failing without a success for the configured period is disabled and
// `herald.subscription.disabled` is published. Here the period is 3 s instead of 5 days.
const DISABLE_AFTER_MS = 3000;

describe('auto-disable of a subscription that keeps failing', () => {
  let harness: DeliveryHarness;
  let broker: RunningBroker;
  let store: TestStore;
  let events: EventPublisher;

  beforeAll(async () => {
    harness = await startDeliveryHarness({
      HERALD_DELIVERY_DISABLE_AFTER_MS: String(DISABLE_AFTER_MS),
    });
    ({ broker, store, events } = harness);
  }, 60_000);

  afterAll(() => harness?.close());

  /** The herald.subscription.disabled events of one subscription, once there is one. */
  function disabledEventsOf(subscriptionId: string) {
    return waitFor(
      async () => {
        const mine = (
          await operationalEvents(broker.brokers, 'herald.subscription.disabled', 1)
        ).filter((e) => e['subscriptionId'] === subscriptionId);
        return mine.length > 0 && mine;
      },
      { timeoutMs: 20_000, what: `the herald.subscription.disabled event of ${subscriptionId}` },
    );
  }

  it('disables only the subscription with no success for the whole period, and says so', async () => {
    const firstFailureAt = new Map<string, number>();
    let flakyCalls = 0;
    const target = await harness.receiver((request) => {
      if (!firstFailureAt.has(request.path)) firstFailureAt.set(request.path, Date.now());
      // `/flaky` succeeds on every fourth request, so its failures never run for the period.
      if (request.path === '/flaky') return { status: ++flakyCalls % 4 === 0 ? 204 : 500 };
      return { status: 503 };
    });
    const retry = { schedule: Array.from({ length: 10 }, () => '500ms') };
    const failing = await createSubscription(store, `${target.url}/down`, { retry });
    const flaky = await createSubscription(store, `${target.url}/flaky`, { retry });
    await events.publish(orderEvents(4, 4));

    const stored = async (id: string) => store.subscriptions.get(id);
    await waitFor(async () => (await stored(failing.subscription.id))?.status === 'disabled', {
      timeoutMs: 20_000,
      what: 'the failing subscription to be disabled',
    });
    const disabledAt = Date.now();
    expect(disabledAt - firstFailureAt.get('/down')!).toBeGreaterThanOrEqual(DISABLE_AFTER_MS);

    const notices = (
      await operationalEvents(broker.brokers, 'herald.subscription.disabled', 1)
    ).filter((e) => e['subscriptionId'] === failing.subscription.id);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({
      tenant: 'acme',
      reason: 'failing_too_long',
      lastStatus: 503,
    });

    // Disabled: nothing more is sent to it. The flaky one, past the same period, stays active.
    const sentToDown = target.received.filter((r) => r.path === '/down').length;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(target.received.filter((r) => r.path === '/down')).toHaveLength(sentToDown);
    expect(Date.now() - firstFailureAt.get('/flaky')!).toBeGreaterThan(DISABLE_AFTER_MS);
    expect((await stored(flaky.subscription.id))?.status).toBe('active');
  });

  it('counts failures that are dead-lettered at once (an empty schedule) toward the period', async () => {
    // With no retries every failed attempt ends in a dead letter straight away; the
    // subscription is still failing without a success, and is disabled all the same.
    let firstFailureAt: number | undefined;
    const target = await harness.receiver(() => {
      firstFailureAt ??= Date.now();
      return { status: 500 };
    });
    const once = await createSubscription(store, `${target.url}/once`, {
      retry: { schedule: [] },
    });
    const disabled = async () =>
      (await store.subscriptions.get(once.subscription.id))?.status === 'disabled';
    // A new event every 300 ms, so failures go on past the period.
    let publishing = true;
    const feeding = (async () => {
      while (publishing) {
        await events.publish(orderEvents(1, 1));
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    })();
    try {
      await waitFor(disabled, {
        timeoutMs: 20_000,
        what: 'the subscription without retries to be disabled',
      });
    } finally {
      publishing = false;
      await feeding;
    }
    expect(Date.now() - firstFailureAt!).toBeGreaterThanOrEqual(DISABLE_AFTER_MS);
    const notices = await disabledEventsOf(once.subscription.id);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ reason: 'failing_too_long', lastStatus: 500 });
  });

  it('publishes the disabled event of an instance that died between the status write and the publish', async () => {
    // What such a death leaves: the subscription disabled, its pending event recorded, and
    // nothing on herald.operational. Another fanout of the same deployment starts.
    const setup = newFanoutEnv(broker.brokers, process.env.REDIS_URL!);
    const own = await storeFor(setup);
    const left = await createSubscription(own, 'http://127.0.0.1:9/gone');
    await own.subscriptions.update(left.subscription.id, (current) => ({
      ...current,
      subscription: { ...current.subscription, status: 'disabled' },
    }));
    const pending = new PendingDisableStore(own.redis, own.keys);
    await pending.add(left.subscription.id, {
      reason: 'endpoint_gone',
      lastStatus: 410,
      lastSuccessAt: null,
      failingSince: null,
      at: Date.now() - 60_000,
    });
    const fanout = await startFanoutInProcess(setup);
    try {
      const notices = await disabledEventsOf(left.subscription.id);
      expect(notices).toHaveLength(1);
      expect(notices[0]).toMatchObject({
        tenant: 'acme',
        reason: 'endpoint_gone',
        lastStatus: 410,
      });
      expect((await pending.list()).size).toBe(0);
    } finally {
      await fanout.stop();
      await own.cleanup();
    }
  });
});
