import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { metricValue } from './stream-app.fixture';
import {
  createSubscription,
  orderEvents,
  startDeliveryHarness,
  waitFor,
  type DeliveryHarness,
} from './delivery.fixture';

// The subscriptions of one origin share its in-flight limit (here fixed at 4: its floor is its
// maximum), and an attempt outstanding for HERALD_DELIVERY_SLOW_REQUEST_MS stops counting.
const ORIGIN_LIMIT = 4;
const SLOW_MS = 300;

/** A receiver answering 204 after `delayMs`, noting the most requests it ever had at once. */
async function slowReceiver(delayMs: number) {
  const state = { open: 0, most: 0, received: 0 };
  const server: Server = createServer((req, res) => {
    state.open += 1;
    state.most = Math.max(state.most, state.open);
    req.resume();
    req.on('end', () =>
      setTimeout(() => {
        state.open -= 1;
        state.received += 1;
        res.writeHead(204).end();
      }, delayMs),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('in-flight limits per origin', () => {
  let harness: DeliveryHarness;

  beforeAll(async () => {
    harness = await startDeliveryHarness({
      HERALD_DELIVERY_ORIGIN_MAX_IN_FLIGHT: String(ORIGIN_LIMIT),
      HERALD_DELIVERY_SLOW_REQUEST_MS: String(SLOW_MS),
    });
  }, 60_000);

  afterAll(() => harness?.close());

  it('holds the subscriptions of one origin to its limit together, each of them delivering', async () => {
    const receiver = await slowReceiver(40);
    try {
      const subscriptions = await Promise.all(
        ['/a', '/b', '/c'].map((path) =>
          createSubscription(harness.store, `${receiver.url}${path}`, { maxInFlight: 16 }),
        ),
      );
      await harness.events.publish(orderEvents(90, 90));
      await waitFor(() => receiver.state.received === 270, {
        timeoutMs: 30_000,
        what: '270 deliveries',
      });
      // Each subscription alone may have 16 in flight: 48 at once without the origin's limit.
      expect(receiver.state.most).toBeLessThanOrEqual(ORIGIN_LIMIT);
      for (const { subscription } of subscriptions)
        await waitFor(
          async () => (await harness.store.stats.get(subscription.id)).delivered === 90,
          { what: `90 delivered in the stats of ${subscription.url}` },
        );
      expect(await metricValue(harness.fanout.url, 'herald_delivery_origins')).toBeGreaterThan(0);
    } finally {
      await receiver.close();
    }
  });

  it('lets an endpoint that hangs hold its origin’s slots only until its attempts turn slow', async () => {
    // One origin, two paths: `/stuck` never answers, `/ok` does at once.
    const target = await harness.receiver((request) =>
      request.path === '/stuck' ? 'hang' : { status: 204 },
    );
    const slowBefore = await metricValue(harness.fanout.url, 'herald_delivery_slow_attempts_total');
    await createSubscription(harness.store, `${target.url}/stuck`, { maxInFlight: ORIGIN_LIMIT });
    const healthy = await createSubscription(harness.store, `${target.url}/ok`);
    const batch = orderEvents(200, 20);
    await harness.events.publish(batch);
    // Well before the stuck attempts time out (15 s), which is what would free their slots
    // otherwise.
    const ok = () => target.received.filter((r) => r.path === '/ok');
    await waitFor(() => ok().length >= 200, { timeoutMs: 8_000, what: '200 deliveries to /ok' });
    expect(new Set(ok().map((r) => r.headers['webhook-id']))).toEqual(
      new Set(batch.map((e) => e.id)),
    );
    await waitFor(
      async () => (await harness.store.stats.get(healthy.subscription.id)).delivered === 200,
      { what: '200 delivered in the stats of /ok' },
    );
    expect(target.received.filter((r) => r.path === '/stuck').length).toBeLessThanOrEqual(
      ORIGIN_LIMIT,
    );
    expect(
      await metricValue(harness.fanout.url, 'herald_delivery_slow_attempts_total'),
    ).toBeGreaterThanOrEqual(slowBefore + 1);
  });
});
