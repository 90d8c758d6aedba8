import { Partitioners, type PartitionMetadata } from 'kafkajs';
import pino, { type Logger } from 'pino';
import { Registry } from 'prom-client';
import { isHeraldError } from '@herald/errors';
import {
  HELD_BACK_MESSAGE,
  KafkaPublisher,
  type OutgoingRecord,
  type PublishedRecord,
} from '../src/kafka.publisher';
import { KafkaUnavailableError } from '../src/kafka.errors';
import { KafkaConnection } from '../src/kafka.connection';
import {
  collect,
  createTestConnection,
  createTestTopic,
  startTestBroker,
  testKafkaConfig,
  uniqueName,
  waitFor,
  type RunningBroker,
} from '../src/testing';

const logger = pino({ level: 'silent' });

interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A logger at `level` keeping what it writes. */
function capturingLogger(level = 'info'): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const write = (line: string): void => void lines.push(JSON.parse(line) as LogLine);
  return { logger: pino({ level }, { write }), lines };
}

/** The values of counter `name` on `registry`, with their labels. */
async function counted(
  registry: Registry,
  name: string,
): Promise<{ labels: Record<string, unknown>; value: number }[]> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return [];
  return (await metric.get()).values.map(({ labels, value }) => ({ labels, value }));
}

/** The partition kafkajs's default partitioner (the Java client's) picks for `key` over `count`. */
function keyedPartition(key: string, count: number): number {
  const partitionMetadata = Array.from({ length: count }, (_, partitionId): PartitionMetadata => ({
    partitionErrorCode: 0,
    partitionId,
    leader: 0,
    replicas: [0],
    isr: [0],
  }));
  return Partitioners.DefaultPartitioner()({
    topic: 't',
    partitionMetadata,
    message: { key, value: null },
  });
}

/** Kafka's Java client: toPositive(murmur2(key)) % partitions, with murmur2 values from its own tests. */
function javaPartition(murmur2: number, partitions: number): number {
  return (murmur2 & 0x7fffffff) % partitions;
}

function record(topic: string, key: string | null, value: string): OutgoingRecord {
  return { topic, key, value, headers: { 'ce-test': value } };
}

/** Every record of `topic`, by partition and offset, values cut to 20 characters. */
async function storedRecords(
  connection: KafkaConnection,
  topic: string,
): Promise<{ partition: number; offset: string; value: string }[]> {
  const admin = connection.kafka.admin();
  await admin.connect();
  let total = 0;
  try {
    for (const p of await admin.fetchTopicOffsets(topic)) total += Number(p.high) - Number(p.low);
  } finally {
    await admin.disconnect();
  }
  const brokers = connection.config.brokers.join(',');
  return (await collect(brokers, topic, total))
    .map((r) => ({
      partition: r.partition,
      offset: r.offset,
      value: r.value!.toString().slice(0, 20),
    }))
    .sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
}

describe('KafkaPublisher', () => {
  let broker: RunningBroker;
  let connection: KafkaConnection;
  let publisher: KafkaPublisher;

  beforeAll(async () => {
    broker = await startTestBroker();
    connection = createTestConnection(broker.brokers);
    publisher = new KafkaPublisher(connection, logger);
  });

  afterAll(async () => {
    await publisher.close();
    await connection.close();
    await broker.stop();
  });

  it('answers where each record of a mixed multi-topic batch landed, in order', async () => {
    const orders = await createTestTopic(broker.brokers, { partitions: 3 });
    const audit = await createTestTopic(broker.brokers, { partitions: 1 });
    const batch = Array.from({ length: 12 }, (_, i) =>
      i % 3 === 0 ? record(audit, null, `v${i}`) : record(orders, `key-${i % 4}`, `v${i}`),
    );
    // A second call in the same tick shares the request; its offsets must follow the first's.
    const [first, second] = await Promise.all([
      publisher.publish(batch),
      publisher.publish([record(orders, 'key-1', 'late')]),
    ]);
    expect(first).toHaveLength(12);
    expect(second).toHaveLength(1);

    const stored = [
      ...(await collect(broker.brokers, orders, 9)),
      ...(await collect(broker.brokers, audit, 4)),
    ];
    const byPosition = new Map(
      stored.map((r) => [`${r.topic}/${r.partition}/${r.offset}`, r.value!.toString()]),
    );
    const answered = [...first, ...second];
    const sent = [...batch.map((r) => r.value), 'late'];
    answered.forEach((p: PublishedRecord, i) => {
      expect(byPosition.get(`${p.topic}/${p.partition}/${p.offset}`)).toBe(sent[i]);
    });
    expect(new Set(answered.map((p) => `${p.topic}/${p.partition}/${p.offset}`)).size).toBe(13);
    expect(first.filter((p) => p.topic === audit).map((p) => p.offset)).toEqual([
      '0',
      '1',
      '2',
      '3',
    ]);
  });

  it('sends one key to one partition, the one the Java client would choose', async () => {
    const topic = await createTestTopic(broker.brokers, { partitions: 7 });
    const published = await publisher.publish([
      record(topic, 'foobar', 'a'),
      record(topic, 'a-little-bit-long-string', 'b'),
      record(topic, 'foobar', 'c'),
      record(topic, 'abc', 'd'),
    ]);
    expect(published.map((p) => p.partition)).toEqual([
      javaPartition(-790332482, 7),
      javaPartition(-985981536, 7),
      javaPartition(-790332482, 7),
      javaPartition(479470107, 7),
    ]);
    const again = await publisher.publish([record(topic, 'foobar', 'e')]);
    expect(again[0]!.partition).toBe(published[0]!.partition);
  });

  it('honours an explicit partition', async () => {
    const topic = await createTestTopic(broker.brokers, { partitions: 3 });
    const [published] = await publisher.publish([
      { ...record(topic, 'foobar', 'x'), partition: 2 },
    ]);
    expect(published).toEqual({ topic, partition: 2, offset: '0' });
  });

  it('spreads keyed records over partitions added to the topic, within the metadata age', async () => {
    const topic = await createTestTopic(broker.brokers, { partitions: 2 });
    const registry = new Registry();
    const { logger: captured, lines } = capturingLogger();
    const growing = new KafkaPublisher(connection, captured, { metadataMaxAgeMs: 500, registry });
    const keys = Array.from({ length: 24 }, (_, i) => `key-${i}`);
    const keyed = (value: string): OutgoingRecord[] => keys.map((key) => record(topic, key, value));
    const before = await growing.publish(keyed('before'));
    expect(before.map((p) => p.partition)).toEqual(keys.map((key) => keyedPartition(key, 2)));

    const admin = connection.kafka.admin();
    await admin.connect();
    await admin.createPartitions({ topicPartitions: [{ topic, count: 6 }] });
    await admin.disconnect();
    // Published again and again until the publisher's view of the topic is renewed.
    const after = await waitFor(
      async () => {
        const published = await growing.publish(keyed('after'));
        return published.some((p) => p.partition >= 2) && published;
      },
      { timeoutMs: 5000, intervalMs: 100, what: 'keyed records on the added partitions' },
    );
    await growing.close();
    // Each key where the Java client puts it over 6 partitions, new ones included.
    expect(after.map((p) => p.partition)).toEqual(keys.map((key) => keyedPartition(key, 6)));
    expect(new Set(after.map((p) => p.partition))).toEqual(new Set([0, 1, 2, 3, 4, 5]));
    expect(lines.filter((line) => line.msg.startsWith('topic gained partitions'))).toEqual([
      expect.objectContaining({
        level: 30,
        msg: 'topic gained partitions; keyed records now spread over 6',
        topic,
        partitions: 6,
        before: 2,
      }),
    ]);
    expect(await counted(registry, 'herald_kafka_publisher_partitions_added_total')).toEqual([
      { labels: { topic }, value: 1 },
    ]);
  });

  it('writes the next records of a partition after a refused request that Kafka partly appended', async () => {
    // Partition 1's part is over the broker's 1 MiB batch limit and refused; partition 0's part
    // of the same request is appended all the same (as Kafka does). kafkajs then rolls back the
    // sequence numbers of every partition of the request.
    const topic = await createTestTopic(broker.brokers, { partitions: 2 });
    const big = 'x'.repeat(300 * 1024);
    const refused = publisher.publish([
      { ...record(topic, 'small', 'first'), partition: 0 },
      ...Array.from({ length: 4 }, () => ({ ...record(topic, 'big', big), partition: 1 })),
    ]);
    await expect(refused).rejects.toThrow();
    // The next record of partition 0 must be written, not taken for a retry of the one before
    // and answered with its offset.
    const [next] = await publisher.publish([{ ...record(topic, 'small', 'second'), partition: 0 }]);
    const stored = await collect(broker.brokers, topic, 2);
    const values = stored.filter((r) => r.partition === 0).map((r) => r.value?.toString());
    expect(values).toEqual(['first', 'second']);
    expect(next).toEqual({ topic, partition: 0, offset: '1' });
  });

  it('answers the requests Kafka appended in a shared write it partly refused, each record once', async () => {
    // Two calls in one produce request: partition 1's part is over the broker's 1 MiB batch limit
    // and refused, partition 0's is appended. Only the call whose records were refused fails.
    const topic = await createTestTopic(broker.brokers, { partitions: 2 });
    const big = 'x'.repeat(300 * 1024);
    // Coalescing stops at 4 MiB here, so both calls share a request.
    const registry = new Registry();
    const { logger: captured, lines } = capturingLogger();
    const wide = new KafkaPublisher(connection, captured, {
      maxBatchBytes: 4 * 1024 * 1024,
      registry,
    });
    const refused = wide.publish(
      Array.from({ length: 4 }, () => ({ ...record(topic, 'big', big), partition: 1 })),
    );
    const appended = wide.publish([
      { ...record(topic, 'small', 'innocent'), partition: 0 },
      { ...record(topic, 'small', 'bystander'), partition: 0 },
    ]);
    await expect(refused).rejects.toMatchObject({
      code: 'kafka.rejected',
      message: expect.stringContaining('MESSAGE_TOO_LARGE'),
    });
    expect(await appended).toEqual([
      { topic, partition: 0, offset: '0' },
      { topic, partition: 0, offset: '1' },
    ]);
    // Written once, where the answer says; the publisher goes on writing after it.
    const [next] = await wide.publish([{ ...record(topic, 'small', 'next'), partition: 0 }]);
    expect(next).toEqual({ topic, partition: 0, offset: '2' });
    await wide.close();
    const stored = await storedRecords(connection, topic);
    expect(stored.map((r) => [r.partition, r.offset, r.value])).toEqual([
      [0, '0', 'innocent'],
      [0, '1', 'bystander'],
      [0, '2', 'next'],
    ]);
    // The refused partition is counted once and warned about once, with what Kafka answered.
    expect(await counted(registry, 'herald_kafka_publish_refused_total')).toEqual([
      { labels: { topic, error: 'MESSAGE_TOO_LARGE' }, value: 1 },
    ]);
    expect(lines.filter((line) => line.level >= 40)).toEqual([
      expect.objectContaining({
        level: 40,
        msg: 'Kafka refused the write to a partition',
        topic,
        partition: 1,
        error: 'MESSAGE_TOO_LARGE',
      }),
    ]);
  });

  it('writes a request that waited behind a partly refused one, not taken for its retry', async () => {
    // The first call is under way (its partition 0 record appended, partition 1 refused) while
    // the second, one record for partition 0 too, waits for the broker. kafkajs rolls back the
    // first call's sequence numbers before the second takes them: sent with them, the second
    // record would be taken for a retry of the first's and answered with its offset, unwritten.
    const topic = await createTestTopic(broker.brokers, { partitions: 2 });
    const big = 'x'.repeat(300 * 1024);
    // What kafkajs and the publisher log, at every level.
    const { logger: captured, lines } = capturingLogger('debug');
    const own = new KafkaConnection(testKafkaConfig(broker.brokers), 'herald-test', captured);
    const holding = new KafkaPublisher(own, captured);
    // The topic's metadata at hand, so neither call waits for it and the first reaches Kafka first.
    await holding.publish([{ ...record(topic, 'small', 'warm'), partition: 0 }]);
    const first = holding.publish([
      { ...record(topic, 'small', 'first'), partition: 0 },
      ...Array.from({ length: 4 }, () => ({ ...record(topic, 'big', big), partition: 1 })),
    ]);
    await new Promise((resolve) => setImmediate(resolve));
    const second = holding.publish([{ ...record(topic, 'small', 'second'), partition: 0 }]);
    await expect(first).rejects.toThrow(/MESSAGE_TOO_LARGE/);
    const [at] = await second;
    await holding.close();
    await own.close();
    // The second was held back and sent again; kafkajs's line about it is no error.
    expect(lines.map((line) => line.msg)).toContain(
      'publishes held back while a failed write settled; sending them again',
    );
    expect(
      lines.filter((line) => line.msg === HELD_BACK_MESSAGE).map((line) => line.level),
    ).toEqual([20]);
    const stored = await storedRecords(connection, topic);
    expect(stored.map((r) => [r.partition, r.offset, r.value])).toEqual([
      [0, '0', 'warm'],
      [0, '1', 'first'],
      [0, '2', 'second'],
    ]);
    expect(at).toEqual({ topic, partition: 0, offset: '2' });
  });

  it('writes more than one request takes, in order, request after request', async () => {
    // 1.5 MiB for one partition: one request is refused as a whole (Kafka's 1 MiB batch limit).
    const topic = await createTestTopic(broker.brokers, { partitions: 2 });
    const records = Array.from({ length: 30 }, (_, i) =>
      record(topic, 'one-key', `${String(i).padStart(3, '0')}${'x'.repeat(50 * 1024)}`),
    );
    await expect(publisher.publish(records)).rejects.toThrow(/MESSAGE_TOO_LARGE/);
    const published = await publisher.publishInOrder(records);
    expect(published.map((p) => p.offset)).toEqual(records.map((_, i) => String(i)));
    const stored = await collect(broker.brokers, topic, 30);
    expect(stored.map((r) => r.value!.toString().slice(0, 3))).toEqual(
      records.map((_, i) => String(i).padStart(3, '0')),
    );
  });

  it('keeps per-partition order across many concurrent publishes', async () => {
    const topic = await createTestTopic(broker.brokers, { partitions: 4 });
    const calls = Array.from({ length: 40 }, (_, call) =>
      publisher.publish(
        Array.from({ length: 5 }, (_, i) => record(topic, `key-${(call + i) % 6}`, `${call}:${i}`)),
      ),
    );
    const answers = await Promise.all(calls);
    // Offsets answered per key rise in the order the calls were made.
    const lastOffset = new Map<string, bigint>();
    answers.forEach((published, call) =>
      published.forEach((p, i) => {
        const key = `key-${(call + i) % 6}`;
        const offset = BigInt(p.offset);
        expect(offset > (lastOffset.get(key) ?? -1n)).toBe(true);
        lastOffset.set(key, offset);
      }),
    );
    // And the log holds them in that order.
    const stored = await collect(broker.brokers, topic, 200);
    const seen = new Map<string, number>();
    for (const r of stored.sort((a, b) => Number(BigInt(a.offset) - BigInt(b.offset)))) {
      const [call, i] = r.value!.toString().split(':').map(Number) as [number, number];
      const key = r.key!.toString();
      const position = call * 5 + i;
      expect(position).toBeGreaterThan(seen.get(key) ?? -1);
      seen.set(key, position);
    }
  });

  it('refuses a topic that does not exist instead of creating it', async () => {
    const strict = new KafkaPublisher(connection, logger, { timeoutMs: 2000 });
    const missing = uniqueName('missing');
    await expect(strict.publish([record(missing, 'k', 'v')])).rejects.toMatchObject({
      code: 'kafka.rejected',
      retryable: false,
    });
    await strict.close();
    const admin = connection.kafka.admin();
    await admin.connect();
    expect(await admin.listTopics()).not.toContain(missing);
    await admin.disconnect();
  });

  it('resolves an empty publish without a request', async () => {
    await expect(publisher.publish([])).resolves.toEqual([]);
  });
});

describe('KafkaPublisher when the broker is down', () => {
  it('fails every pending publish with KafkaUnavailableError within its deadline', async () => {
    const broker = await startTestBroker();
    const topic = await createTestTopic(broker.brokers, { partitions: 2 });
    const connection = createTestConnection(broker.brokers, 'silent');
    const publisher = new KafkaPublisher(connection, logger, { timeoutMs: 2000 });
    await publisher.publish([record(topic, 'k', 'before')]);
    await broker.stop();

    const started = Date.now();
    const results = await Promise.allSettled([
      publisher.publish([record(topic, 'a', '1'), record(topic, 'b', '2')]),
      publisher.publish([record(topic, 'c', '3')]),
    ]);
    const elapsed = Date.now() - started;
    for (const result of results) {
      expect(result.status).toBe('rejected');
      if (result.status === 'rejected') {
        expect(result.reason).toBeInstanceOf(KafkaUnavailableError);
        expect(isHeraldError(result.reason, 'kafka.unavailable')).toBe(true);
        expect((result.reason as KafkaUnavailableError).retryable).toBe(true);
      }
    }
    expect(elapsed).toBeLessThan(2000 + 1500);
    await publisher.close();
    await connection.close();
  });
});
