import { startWebhookReceiver, type WebhookReceiver } from '@herald/delivery/testing';
import { startTestBroker, type RunningBroker } from '@herald/kafka/testing';
import { SubscriptionNotices } from '@herald/store';
import { newSubscriptionRecord } from '@herald/store/testing';
import {
  EventPublisher,
  createSubscription,
  newFanoutEnv,
  orderEvents,
  spawnFanout,
  storeFor,
  waitFor,
  type FanoutProcess,
  type TestStore,
} from './delivery.fixture';

// A webhook whose stored secrets cannot be used — sealed under another HERALD_SECRET_KEY, a
// corrupt or truncated sealed value, a signing secret that is not whsec_<base64> — is sent
// nothing, said once (error, with its id) and counted, and keeps neither the other subscriptions
// nor the change notices of any of them from going on.
describe('subscriptions whose secrets cannot be used', () => {
  let broker: RunningBroker;
  let store: TestStore;
  let events: EventPublisher;
  let receiver: WebhookReceiver;
  let fanout: FanoutProcess | undefined;

  beforeAll(async () => {
    broker = await startTestBroker();
    events = new EventPublisher(broker.brokers);
    receiver = await startWebhookReceiver();
  }, 60_000);

  afterAll(async () => {
    await fanout?.kill();
    await receiver?.close();
    await events?.close();
    await store?.cleanup();
    await broker?.stop();
  });

  const sentTo = (path: string) => receiver.received.filter((r) => r.path === path);
  const logLines = () =>
    fanout!.output
      .join('')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  const errorsAbout = (id: string) =>
    logLines().filter(
      (line) => line['subscriptionId'] === id && ['error', 'fatal'].includes(String(line['level'])),
    );
  const metric = async (name: string) => {
    const text = await (await fetch(`${fanout!.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
  };

  it('sends them nothing, says so once each, counts them, and goes on with the others', async () => {
    const setup = newFanoutEnv(broker.brokers, process.env.REDIS_URL!);
    store = await storeFor(setup);
    const notices = new SubscriptionNotices(store.redis, store.keys);
    const sealedOf = (id: string) => store.redis.client.hget(store.keys.subscription(id), 'sealed');
    const setSealed = (id: string, sealed: string) =>
      store.redis.client.hset(store.keys.subscription(id), 'sealed', sealed);

    // Before fanout starts: one whose sealed value was truncated, one sealed under another key
    // (its key id differs), one holding a signing secret that does not decode, one healthy.
    const truncated = await createSubscription(store, `${receiver.url}/truncated`);
    await setSealed(
      truncated.subscription.id,
      (await sealedOf(truncated.subscription.id))!.slice(0, 40),
    );
    const otherKey = await createSubscription(store, `${receiver.url}/other-key`);
    const [version, , ...rest] = (await sealedOf(otherKey.subscription.id))!.split('.');
    await setSealed(otherKey.subscription.id, [version, 'AAAAAAAA', ...rest].join('.'));
    const badSecret = await store.subscriptions.create(
      newSubscriptionRecord({ url: `${receiver.url}/bad-secret` }),
      { signing: { current: 'whsec_not*base64', previous: null }, auth: null },
    );
    const healthy = await createSubscription(store, `${receiver.url}/healthy`);

    fanout = await spawnFanout(setup, { LOG_LEVEL: 'info' });
    await events.publish(orderEvents(6, 3));
    await waitFor(() => sentTo('/healthy').length >= 6, {
      timeoutMs: 20_000,
      what: 'the healthy subscription to get its six events',
    });

    // While fanout runs: a subscription whose secrets stop opening, with a change notice.
    const later = await createSubscription(store, `${receiver.url}/later`);
    await events.publish(orderEvents(1, 1));
    await waitFor(() => sentTo('/later').length >= 1, {
      what: 'the later subscription to get one',
    });
    await setSealed(later.subscription.id, 'v1.garbage');
    await notices.publish({
      kind: 'subscription.updated',
      subscriptionId: later.subscription.id,
      tenant: later.subscription.tenant,
      version: later.subscription.version,
    });
    // Notices after it still apply: a subscription created after it gets its events.
    const last = await createSubscription(store, `${receiver.url}/last`);
    await events.publish(orderEvents(4, 2));
    await waitFor(() => sentTo('/last').length >= 4, {
      timeoutMs: 20_000,
      what: 'a subscription created after the broken notice to get its events',
    });
    await waitFor(() => sentTo('/healthy').length >= 11, { what: 'the healthy one to get all' });

    const broken = [truncated.subscription.id, otherKey.subscription.id, badSecret.subscription.id];
    for (const path of ['/truncated', '/other-key', '/bad-secret'])
      expect(sentTo(path)).toEqual([]);
    expect(sentTo('/later')).toHaveLength(1);
    await waitFor(async () => (await metric('herald_subscription_secret_errors_total')) === 4, {
      what: 'four subscriptions counted in herald_subscription_secret_errors_total',
    });
    expect(await metric('herald_subscriptions_secrets_unusable')).toBe(4);
    // One error line each, naming it: not one every retry.
    for (const id of [...broken, later.subscription.id]) {
      const lines = errorsAbout(id);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ subscriptionId: id, problem: expect.any(String) });
    }
    expect(errorsAbout(healthy.subscription.id)).toEqual([]);
    expect(errorsAbout(last.subscription.id)).toEqual([]);
    expect(fanout.child.exitCode).toBeNull();
  }, 90_000);
});
