import pino from 'pino';
import type { KafkaConnection } from '../src/kafka.connection';
import { KafkaPublisher } from '../src/kafka.publisher';
import { PartitionFetcher, type FetchedBatch, type OffsetReset } from '../src/partition.fetcher';
import { OffsetLookup } from '../src/offset-lookup';
import {
  createTestConnection,
  createTestTopic,
  startTestBroker,
  uniqueName,
  waitFor,
  type RunningBroker,
} from '../src/testing';

const logger = pino({ level: 'silent' });

async function readUntil(fetcher: PartitionFetcher, count: number): Promise<FetchedBatch[]> {
  const batches: FetchedBatch[] = [];
  const deadline = Date.now() + 10_000;
  while (batches.reduce((n, b) => n + b.records.length, 0) < count) {
    if (Date.now() > deadline) throw new Error(`read only ${batches.length} batches`);
    batches.push(...(await fetcher.read()));
  }
  return batches;
}

describe('PartitionFetcher', () => {
  let broker: RunningBroker;
  let connection: KafkaConnection;
  let publisher: KafkaPublisher;
  let offsets: OffsetLookup;

  beforeAll(async () => {
    broker = await startTestBroker();
    connection = createTestConnection(broker.brokers);
    publisher = new KafkaPublisher(connection, logger);
    offsets = new OffsetLookup(connection);
  });

  afterAll(async () => {
    await offsets.close();
    await publisher.close();
    await connection.close();
    await broker.stop();
  });

  it('reads given partitions from given offsets without a group, then long-polls for new records', async () => {
    const topic = await createTestTopic(broker.brokers, { partitions: 3 });
    await publisher.publish(
      Array.from({ length: 30 }, (_, i) => ({
        topic,
        key: `k${i % 5}`,
        value: `v${i}`,
        headers: {},
      })),
    );
    const ends = await offsets.endOffsets(topic);
    expect(ends.map((p) => p.partition).sort()).toEqual([0, 1, 2]);
    const end = (partition: number) => Number(ends.find((p) => p.partition === partition)!.offset);

    // Partition 0 from its second record, partition 1 from the start, partition 2 not at all.
    const fetcher = new PartitionFetcher(connection, logger, { maxWaitMs: 200 });
    try {
      fetcher.assign([
        { topic, partition: 0, offset: '1' },
        { topic, partition: 1, offset: '0' },
      ]);
      const batches = await readUntil(fetcher, end(0) - 1 + end(1));
      for (const partition of [0, 1]) {
        const got = batches
          .filter((b) => b.partition === partition)
          .flatMap((b) => b.records.map((r) => Number(r.offset)));
        const from = partition === 0 ? 1 : 0;
        expect(got).toEqual(Array.from({ length: end(partition) - from }, (_, i) => from + i));
      }
      expect(batches.some((b) => b.partition === 2)).toBe(false);
      expect(fetcher.assigned().find((p) => p.partition === 0)!.offset).toBe(String(end(0)));

      // Nothing new: a round comes back empty after the wait; a new record arrives on the next.
      await expect(fetcher.read()).resolves.toEqual([]);
      const [at] = await publisher.publish([
        { topic, partition: 1, key: null, value: 'late', headers: {} },
      ]);
      const late = await readUntil(fetcher, 1);
      expect(late[0]!.records[0]!.value!.toString()).toBe('late');
      expect(late[0]!.records[0]!.offset).toBe(at!.offset);
    } finally {
      await fetcher.close();
    }
  });

  it('moves a partition whose offset is past the end to the nearest held offset', async () => {
    const topic = await createTestTopic(broker.brokers, { partitions: 1 });
    await publisher.publish([{ topic, key: null, value: 'a', headers: {} }]);
    const resets: OffsetReset[] = [];
    const fetcher = new PartitionFetcher(connection, logger, {
      maxWaitMs: 100,
      onOffsetReset: (reset) => resets.push(reset),
    });
    try {
      fetcher.assign([{ topic, partition: 0, offset: '50' }]);
      await waitFor(
        async () => {
          await fetcher.read();
          return fetcher.assigned()[0]!.offset === '1';
        },
        { timeoutMs: 5000, what: 'the reset to the end offset' },
      );
      await publisher.publish([{ topic, key: null, value: 'b', headers: {} }]);
      const [batch] = await readUntil(fetcher, 1);
      expect(batch!.records.map((r) => r.value!.toString())).toEqual(['b']);
      expect(resets).toEqual([{ topic, partition: 0, requested: '50', resumed: '1' }]);
    } finally {
      await fetcher.close();
    }
  });
});

describe('PartitionFetcher: records removed by retention', () => {
  let broker: RunningBroker;
  let connection: KafkaConnection;
  let publisher: KafkaPublisher;

  // A segment for every write, retention checked often: a topic with retention.bytes=0 keeps
  // only its newest write.
  beforeAll(async () => {
    broker = await startTestBroker({ segmentBytes: 1, retentionCheckIntervalMs: 20 });
    connection = createTestConnection(broker.brokers);
    publisher = new KafkaPublisher(connection, logger);
  });

  afterAll(async () => {
    await publisher.close();
    await connection.close();
    await broker.stop();
  });

  it('tells onOffsetReset of a read moved past records no longer held, before the records after them', async () => {
    const topic = uniqueName('retained');
    const admin = connection.kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [{ topic, configEntries: [{ name: 'retention.bytes', value: '0' }] }],
      });
      const write = (values: string[]) =>
        publisher.publish(values.map((value) => ({ topic, key: null, value, headers: {} })));
      await write(['a0', 'a1', 'a2', 'a3']);
      const [held] = await write(['b0', 'b1']);
      await waitFor(async () => (await admin.fetchTopicOffsets(topic))[0]!.low === held!.offset, {
        what: 'retention to remove the first write',
      });
    } finally {
      await admin.disconnect();
    }

    const seen: string[] = [];
    const fetcher = new PartitionFetcher(connection, logger, {
      maxWaitMs: 100,
      onOffsetReset: (reset) => seen.push(`reset ${reset.requested} -> ${reset.resumed}`),
    });
    try {
      fetcher.assign([{ topic, partition: 0, offset: '1' }]);
      for (const batch of await readUntil(fetcher, 2))
        seen.push(...batch.records.map((r) => `${r.offset} ${r.value!.toString()}`));
      expect(seen).toEqual(['reset 1 -> 4', '4 b0', '5 b1']);
    } finally {
      await fetcher.close();
    }
  });
});
