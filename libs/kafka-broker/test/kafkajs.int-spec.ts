// Conformance: kafkajs 2.2.4 against the embedded broker, over TCP.
import { Kafka, logLevel, type Admin, type Consumer, type EachMessagePayload } from 'kafkajs';
import { startTestBroker, uniqueName, waitFor, type RunningBroker } from '../src/testing';

let broker: RunningBroker;

/** Records a value as text; kafkajs wants a promise back. */
function collect(into: string[], value: Buffer | null): Promise<void> {
  into.push(String(value));
  return Promise.resolve();
}

let kafka: Kafka;
let admin: Admin;
const cleanups: (() => Promise<void>)[] = [];

/** Short timings so rebalances settle in well under a second. */
function consumer(groupId: string): Consumer {
  const c = kafka.consumer({
    groupId,
    sessionTimeout: 6000,
    heartbeatInterval: 200,
    maxWaitTimeInMs: 200,
    rebalanceTimeout: 10_000,
  });
  cleanups.push(() => c.disconnect());
  return c;
}

beforeAll(async () => {
  broker = await startTestBroker({ autoCreateTopics: true, defaultPartitions: 1 });
  kafka = new Kafka({
    clientId: 'conformance',
    brokers: [broker.brokers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 50 },
  });
  admin = kafka.admin();
  await admin.connect();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

afterAll(async () => {
  await admin.disconnect();
  await broker.stop();
});

describe('kafkajs', () => {
  it('produces with an idempotent producer and consumes every record once, in order, in a group', async () => {
    const topic = uniqueName('idem');
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    for (let batch = 0; batch < 5; batch++) {
      await producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: 100 }, (_, i) => ({
          key: `key-${i % 7}`,
          value: `${batch * 100 + i}`,
        })),
      });
    }
    const c = consumer(uniqueName('idem-group'));
    await c.connect();
    await c.subscribe({ topic, fromBeginning: true });
    const byKey = new Map<string, number[]>();
    let count = 0;
    await c.run({
      eachMessage: ({ message }) => {
        const key = String(message.key);
        byKey.set(key, [...(byKey.get(key) ?? []), Number(message.value)]);
        count++;
        return Promise.resolve();
      },
    });
    await waitFor(() => count >= 500, { what: '500 records' });
    expect(count).toBe(500);
    // Same key → same partition → produced order.
    for (const values of byKey.values()) expect(values).toEqual([...values].sort((a, b) => a - b));
  });

  it('keeps an idempotent producer writing to a topic deleted and created again', async () => {
    const topic = uniqueName('idem-recreated');
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    await producer.send({ topic, acks: -1, messages: [{ value: 'a0' }, { value: 'a1' }] });
    await admin.deleteTopics({ topics: [topic] });
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    // The new partition knows nothing of the producer, which goes on at sequence 2: Kafka takes
    // it. Refused with OUT_OF_ORDER_SEQUENCE_NUMBER, the producer could never write there again.
    const [sent] = await producer.send({ topic, acks: -1, messages: [{ value: 'b0' }] });
    expect(sent).toMatchObject({ errorCode: 0, baseOffset: '0' });
    const [next] = await producer.send({ topic, acks: -1, messages: [{ value: 'b1' }] });
    expect(next).toMatchObject({ errorCode: 0, baseOffset: '1' });
  });

  it('rebalances three consumers as they join and leave, losing and repeating nothing after commits', async () => {
    const topic = uniqueName('rebalance');
    const groupId = uniqueName('rebalance-group');
    await admin.createTopics({ topics: [{ topic, numPartitions: 6 }] });
    const producer = kafka.producer();
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    const seen = new Map<string, string>();
    const duplicates: string[] = [];
    const members: Consumer[] = [];
    const start = async (name: string): Promise<Consumer> => {
      const c = consumer(groupId);
      await c.connect();
      await c.subscribe({ topic, fromBeginning: true });
      await c.run({
        autoCommit: false,
        eachMessage: async ({ topic: t, partition, message }: EachMessagePayload) => {
          // Counted only once the commit is accepted: a commit refused during a rebalance means
          // the record will be delivered again, legitimately.
          await c.commitOffsets([
            { topic: t, partition, offset: String(Number(message.offset) + 1) },
          ]);
          const id = String(message.value);
          if (seen.has(id)) duplicates.push(id);
          seen.set(id, name);
        },
      });
      members.push(c);
      return c;
    };
    let produced = 0;
    const produce = async (n: number): Promise<void> => {
      await producer.send({
        topic,
        messages: Array.from({ length: n }, (_, i) => ({ value: `r${produced + i}` })),
      });
      produced += n;
    };
    const groupSize = async (): Promise<number> => {
      const { groups } = await admin.describeGroups([groupId]);
      const group = groups[0];
      return group?.state === 'Stable' ? group.members.length : -1;
    };

    const a = await start('a');
    await produce(200);
    await waitFor(() => seen.size >= 200, { what: 'a to consume 200' });
    await start('b');
    await produce(200);
    await waitFor(async () => (await groupSize()) === 2, { what: 'two members' });
    await start('c');
    await produce(200);
    await waitFor(async () => (await groupSize()) === 3, { what: 'three members' });
    await produce(200);
    await a.disconnect();
    await waitFor(async () => (await groupSize()) === 2, { what: 'a to leave' });
    await produce(200);
    await waitFor(() => seen.size >= produced, {
      what: `all ${produced} records`,
      timeoutMs: 30_000,
    });
    expect(seen.size).toBe(1000);
    expect(duplicates).toEqual([]);
    const consumers = new Set(seen.values());
    expect(consumers.size).toBeGreaterThanOrEqual(2);
  });

  it('creates, describes and deletes topics, configs and groups through the admin client', async () => {
    const topic = uniqueName('admin');
    expect(
      await admin.createTopics({
        topics: [
          { topic, numPartitions: 2, configEntries: [{ name: 'retention.ms', value: '3600000' }] },
        ],
      }),
    ).toBe(true);
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] })).toBe(false);
    expect(await admin.listTopics()).toContain(topic);

    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(metadata.topics[0]?.partitions).toHaveLength(2);
    await admin.createPartitions({ topicPartitions: [{ topic, count: 4 }] });
    expect(
      (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]?.partitions,
    ).toHaveLength(4);

    const configs = await admin.describeConfigs({
      resources: [{ type: 2, name: topic }],
      includeSynonyms: false,
    });
    const entries = configs.resources[0]?.configEntries ?? [];
    expect(entries.find((e) => e.configName === 'retention.ms')?.configValue).toBe('3600000');
    expect(entries.find((e) => e.configName === 'cleanup.policy')?.configValue).toBe('delete');

    const groupId = uniqueName('admin-group');
    await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '0' }] });
    const c = consumer(groupId);
    await c.connect();
    await c.subscribe({ topic });
    await c.run({ eachMessage: () => Promise.resolve() });
    await waitFor(
      async () => (await admin.describeGroups([groupId])).groups[0]?.state === 'Stable',
      { what: 'stable group' },
    );
    const described = (await admin.describeGroups([groupId])).groups[0];
    expect(described?.members).toHaveLength(1);
    expect(described?.protocolType).toBe('consumer');
    expect((await admin.listGroups()).groups.map((g) => g.groupId)).toContain(groupId);
    await expect(admin.deleteGroups([groupId])).rejects.toThrow();
    await c.disconnect();
    await admin.deleteGroups([groupId]);
    expect((await admin.listGroups()).groups.map((g) => g.groupId)).not.toContain(groupId);

    await admin.deleteTopics({ topics: [topic] });
    expect(await admin.listTopics()).not.toContain(topic);
  });

  it('refuses to grow a topic past 10,000 partitions, as it refuses to create one', async () => {
    const topic = uniqueName('many-partitions');
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    await expect(
      admin.createTopics({ topics: [{ topic: uniqueName('too-many'), numPartitions: 10_001 }] }),
    ).rejects.toThrow();
    // validateOnly: the check alone, not 10,000 partitions to create.
    await admin.createPartitions({
      validateOnly: true,
      topicPartitions: [{ topic, count: 10_000 }],
    });
    await expect(
      admin.createPartitions({ validateOnly: true, topicPartitions: [{ topic, count: 10_001 }] }),
    ).rejects.toMatchObject({ type: 'INVALID_PARTITIONS' });
    await expect(
      admin.createPartitions({ topicPartitions: [{ topic, count: 100_000 }] }),
    ).rejects.toMatchObject({ type: 'INVALID_PARTITIONS' });
    expect(
      (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]?.partitions,
    ).toHaveLength(1);
  });

  it('seeks to an offset and fetches from a timestamp', async () => {
    const topic = uniqueName('seek');
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    const producer = kafka.producer();
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    const base = Date.now() - 100_000;
    await producer.send({
      topic,
      messages: Array.from({ length: 20 }, (_, i) => ({
        value: `s${i}`,
        timestamp: String(base + i * 1000),
      })),
    });

    const [byTime] = await admin.fetchTopicOffsetsByTimestamp(topic, base + 12_000);
    expect(byTime?.offset).toBe('12');
    const [latest] = await admin.fetchTopicOffsets(topic);
    expect(latest).toMatchObject({ low: '0', high: '20', offset: '20' });

    const c = consumer(uniqueName('seek-group'));
    await c.connect();
    await c.subscribe({ topic });
    const values: string[] = [];
    await c.run({ eachMessage: ({ message }) => collect(values, message.value) });
    c.seek({ topic, partition: 0, offset: byTime?.offset ?? '0' });
    await waitFor(() => values.length >= 8, { what: 'records from offset 12' });
    expect(values.slice(0, 8)).toEqual(Array.from({ length: 8 }, (_, i) => `s${12 + i}`));
    values.length = 0;
    c.seek({ topic, partition: 0, offset: '3' });
    await waitFor(() => values.length >= 2, { what: 'records from offset 3' });
    expect(values[0]).toBe('s3');
  });

  it('finds by timestamp the records of a batch whose max timestamp kafkajs wrote too low', async () => {
    const topic = uniqueName('max-timestamp');
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    const producer = kafka.producer();
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    const { CompressionTypes } = await import('kafkajs');
    // kafkajs sorts the timestamps as text to find the batch's max: across 2001-09-09, where they
    // go from 12 to 13 digits, "999999999000" comes last and is written as the max.
    const timestamps = [999_999_999_000, 1_000_000_000_000, 1_000_000_001_000];
    for (const compression of [CompressionTypes.None, CompressionTypes.GZIP]) {
      await producer.send({
        topic,
        compression,
        messages: timestamps.map((t) => ({ value: `at-${t}`, timestamp: String(t) })),
      });
    }
    const offsetAt = async (timestamp: number) =>
      (await admin.fetchTopicOffsetsByTimestamp(topic, timestamp))[0]?.offset;
    expect(await offsetAt(999_999_999_500)).toBe('1');
    expect(await offsetAt(1_000_000_000_500)).toBe('2');
    expect(await offsetAt(1_000_000_001_000)).toBe('2');
    expect(await offsetAt(1_000_000_001_001)).toBe('6');

    const c = consumer(uniqueName('max-timestamp-group'));
    await c.connect();
    await c.subscribe({ topic, fromBeginning: true });
    const read: string[] = [];
    await c.run({ eachMessage: ({ message }) => collect(read, message.value) });
    await waitFor(() => read.length >= 6, { what: '6 records' });
    expect(read).toEqual([...timestamps, ...timestamps].map((t) => `at-${t}`));
  });

  it('auto-creates a topic on produce and reads gzip batches back', async () => {
    const topic = uniqueName('auto');
    const { CompressionTypes } = await import('kafkajs');
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    await producer.send({
      topic,
      compression: CompressionTypes.GZIP,
      messages: Array.from({ length: 50 }, (_, i) => ({ value: `z${i}` })),
    });
    const c = consumer(uniqueName('auto-group'));
    await c.connect();
    await c.subscribe({ topic, fromBeginning: true });
    const values: string[] = [];
    await c.run({ eachMessage: ({ message }) => collect(values, message.value) });
    await waitFor(() => values.length >= 50, { what: '50 gzip records' });
    expect(values[49]).toBe('z49');
  });
});
