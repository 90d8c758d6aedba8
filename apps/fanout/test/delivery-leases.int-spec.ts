import { DeadLetterRepository } from '@herald/store';
import {
  createSubscription,
  orderEvents,
  startDeliveryHarness,
  waitFor,
  type DeliveryHarness,
} from './delivery.fixture';
import { metricValue } from './stream-app.fixture';

const LEASE_MS = 1200;

/** Holds fanout's redrive at its first page's marks until `release` (the write then goes on). */
function holdMarks(harness: DeliveryHarness) {
  const repository = harness.fanout.app.get(DeadLetterRepository);
  const mark = repository.markRedriven.bind(repository);
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const state = { held: false, release, restore: () => watch.mockRestore() };
  const watch = jest.spyOn(repository, 'markRedriven').mockImplementation(async (...args) => {
    state.held = true;
    await released;
    return mark(...args);
  });
  return state;
}

describe('replay leases (fanout in this process)', () => {
  let harness: DeliveryHarness;

  beforeAll(async () => {
    // Renewed every 200 ms: a taken-over claim is noticed within that.
    harness = await startDeliveryHarness({
      HERALD_DELIVERY_CLAIM_LEASE_MS: String(LEASE_MS),
      HERALD_DELIVERY_REDRIVE_PAGE_SIZE: '10',
    });
  }, 60_000);

  afterAll(() => harness?.close());

  it('stops a replay another instance took over, and leaves its record to that instance', async () => {
    const { store, events } = harness;
    const target = await harness.receiver();
    const replayed = () => target.received.filter((r) => r.headers['herald-replay'] === 'true');
    const from = new Date(Date.now() - 1000);
    const batch = orderEvents(40, 4, 'lease');
    await events.publish(batch);
    // Created after the events: only the replay sends them, 4 a second (10 s for all).
    const sub = await createSubscription(store, target.url, {
      types: ['order.created'],
      maxPerSecond: 4,
    });
    const replay = await store.replays.request({
      subscriptionId: sub.subscription.id,
      tenant: 'acme',
      from: { time: from.toISOString() },
      to: null,
    });
    await waitFor(() => replayed().length >= 2, {
      what: 'the replay under way',
      timeoutMs: 20_000,
    });

    // This instance stalls (as far as Redis can tell) past its lease: another one takes the
    // replay over and claims it. Here the test is that other instance.
    expect(await store.replays.takeOverExpired(Date.now() + 10 * LEASE_MS)).toEqual([replay.id]);
    const other = await store.replays.claim(30_000);
    expect(other).toMatchObject({ id: replay.id, status: 'running', restarts: 1 });
    const takenOver = await store.replays.get(replay.id);

    // The stale run notices at its next renewal and stops.
    await waitFor(
      async () => (await metricValue(harness.fanout.url, 'herald_delivery_replays_running')) === 0,
      { what: 'the taken-over replay to stop here', timeoutMs: 20_000, intervalMs: 100 },
    );
    // Its counters, status and end are the other instance's: nothing the stale run did shows.
    expect(await store.replays.get(replay.id)).toEqual(takenOver);
    expect(
      await metricValue(harness.fanout.url, 'herald_delivery_leases_lost_total', 'kind="replay"'),
    ).toBe(1);
    // What it had not sent yet stays unsent (the other instance sends it).
    expect(new Set(replayed().map((r) => r.headers['webhook-id'])).size).toBeLessThan(batch.length);
  }, 60_000);

  it('stops a redrive another instance took over after the page it was on', async () => {
    const { store, events } = harness;
    let failing = true;
    const target = await harness.receiver(() => ({ status: failing ? 500 : 204 }));
    const sub = await createSubscription(store, target.url, { retry: { schedule: ['100ms'] } });
    const id = sub.subscription.id;
    const batch = orderEvents(40, 40, 'redrive-lease');
    await events.publish(batch);
    const letters = await waitFor(
      async () => {
        const page = await store.deadLetters.list(id, { limit: 100 });
        return page.items.length === 40 && page.items;
      },
      { what: '40 dead letters', timeoutMs: 20_000 },
    );
    failing = false;

    // Once the first page is marked, this instance stalls (as Redis sees it) past its lease and
    // another one takes the redrive over and claims it; the stall outlasts a renewal.
    const repository = harness.fanout.app.get(DeadLetterRepository);
    const mark = repository.markRedriven.bind(repository);
    const pages: number[] = [];
    let other: Awaited<ReturnType<typeof store.deadLetters.claimRedrive>> = null;
    const watch = jest
      .spyOn(repository, 'markRedriven')
      .mockImplementation(async (subscriptionId, ids, claim, at) => {
        await mark(subscriptionId, ids, claim, at);
        if (subscriptionId !== id) return;
        pages.push(ids.length);
        if (other) return;
        await store.deadLetters.takeOverExpiredRedrives(Date.now() + 10 * LEASE_MS);
        other = await store.deadLetters.claimRedrive(Date.now(), 60_000);
        await new Promise((resolve) => setTimeout(resolve, LEASE_MS / 2));
      });
    try {
      const request = await store.deadLetters.requestRedrive({
        subscriptionId: id,
        tenant: 'acme',
        ids: null,
      });
      await waitFor(
        async () =>
          (await metricValue(
            harness.fanout.url,
            'herald_delivery_leases_lost_total',
            'kind="redrive"',
          )) === 1,
        { what: 'the taken-over redrive to stop here', timeoutMs: 20_000, intervalMs: 100 },
      );
      expect(other).toMatchObject({ id: request.id });
      // One page was this instance's; the rest, and the end of the redrive, are the other's.
      expect(pages).toEqual([10]);
      const marked = (
        await store.deadLetters.get(
          id,
          letters.map((l) => l.id),
        )
      ).filter((l) => l.redrivenAt !== null);
      expect(marked).toHaveLength(10);
      expect(await store.redis.client.lrange(store.keys.redriveClaimed(), 0, -1)).toContain(
        request.id,
      );
    } finally {
      watch.mockRestore();
    }
  }, 60_000);

  it('runs a replay while a redrive of the same instance is held up', async () => {
    const { store, events } = harness;
    let failing = true;
    const target = await harness.receiver(() => ({ status: failing ? 500 : 204 }));
    const sub = await createSubscription(store, target.url, { retry: { schedule: ['100ms'] } });
    const batch = orderEvents(5, 5, 'redrive-held');
    await events.publish(batch);
    await waitFor(
      async () =>
        (await store.deadLetters.list(sub.subscription.id, { limit: 10 })).items.length === 5,
      { what: '5 dead letters', timeoutMs: 20_000 },
    );
    failing = false;

    // The redrive stops at its first page's marks until the test lets it go on.
    const marks = holdMarks(harness);
    try {
      const from = new Date(Date.now() - 60_000);
      const other = await harness.receiver();
      const replayed = await createSubscription(store, other.url, { types: ['order.created'] });
      await store.deadLetters.requestRedrive({
        subscriptionId: sub.subscription.id,
        tenant: 'acme',
        ids: null,
      });
      await waitFor(() => marks.held, { what: 'the redrive under way', timeoutMs: 20_000 });
      const replay = await store.replays.request({
        subscriptionId: replayed.subscription.id,
        tenant: 'acme',
        from: { time: from.toISOString() },
        to: null,
      });
      // On the old code the replay waited in the queue behind the redrive.
      await waitFor(async () => (await store.replays.get(replay.id))?.status === 'completed', {
        what: 'the replay to finish while the redrive is held',
        timeoutMs: 20_000,
      });
      expect(marks.held).toBe(true);
    } finally {
      marks.release();
      marks.restore();
    }
    // Let go, it finishes: every letter marked, every event delivered again.
    await waitFor(
      async () =>
        (await store.deadLetters.list(sub.subscription.id, { limit: 10 })).items.every(
          (letter) => letter.redrivenAt !== null,
        ),
      { what: 'the redrive to finish', timeoutMs: 20_000 },
    );
    await target.waitFor(15, 20_000);
  }, 60_000);
});

describe('a redrive interrupted by a shutdown', () => {
  let harness: DeliveryHarness;

  beforeAll(async () => {
    // A lease far longer than the test: a redrive left claimed would not come back in it.
    harness = await startDeliveryHarness({
      HERALD_DELIVERY_CLAIM_LEASE_MS: '30000',
      HERALD_DELIVERY_REDRIVE_PAGE_SIZE: '5',
    });
  }, 60_000);

  afterAll(() => harness?.close());

  it('is handed back at once, for the next instance to go on with the letters not yet redriven', async () => {
    const { store, events } = harness;
    let failing = true;
    const target = await harness.receiver(() => ({ status: failing ? 500 : 204 }));
    const sub = await createSubscription(store, target.url, { retry: { schedule: ['100ms'] } });
    const id = sub.subscription.id;
    await events.publish(orderEvents(20, 20, 'redrive-stop'));
    await waitFor(
      async () => (await store.deadLetters.list(id, { limit: 100 })).items.length === 20,
      {
        what: '20 dead letters',
        timeoutMs: 20_000,
      },
    );
    failing = false;

    // The redrive stops at its first page's marks until the test lets it go on.
    const marks = holdMarks(harness);
    try {
      const request = await store.deadLetters.requestRedrive({
        subscriptionId: id,
        tenant: 'acme',
        ids: null,
      });
      await waitFor(() => marks.held, { what: 'the redrive under way', timeoutMs: 20_000 });
      // The instance stops in the middle: its first page goes through, the second is not read.
      const stopping = harness.fanout.stop();
      marks.release();
      await stopping;

      // Back in the queue at once, not after its lease: the next instance to look takes it
      // (on the old code it stayed claimed for 30 s and this was null).
      const next = await store.deadLetters.claimRedrive();
      expect(next?.id).toBe(request.id);
      const letters = (await store.deadLetters.list(id, { limit: 100 })).items;
      expect(letters.filter((letter) => letter.redrivenAt !== null)).toHaveLength(5);
    } finally {
      marks.release();
      marks.restore();
    }
  }, 60_000);
});
