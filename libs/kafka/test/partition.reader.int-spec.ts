import pino from 'pino';
import type { KafkaConnection } from '../src/kafka.connection';
import { KafkaPublisher } from '../src/kafka.publisher';
import { PartitionReader, type FetchedBatch } from '../src/partition.reader';
import { TopicOffsets } from '../src/topic.offsets';
import {
  createTestConnection,
  createTestTopic,
  startTestBroker,
  waitFor,
  type RunningBroker,
} from '../src/testing';

const logger = pino({ level: 'silent' });

describe('PartitionReader and TopicOffsets', () => {
  let broker: RunningBroker;
  let connection: KafkaConnection;
  let publisher: KafkaPublisher;
  let offsets: TopicOffsets;

  beforeAll(async () => {
    broker = await startTestBroker();
    connection = createTestConnection(broker.brokers);
    publisher = new KafkaPublisher(connection, logger);
    offsets = new TopicOffsets(connection);
  });

  afterAll(async () => {
    await offsets.close();
    await publisher.close();
    await connection.close();
    await broker.stop();
  });

  async function readUntil(reader: PartitionReader, count: number): Promise<FetchedBatch[]> {
    const batches: FetchedBatch[] = [];
    const deadline = Date.now() + 10_000;
    while (batches.reduce((n, b) => n + b.records.length, 0) < count) {
      if (Date.now() > deadline) throw new Error(`read only ${batches.length} batches`);
      batches.push(...(await reader.read()));
    }
    return batches;
  }

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
    const ends = await offsets.positions([topic], 'latest');
    expect(ends.map((p) => p.partition)).toEqual([0, 1, 2]);
    expect(ends.reduce((n, p) => n + Number(p.offset), 0)).toBe(30);
    const earliest = await offsets.positions([topic], 'earliest');
    expect(earliest.every((p) => p.offset === '0')).toBe(true);

    // Partition 0 from its second record, partition 1 from the start, partition 2 not at all.
    const reader = new PartitionReader(connection, logger, { maxWaitMs: 200 });
    try {
      reader.assign([
        { topic, partition: 0, offset: '1' },
        { topic, partition: 1, offset: '0' },
      ]);
      const expected = Number(ends[0]!.offset) - 1 + Number(ends[1]!.offset);
      const batches = await readUntil(reader, expected);
      for (const partition of [0, 1]) {
        const got = batches
          .filter((b) => b.partition === partition)
          .flatMap((b) => b.records.map((r) => Number(r.offset)));
        const from = partition === 0 ? 1 : 0;
        expect(got).toEqual(
          Array.from({ length: Number(ends[partition]!.offset) - from }, (_, i) => from + i),
        );
      }
      expect(batches.some((b) => b.partition === 2)).toBe(false);
      expect(reader.assigned().find((p) => p.partition === 0)!.offset).toBe(ends[0]!.offset);

      // Nothing new: a round comes back empty after the wait; a new record arrives on the next.
      await expect(reader.read()).resolves.toEqual([]);
      const [at] = await publisher.publish([
        { topic, partition: 1, key: null, value: 'late', headers: {} },
      ]);
      const late = await readUntil(reader, 1);
      expect(late[0]!.records[0]!.value!.toString()).toBe('late');
      expect(late[0]!.records[0]!.offset).toBe(at!.offset);
    } finally {
      await reader.close();
    }
  });

  it('finds the first offset at or after a time, and the end for a time past the last record', async () => {
    const topic = await createTestTopic(broker.brokers, { partitions: 1 });
    await publisher.publish([{ topic, key: null, value: 'before', headers: {} }]);
    const cut = Date.now() + 5;
    await new Promise((resolve) => setTimeout(resolve, 20));
    const [after] = await publisher.publish([{ topic, key: null, value: 'after', headers: {} }]);
    const [atTime] = await offsets.positions([topic], { timestampMs: cut });
    expect(atTime!.offset).toBe(after!.offset);
    const [future] = await offsets.positions([topic], { timestampMs: Date.now() + 60_000 });
    expect(future!.offset).toBe('2');
  });

  it('moves a partition whose offset is past the end to the nearest held offset', async () => {
    const topic = await createTestTopic(broker.brokers, { partitions: 1 });
    await publisher.publish([{ topic, key: null, value: 'a', headers: {} }]);
    const reader = new PartitionReader(connection, logger, { maxWaitMs: 100 });
    try {
      reader.assign([{ topic, partition: 0, offset: '50' }]);
      await waitFor(
        async () => {
          await reader.read();
          return reader.assigned()[0]!.offset === '1';
        },
        { timeoutMs: 5000, what: 'the reset to the end offset' },
      );
      await publisher.publish([{ topic, key: null, value: 'b', headers: {} }]);
      const [batch] = await readUntil(reader, 1);
      expect(batch!.records.map((r) => r.value!.toString())).toEqual(['b']);
    } finally {
      await reader.close();
    }
  });
});
