// No duplicates without failures (SPEC §6) when partitions move between fanout instances that
// are both healthy: one joining the group (scale out) and one leaving it on SIGTERM (scale in).
// Each fanout is its own process; the receivers always answer 204, so every duplicate is one the
// move made.
import { startWebhookReceiver, type WebhookReceiver } from '@herald/delivery/testing';
import { startTestBroker, type RunningBroker } from '@herald/kafka/testing';
import {
  EventPublisher,
  createSubscription,
  newFanoutEnv,
  orderEvents,
  spawnFanout,
  storeFor,
  waitFor,
  type FanoutEnv,
  type FanoutProcess,
  type TestEvent,
  type TestStore,
} from './delivery.fixture';

const FANOUT_ENV = { HERALD_FANOUT_SESSION_TIMEOUT_MS: '10000', HERALD_DELIVERY_LOG: 'false' };

/** Counts each event's successful deliveries and checks order per key as they arrive. */
async function countingReceiver() {
  const seen = new Map<string, number>();
  const lastSeq = new Map<string, number>();
  const outOfOrder: string[] = [];
  const receiver = await startWebhookReceiver({
    respond: (request) => {
      const id = String(request.headers['webhook-id']);
      const { orderId, seq } = (
        JSON.parse(request.body) as { data: { orderId: string; seq: number } }
      ).data;
      const previous = lastSeq.get(orderId) ?? 0;
      // A repeat of an earlier event is a duplicate (counted below), not a break in order.
      if (seq > previous + 1) outOfOrder.push(`${orderId}: ${seq} after ${previous}`);
      if (seq > previous) lastSeq.set(orderId, seq);
      seen.set(id, (seen.get(id) ?? 0) + 1);
      return { status: 204 };
    },
  });
  return {
    receiver,
    seen,
    outOfOrder,
    duplicates: () => [...seen.values()].reduce((sum, n) => sum + n - 1, 0),
  };
}

type CountingReceiver = Awaited<ReturnType<typeof countingReceiver>>;

describe('partitions moving between healthy fanout instances', () => {
  let broker: RunningBroker;
  let setup: FanoutEnv;
  let store: TestStore;
  let events: EventPublisher;
  const fanouts: FanoutProcess[] = [];
  const receivers: WebhookReceiver[] = [];

  beforeAll(async () => {
    broker = await startTestBroker();
    events = new EventPublisher(broker.brokers);
  }, 60_000);

  beforeEach(async () => {
    setup = newFanoutEnv(broker.brokers, process.env.REDIS_URL!);
    store = await storeFor(setup);
  });

  afterEach(async () => {
    await Promise.all(fanouts.splice(0).map((f) => f.kill('SIGKILL')));
    await Promise.all(receivers.splice(0).map((r) => r.close()));
    await store.cleanup();
  });

  afterAll(async () => {
    await events?.close();
    await broker?.stop();
  });

  async function fanout(): Promise<FanoutProcess> {
    const started = await spawnFanout(setup, FANOUT_ENV);
    fanouts.push(started);
    return started;
  }

  /** Two subscriptions on the same events, one ordered by key; returns their receivers. */
  async function subscribe(): Promise<CountingReceiver[]> {
    const counters = [await countingReceiver(), await countingReceiver()];
    receivers.push(...counters.map((c) => c.receiver));
    await createSubscription(store, counters[0]!.receiver.url, { maxInFlight: 16 });
    await createSubscription(store, counters[1]!.receiver.url, {
      maxInFlight: 16,
      ordering: 'key',
    });
    return counters;
  }

  /**
   * Publishes `batch` in chunks of 25, one every 100 ms (about 12 s for 3,000), so deliveries are
   * under way throughout; `during` begins after the first chunk (a fanout takes a few seconds to
   * start and join).
   */
  async function trickle(batch: readonly TestEvent[], during: () => Promise<unknown>) {
    let moved: Promise<unknown> | undefined;
    for (let i = 0; i < batch.length; i += 25) {
      await events.publish(batch.slice(i, i + 25));
      moved ??= during();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await moved;
  }

  async function everyEventDelivered(counters: CountingReceiver[], batch: readonly TestEvent[]) {
    await waitFor(() => counters.every((c) => batch.every((event) => c.seen.has(event.id))), {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: 'every event at both receivers',
    });
    // Late duplicates would arrive within a commit interval or two.
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }

  it('sends no event twice when a second instance joins and takes half the partitions', async () => {
    const counters = await subscribe();
    const first = await fanout();
    const batch = orderEvents(3000, 60);
    let second: FanoutProcess | undefined;
    await trickle(batch, async () => {
      second = await fanout();
    });
    await everyEventDelivered(counters, batch);
    const log = [...first.output, ...second!.output].join('');
    // Both took part: the group split the partitions between them.
    expect(second!.output.join('')).toMatch(/"assigned":\[[^\]]*"orders\.v1\/\d/);
    const waits = [
      ...log.matchAll(/"current":true,[^}]*"waitedMs":(\d+)[^}]*"msg":"partition taken over"/g),
    ].map((m) => Number(m[1]));
    console.log(
      `scale out: duplicates ${counters.map((c) => c.duplicates()).join(' / ')} of ${batch.length}; ` +
        `${(log.match(/partition handed over/g) ?? []).length} partitions handed over, ` +
        `${waits.length} taken over after waiting ${waits.join(', ')} ms`,
    );
    expect(counters.map((c) => c.duplicates())).toEqual([0, 0]);
    expect(counters[1]!.outOfOrder).toEqual([]);
  }, 120_000);

  it('sends no event twice when one of two instances stops on SIGTERM', async () => {
    const counters = await subscribe();
    const first = await fanout();
    const second = await fanout();
    const batch = orderEvents(3000, 60);
    // SIGTERM once the second instance holds its share and deliveries are under way.
    await trickle(batch, async () => {
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await first.kill('SIGTERM');
    });
    await everyEventDelivered(counters, batch);
    console.log(
      `scale in: duplicates ${counters.map((c) => c.duplicates()).join(' / ')} of ${batch.length}`,
    );
    expect(second.child.exitCode).toBeNull();
    expect(counters.map((c) => c.duplicates())).toEqual([0, 0]);
    expect(counters[1]!.outOfOrder).toEqual([]);
  }, 120_000);

  it('sends again after a SIGKILL only about a commit interval’s work, not all settled past the commit', async () => {
    const counters = await subscribe();
    // A third subscription that fails half its requests, retried for seconds: its unsettled
    // records hold the committed offset far behind what the other two have had.
    const flaky = await startWebhookReceiver({
      respond: () => (Math.random() < 0.5 ? { status: 500 } : { status: 204 }),
    });
    receivers.push(flaky);
    await createSubscription(store, flaky.url, {
      maxInFlight: 16,
      retry: { schedule: Array<string>(8).fill('400ms') },
    });
    const doomed = await fanout();
    const survivor = await fanout();
    const batch = orderEvents(3000, 60);
    // SIGKILL once the survivor holds its share and deliveries are under way; the survivor
    // takes the killed one's partitions once its group session lapses.
    await trickle(batch, async () => {
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await doomed.kill('SIGKILL');
    });
    await everyEventDelivered(counters, batch);
    const duplicates = counters.map((c) => c.duplicates());
    console.log(`SIGKILL: duplicates ${duplicates.join(' / ')} of ${batch.length}`);
    expect(survivor.child.exitCode).toBeNull();
    expect(counters[1]!.outOfOrder).toEqual([]);
    // About 250 events a second at 200 ms commits: a commit interval's work is some 50.
    for (const count of duplicates) expect(count).toBeLessThan(150);
  }, 120_000);
});
