// Conformance: @platformatic/kafka against the embedded broker, over TCP.
import {
  Admin,
  Consumer,
  Producer,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka';
import { startTestBroker, uniqueName, waitFor, type RunningBroker } from '../src/testing';

let broker: RunningBroker;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  broker = await startTestBroker({ defaultPartitions: 1 });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await broker.stop();
});

function producer(): Producer<string, string, string, string> {
  const p = new Producer({
    clientId: 'plt-producer',
    bootstrapBrokers: [broker.brokers],
    serializers: stringSerializers,
    autocreateTopics: true,
  });
  cleanups.push(() => p.close());
  return p;
}

function consumer(groupId: string): Consumer<string, string, string, string> {
  const c = new Consumer({
    clientId: 'plt-consumer',
    groupId,
    bootstrapBrokers: [broker.brokers],
    deserializers: stringDeserializers,
    maxWaitTime: 200,
    sessionTimeout: 6000,
    heartbeatInterval: 200,
  });
  cleanups.push(() => new Promise<void>((resolve) => c.close(true, () => resolve())));
  return c;
}

describe('@platformatic/kafka', () => {
  it('creates a topic, produces and consumes from the earliest offset', async () => {
    const topic = uniqueName('plt');
    const admin = new Admin({ clientId: 'plt-admin', bootstrapBrokers: [broker.brokers] });
    cleanups.push(() => admin.close());
    await admin.createTopics({ topics: [topic], partitions: 2, replicas: 1 });

    const p = producer();
    const sent = await p.send({
      messages: Array.from({ length: 30 }, (_, i) => ({
        topic,
        key: `k${i % 3}`,
        value: `v${i}`,
        headers: { n: String(i) },
      })),
    });
    expect(sent.offsets?.length ?? 0).toBeGreaterThan(0);

    const c = consumer(uniqueName('plt-group'));
    const stream = await c.consume({ topics: [topic], mode: 'earliest', autocommit: false });
    const values: string[] = [];
    stream.on('data', (message) => values.push(message.value));
    await waitFor(() => values.length >= 30, { what: '30 records' });
    expect([...values].sort()).toEqual(Array.from({ length: 30 }, (_, i) => `v${i}`).sort());
    await stream.close();
  });

  it('consumes in a group and resumes from committed offsets', async () => {
    const topic = uniqueName('plt-group-topic');
    const groupId = uniqueName('plt-g');
    const p = producer();
    await p.send({ messages: Array.from({ length: 20 }, (_, i) => ({ topic, value: `a${i}` })) });

    const first = consumer(groupId);
    const firstStream = await first.consume({
      topics: [topic],
      mode: 'committed',
      fallbackMode: 'earliest',
      autocommit: false,
    });
    const seen: string[] = [];
    firstStream.on('data', (message) => {
      seen.push(message.value);
      void message.commit();
    });
    await waitFor(() => seen.length >= 20, { what: 'first 20 records' });
    await waitFor(
      async () => {
        const committed = await first.listCommittedOffsets({
          topics: [{ topic, partitions: [0] }],
        });
        return committed.get(topic)?.[0] === 20n;
      },
      { what: 'offset 20 committed' },
    );
    await firstStream.close();
    await new Promise<void>((resolve) => first.close(true, () => resolve()));

    await p.send({ messages: Array.from({ length: 5 }, (_, i) => ({ topic, value: `b${i}` })) });
    const second = consumer(groupId);
    const secondStream = await second.consume({
      topics: [topic],
      mode: 'committed',
      fallbackMode: 'earliest',
      autocommit: false,
    });
    const later: string[] = [];
    secondStream.on('data', (message) => later.push(message.value));
    await waitFor(() => later.length >= 5, { what: 'the 5 new records' });
    expect(later).toEqual(['b0', 'b1', 'b2', 'b3', 'b4']);
    await secondStream.close();
  });
});
