import {
  createSubscription,
  orderEvents,
  startSeparateDeliveryHarness,
  waitFor,
  type DeliveryHarness,
  type SeparateFanout,
  type EventPublisher,
  type TestStore,
} from './delivery.fixture';

const EVENTS = 20_000;
const KEYS = 200;
const FAILURE_RATE = 0.2;

describe('order per key under failures', () => {
  let harness: DeliveryHarness<SeparateFanout>;
  let store: TestStore;
  let events: EventPublisher;

  beforeAll(async () => {
    harness = await startSeparateDeliveryHarness({ HERALD_DELIVERY_LOG: 'false' });
    ({ store, events } = harness);
  }, 60_000);

  afterAll(() => harness?.close());

  it(`never sends an event of a key before the earlier ones succeeded (${EVENTS} events, ${KEYS} keys, ${FAILURE_RATE * 100} % failing)`, async () => {
    const succeeded = new Map<string, number>();
    const violations: string[] = [];
    let duplicates = 0;
    let failures = 0;
    const receiver = await harness.receiver((request) => {
      const { orderId, seq } = (
        JSON.parse(request.body) as { data: { orderId: string; seq: number } }
      ).data;
      const done = succeeded.get(orderId) ?? 0;
      if (seq > done + 1)
        violations.push(`${orderId}: ${seq} arrived while ${done + 1} had not succeeded`);
      if (Math.random() < FAILURE_RATE) {
        failures += 1;
        return { status: 500 };
      }
      if (seq <= done) duplicates += 1;
      else succeeded.set(orderId, seq);
      return { status: 204 };
    });
    // Enough quick retries that no delivery runs out of them (0.2^11 per event).
    await createSubscription(store, receiver.url, {
      maxInFlight: 64,
      retry: { schedule: Array<string>(10).fill('20ms') },
    });
    const batch = orderEvents(EVENTS, KEYS);
    const started = Date.now();
    await events.publish(batch);
    const total = () => [...succeeded.values()].reduce((sum, n) => sum + n, 0);
    await waitFor(() => total() === EVENTS, {
      timeoutMs: 90_000,
      intervalMs: 200,
      what: `${EVENTS} deliveries (got ${total()})`,
    });
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `order test: ${EVENTS} events in ${seconds.toFixed(1)} s, ${receiver.received.length} requests, ${failures} failed on purpose, ${duplicates} duplicates`,
    );
    expect(violations).toEqual([]);
    expect(succeeded.size).toBe(KEYS);
    expect([...succeeded.values()].every((n) => n === EVENTS / KEYS)).toBe(true);
  }, 120_000);
});
