import { ApiKeyRepository, RedisConnection, parseApiKeyToken, storeKeys } from '@herald/store';
import { startTestBroker, waitFor, type RunningBroker } from '@herald/kafka/testing';
import { SERVICE } from '../src/app.module';
import { post, startIngestApp, type IngestApp } from './ingest-app.fixture';

jest.setTimeout(60_000);

let broker: RunningBroker;
let ingest: IngestApp;
/** Another process's connection (a subscription-api instance's) under the app's prefix. */
let elsewhere: RedisConnection;

beforeAll(async () => {
  broker = await startTestBroker();
  ingest = await startIngestApp(broker.brokers);
  elsewhere = new RedisConnection(
    { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', prefix: ingest.prefix },
    'herald-test',
  );
  await elsewhere.connect();
});

afterAll(async () => {
  await elsewhere?.close();
  await ingest?.stop();
  await broker?.stop();
});

describe('an API key deleted through another process', () => {
  it('is refused 401 at once, though its answer was cached here for 5 s', async () => {
    // The app's own listening connection (named after the service and prefix) is subscribed.
    const name = `name=${SERVICE}:api-key-notices:${ingest.prefix}`;
    await waitFor(async () => ((await elsewhere.client.client('LIST')) as string).includes(name), {
      timeoutMs: 10_000,
      what: 'the app listening for API key notices',
    });
    const keys = new ApiKeyRepository(elsewhere, storeKeys(ingest.prefix));
    const { key } = await keys.create({
      name: 'publisher',
      tenant: 'acme',
      scopes: [{ scope: 'events:publish', types: null }],
    });
    const url = `${ingest.url}/v1/events/order.created`;
    const example = ingest.contract.get('order.created')!.example as Record<string, unknown>;
    const publish = () => post(url, { ...example, orderId: crypto.randomUUID() }, { key });
    // Answered from Redis once, then from the cache.
    expect((await publish()).status).toBe(202);
    expect((await publish()).status).toBe(202);

    // As subscription-api deletes it: the store's delete publishes the notice.
    const deletedAt = Date.now();
    expect(await keys.delete(parseApiKeyToken(key)!.id)).toBe(true);
    const statuses: number[] = [];
    await waitFor(
      async () => {
        statuses.push((await publish()).status);
        return statuses.at(-1) === 401;
      },
      { timeoutMs: 1000, what: 'the deleted key refused' },
    );
    expect(Date.now() - deletedAt).toBeLessThan(1500);
    expect(statuses.slice(0, -1).every((status) => status === 202)).toBe(true);
  });
});
