import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { ConsumerRunner, type IncomingBatch, type IncomingRecord } from '../src/consumer.runner';
import { KafkaConnection } from '../src/kafka.connection';
import { CONSUMER_LAG_METRIC, FETCH_LINGER_METRIC } from '../src/kafka.metrics';
import { KafkaPublisher, type OutgoingRecord } from '../src/kafka.publisher';
import {
  createTestConnection,
  createTestTopic,
  startBrokerProcess,
  startTestBroker,
  testKafkaConfig,
  uniqueName,
  waitFor,
  type RunningBroker,
} from '../src/testing';

const logger = pino({ level: 'silent' });

describe('ConsumerRunner', () => {
  let broker: RunningBroker;
  let connection: KafkaConnection;
  let publisher: KafkaPublisher;
  const runners: ConsumerRunner[] = [];

  beforeAll(async () => {
    broker = await startTestBroker();
    // Silent: one test makes kafkajs log the handler failure it provokes.
    connection = createTestConnection(broker.brokers, 'silent');
    publisher = new KafkaPublisher(connection, logger);
  });

  afterEach(async () => {
    await Promise.all(runners.splice(0).map((r) => r.stop()));
  });

  afterAll(async () => {
    await publisher.close();
    await connection.close();
    await broker.stop();
  });

  function runner(registry?: Registry): ConsumerRunner {
    const r = new ConsumerRunner(connection, logger, { registry, lagIntervalMs: 200 });
    runners.push(r);
    return r;
  }

  function records(topic: string, from: number, count: number, partition = 0): OutgoingRecord[] {
    return Array.from({ length: count }, (_, i) => ({
      topic,
      key: `k${from + i}`,
      value: `v${from + i}`,
      headers: { seq: String(from + i) },
      partition,
    }));
  }

  async function committedOffset(groupId: string, topic: string, partition = 0): Promise<string> {
    const admin = connection.kafka.admin();
    await admin.connect();
    try {
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return offsets!.partitions.find((p) => p.partition === partition)!.offset;
    } finally {
      await admin.disconnect();
    }
  }

  const values = (list: IncomingRecord[]) => list.map((r) => r.value!.toString());

  it('reads partitions added to its topic while it runs, within the metadata age', async () => {
    const topic = await createTestTopic(broker.brokers, { partitions: 1 });
    // A connection whose members refresh their view of the topics every second.
    const config = testKafkaConfig(broker.brokers);
    const fresh = new KafkaConnection(
      { ...config, consumer: { ...config.consumer, metadataMaxAgeMs: 1000 } },
      'herald-test',
      logger,
    );
    const seen: IncomingRecord[] = [];
    const assignments: number[][] = [];
    const member = new ConsumerRunner(fresh, logger);
    try {
      await member.run({
        groupId: uniqueName('g'),
        topics: [topic],
        fromBeginning: true,
        eachBatch: (batch) => {
          seen.push(...batch.records);
          return Promise.resolve();
        },
        onAssignment: (assignment) => assignments.push([...(assignment.get(topic) ?? [])]),
      });
      await publisher.publish(records(topic, 0, 1));
      await waitFor(() => seen.length === 1, { what: 'the record of partition 0' });
      const admin = connection.kafka.admin();
      await admin.connect();
      await admin.createPartitions({ topicPartitions: [{ topic, count: 2 }] });
      await admin.disconnect();
      // A publisher of its own: the shared one's view of the topic predates the new partition.
      const late = new KafkaPublisher(fresh, logger);
      await late.publish(records(topic, 1, 1, 1));
      await late.close();
      await waitFor(() => seen.length === 2, {
        what: 'the record of the added partition',
        timeoutMs: 15_000,
      });
      expect(seen.map((r) => [r.partition, r.value!.toString()])).toEqual([
        [0, 'v0'],
        [1, 'v1'],
      ]);
      expect(assignments.at(-1)).toEqual([0, 1]);
    } finally {
      await member.stop();
      await fresh.close();
    }
  });

  it('hands over records with their key, headers and position', async () => {
    const topic = await createTestTopic(broker.brokers);
    await publisher.publish(records(topic, 0, 3));
    const seen: IncomingRecord[] = [];
    await runner().run({
      groupId: uniqueName('g'),
      topics: [topic],
      fromBeginning: true,
      eachBatch: async (batch) => {
        seen.push(...batch.records);
        return Promise.resolve();
      },
    });
    await waitFor(() => seen.length === 3, { what: '3 records' });
    expect(seen[1]).toEqual({
      topic,
      partition: 0,
      offset: '1',
      key: Buffer.from('k1'),
      value: Buffer.from('v1'),
      headers: { seq: Buffer.from('1') },
      timestamp: expect.stringMatching(/^\d+$/) as unknown,
    });
  });

  it('commits only after the handler resolves: a failed batch is read again, nothing skipped', async () => {
    const topic = await createTestTopic(broker.brokers);
    const groupId = uniqueName('g');
    await publisher.publish(records(topic, 0, 10));

    let failures = 0;
    const first = runner();
    await first.run({
      groupId,
      topics: [topic],
      fromBeginning: true,
      eachBatch: () => {
        failures++;
        return Promise.reject(new Error('handler crashed mid-batch'));
      },
    });
    await waitFor(() => failures > 0, { what: 'the failing handler to run' });
    await first.stop();
    await expect(committedOffset(groupId, topic)).resolves.toBe('-1');

    const seen: IncomingRecord[] = [];
    const second = runner();
    await second.run({
      groupId,
      topics: [topic],
      fromBeginning: true,
      eachBatch: async (batch) => {
        seen.push(...batch.records);
        return Promise.resolve();
      },
    });
    await waitFor(() => seen.length >= 10, { what: 'all 10 records again' });
    expect(values(seen).slice(0, 10)).toEqual(Array.from({ length: 10 }, (_, i) => `v${i}`));
    await waitFor(async () => (await committedOffset(groupId, topic)) === '10', {
      what: 'offset 10 committed',
    });
  });

  it('reads a batch again after its handler throws a RangeError, which kafkajs takes as fatal', async () => {
    const topic = await createTestTopic(broker.brokers);
    await publisher.publish(records(topic, 0, 3));
    let calls = 0;
    const seen: IncomingRecord[] = [];
    const r = runner();
    await r.run({
      groupId: uniqueName('g'),
      topics: [topic],
      fromBeginning: true,
      eachBatch: (batch) => {
        calls++;
        // What `new Date(1.7e18).toISOString()` throws in a handler.
        if (calls === 1) return Promise.reject(new RangeError('Invalid time value'));
        seen.push(...batch.records);
        return Promise.resolve();
      },
    });
    await waitFor(() => seen.length >= 3, { timeoutMs: 20_000, what: 'the batch read again' });
    expect(values(seen).slice(0, 3)).toEqual(['v0', 'v1', 'v2']);
    await expect(r.health()).resolves.toBeUndefined();
  });

  it('fails its health check once kafkajs gives up on the consumer for good', async () => {
    const topic = await createTestTopic(broker.brokers);
    const r = runner();
    await expect(r.health()).resolves.toBeUndefined();
    // Below the broker's smallest session timeout: the join is refused, and kafkajs does not
    // restart a consumer after that refusal.
    await r.run({
      groupId: uniqueName('g'),
      topics: [topic],
      sessionTimeoutMs: 500,
      eachBatch: () => Promise.resolve(),
    });
    await waitFor(
      () =>
        r.health().then(
          () => false,
          () => true,
        ),
      {
        timeoutMs: 20_000,
        what: 'the health check to fail',
      },
    );
    await expect(r.health()).rejects.toThrow(/crashed for good/);
  });

  it('stop() finishes the batch in hand and commits it before leaving', async () => {
    const topic = await createTestTopic(broker.brokers);
    const groupId = uniqueName('g');
    await publisher.publish(records(topic, 0, 5));

    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let inBatch: IncomingBatch | undefined;
    const r = runner();
    await r.run({
      groupId,
      topics: [topic],
      fromBeginning: true,
      eachBatch: async (batch) => {
        inBatch = batch;
        await released;
      },
    });
    await waitFor(() => inBatch, { what: 'a batch in hand' });
    let stopped = false;
    const stopping = r.stop().then(() => (stopped = true));
    await waitFor(() => !inBatch!.isActive(), { what: 'the batch to see the runner stopping' });
    expect(stopped).toBe(false);
    release();
    await stopping;
    const last = inBatch!.records[inBatch!.records.length - 1]!;
    await expect(committedOffset(groupId, topic)).resolves.toBe(String(Number(last.offset) + 1));

    // A new member of the group starts after what was committed.
    const seen: IncomingRecord[] = [];
    await publisher.publish(records(topic, 5, 2));
    await runner().run({
      groupId,
      topics: [topic],
      eachBatch: async (batch) => {
        seen.push(...batch.records);
        return Promise.resolve();
      },
    });
    const expected = Array.from(
      { length: 7 - Number(last.offset) - 1 },
      (_, i) => `v${Number(last.offset) + 1 + i}`,
    );
    await waitFor(() => seen.length >= expected.length, { what: 'the uncommitted records' });
    expect(values(seen)).toEqual(expected);
  });

  it('pauses and resumes single partitions', async () => {
    const topic = await createTestTopic(broker.brokers, { partitions: 2 });
    const seen: IncomingRecord[] = [];
    const r = runner();
    await r.run({
      groupId: uniqueName('g'),
      topics: [topic],
      fromBeginning: true,
      eachBatch: async (batch) => {
        seen.push(...batch.records);
        return Promise.resolve();
      },
    });
    r.pause(topic, [0]);
    await publisher.publish([...records(topic, 0, 3, 0), ...records(topic, 10, 3, 1)]);
    await waitFor(() => seen.filter((s) => s.partition === 1).length === 3, {
      what: 'partition 1',
    });
    // A later record on the running partition arrives while the paused one stays silent.
    await publisher.publish(records(topic, 13, 1, 1));
    await waitFor(() => seen.some((s) => s.value!.toString() === 'v13'), { what: 'v13' });
    expect(seen.filter((s) => s.partition === 0)).toHaveLength(0);

    r.resume(topic, [0]);
    await waitFor(() => seen.filter((s) => s.partition === 0).length === 3, {
      what: 'partition 0 after resume',
    });
  });

  it('reports lag per partition and lets the caller commit what it settled', async () => {
    const topic = await createTestTopic(broker.brokers);
    const groupId = uniqueName('g');
    const registry = new Registry();
    const lag = async (): Promise<number | undefined> => {
      const metric = await registry.getSingleMetric(CONSUMER_LAG_METRIC)?.get();
      return metric?.values.find(
        (v) => v.labels['group'] === groupId && v.labels['topic'] === topic,
      )?.value;
    };
    await publisher.publish(records(topic, 0, 10));
    const seen: IncomingRecord[] = [];
    const r = runner(registry);
    await r.run({
      groupId,
      topics: [topic],
      fromBeginning: true,
      commit: 'manual',
      eachBatch: async (batch) => {
        seen.push(...batch.records);
        return Promise.resolve();
      },
    });
    await waitFor(() => seen.length === 10, { what: '10 records' });
    await waitFor(async () => (await lag()) === 10, { what: 'lag 10 with nothing committed' });

    await r.commit(topic, 0, '4');
    await expect(lag()).resolves.toBe(6);
    await expect(committedOffset(groupId, topic)).resolves.toBe('4');

    // New records raise it, through batches and the periodic refresh.
    await publisher.publish(records(topic, 10, 5));
    await waitFor(async () => (await lag()) === 11, { what: 'lag 11' });

    await r.commit(topic, 0, '15');
    await expect(lag()).resolves.toBe(0);
    await r.stop();
    await expect(lag()).resolves.toBeUndefined();
    await expect(r.commit(topic, 0, '15')).rejects.toThrow(/stopped/);
  });

  it('commits several partitions of several topics in one call', async () => {
    const first = await createTestTopic(broker.brokers, { partitions: 2 });
    const second = await createTestTopic(broker.brokers);
    const groupId = uniqueName('g');
    await publisher.publish([
      ...records(first, 0, 3, 0),
      ...records(first, 10, 3, 1),
      ...records(second, 20, 3),
    ]);
    const seen: IncomingRecord[] = [];
    const r = runner();
    await r.run({
      groupId,
      topics: [first, second],
      fromBeginning: true,
      commit: 'manual',
      eachBatch: async (batch) => {
        seen.push(...batch.records);
        return Promise.resolve();
      },
    });
    await waitFor(() => seen.length === 9, { what: '9 records' });
    await r.commitMany([
      { topic: first, partition: 0, nextOffset: '2' },
      { topic: first, partition: 1, nextOffset: '3' },
      { topic: second, partition: 0, nextOffset: '1' },
    ]);
    await expect(committedOffset(groupId, first, 0)).resolves.toBe('2');
    await expect(committedOffset(groupId, first, 1)).resolves.toBe('3');
    await expect(committedOffset(groupId, second, 0)).resolves.toBe('1');
    // Nothing to commit is no request at all.
    await r.commitMany([]);
    await r.stop();
    await expect(r.commitMany([{ topic: second, partition: 0, nextOffset: '3' }])).rejects.toThrow(
      /stopped/,
    );
  });

  it('lets a fetch wait for KAFKA_FETCH_MIN_BYTES, up to KAFKA_FETCH_MAX_WAIT_MS', async () => {
    const config = testKafkaConfig(broker.brokers);
    const batching = new KafkaConnection(
      { ...config, consumer: { ...config.consumer, fetchMinBytes: 4096, fetchMaxWaitMs: 3000 } },
      'herald-test',
      logger,
    );
    const r = new ConsumerRunner(batching, logger);
    try {
      const topic = await createTestTopic(broker.brokers);
      // More than the minimum is waiting: the first fetch is answered at once.
      const padded = records(topic, 0, 8).map((record) => ({ ...record, value: 'x'.repeat(1024) }));
      await publisher.publish(padded);
      const batches: string[][] = [];
      await r.run({
        groupId: uniqueName('g'),
        topics: [topic],
        fromBeginning: true,
        eachBatch: async (batch) => {
          if (batch.records.length > 0) batches.push(values(batch.records));
          return Promise.resolve();
        },
      });
      await waitFor(() => batches.flat().length === 8, { what: 'the first 8 records' });
      // Two small records 300 ms apart: the open fetch waits for 4 KiB or its 3 s, so both come in
      // one batch (with the default of 1 byte, the first would come alone at once).
      const before = batches.length;
      await publisher.publish(records(topic, 8, 1));
      await new Promise((resolve) => setTimeout(resolve, 300));
      await publisher.publish(records(topic, 9, 1));
      await waitFor(() => batches.flat().length === 10, { what: '2 more', timeoutMs: 10_000 });
      expect(batches.slice(before)).toEqual([['v8', 'v9']]);
    } finally {
      await r.stop();
      await batching.close();
    }
  });

  it('holds the next fetch for KAFKA_FETCH_LINGER_MS after one that brought records, and only then', async () => {
    const config = testKafkaConfig(broker.brokers);
    const lingerMs = 3000;
    const lingering = new KafkaConnection(
      { ...config, consumer: { ...config.consumer, fetchLingerMs: lingerMs } },
      'herald-test',
      logger,
    );
    const registry = new Registry();
    const r = new ConsumerRunner(lingering, logger, { registry });
    const groupId = uniqueName('g');
    try {
      const topic = await createTestTopic(broker.brokers);
      const batches: string[][] = [];
      const arrivedAt: number[] = [];
      await r.run({
        groupId,
        topics: [topic],
        fromBeginning: true,
        // The linger holds a worker: it applies where several partitions are handled at once.
        concurrency: 2,
        eachBatch: (batch) => {
          batches.push(values(batch.records));
          arrivedAt.push(Date.now());
          return Promise.resolve();
        },
      });
      // Idle, the open fetch is answered as soon as a record is there: nothing waits.
      await publisher.publish(records(topic, 0, 1));
      await waitFor(() => batches.length === 1, { what: 'the first record' });
      // Two more, 300 ms apart, right after: the next fetch waits for the linger, so both come
      // in one batch (without it, each would come with a fetch of its own).
      await publisher.publish(records(topic, 1, 1));
      await new Promise((resolve) => setTimeout(resolve, 300));
      await publisher.publish(records(topic, 2, 1));
      await waitFor(() => batches.flat().length === 3, { what: '2 more', timeoutMs: 15_000 });
      expect(batches).toEqual([['v0'], ['v1', 'v2']]);
      const held = (await registry.getSingleMetric(FETCH_LINGER_METRIC)!.get()).values;
      expect(held.find((v) => v.labels['group'] === groupId)?.value).toBeGreaterThan(0);
      // Quiet for longer than the linger: the next record is not held back by it.
      await new Promise((resolve) => setTimeout(resolve, lingerMs));
      const sentAt = Date.now();
      await publisher.publish(records(topic, 3, 1));
      await waitFor(() => batches.length === 3, { what: 'the record after the pause' });
      expect(batches[2]).toEqual(['v3']);
      expect(arrivedAt[2]! - sentAt).toBeLessThan(lingerMs - 1000);
    } finally {
      await r.stop();
      await lingering.close();
    }
  });

  it('stop() does not wait out a linger in hand, and a consumer of one partition at a time does not linger', async () => {
    const config = testKafkaConfig(broker.brokers);
    const lingerMs = 5000;
    const lingering = new KafkaConnection(
      { ...config, consumer: { ...config.consumer, fetchLingerMs: lingerMs } },
      'herald-test',
      logger,
    );
    const one = new ConsumerRunner(lingering, logger);
    const many = new ConsumerRunner(lingering, logger);
    try {
      const topic = await createTestTopic(broker.brokers);
      const seen = { one: [] as string[][], many: [] as string[][] };
      await many.run({
        groupId: uniqueName('g'),
        topics: [topic],
        fromBeginning: true,
        concurrency: 2,
        eachBatch: (batch) => Promise.resolve(void seen.many.push(values(batch.records))),
      });
      await publisher.publish(records(topic, 0, 1));
      await waitFor(() => seen.many.length === 1, { what: 'the first record' });
      // Its batch is in the linger (5 s after its fetch began): stopping ends it now.
      const stoppedAt = Date.now();
      await many.stop();
      expect(Date.now() - stoppedAt).toBeLessThan(lingerMs - 2000);

      // One worker: no linger, so a record right after the first comes at once.
      await one.run({
        groupId: uniqueName('g'),
        topics: [topic],
        fromBeginning: true,
        eachBatch: (batch) => Promise.resolve(void seen.one.push(values(batch.records))),
      });
      await waitFor(() => seen.one.length === 1, { what: 'the first record again' });
      const sentAt = Date.now();
      await publisher.publish(records(topic, 1, 1));
      await waitFor(() => seen.one.length === 2, { what: 'the second record' });
      expect(Date.now() - sentAt).toBeLessThan(lingerMs - 2000);
      expect(seen.one).toEqual([['v0'], ['v1']]);
    } finally {
      await Promise.all([one.stop(), many.stop()]);
      await lingering.close();
    }
  });
});

describe('ConsumerRunner while the broker does not answer', () => {
  it('gives a lag refresh up within seconds while the broker does not answer, and refreshes again once it does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-lag-'));
    const broker = await startBrokerProcess(dir);
    const connection = createTestConnection(broker.brokers, 'silent');
    const publisher = new KafkaPublisher(connection, logger);
    const registry = new Registry();
    // Refreshed by the test alone.
    const runner = new ConsumerRunner(connection, logger, { registry, lagIntervalMs: 600_000 });
    try {
      const topic = await createTestTopic(broker.brokers);
      await publisher.publish([{ topic, key: 'k', value: 'v', headers: {}, partition: 0 }]);
      let seen = 0;
      await runner.run({
        groupId: uniqueName('g'),
        topics: [topic],
        fromBeginning: true,
        commit: 'manual',
        eachBatch: (batch) => Promise.resolve(void (seen += batch.records.length)),
      });
      await waitFor(() => seen === 1, { what: 'the record' });
      await runner.refreshLag();

      broker.child.kill('SIGSTOP');
      try {
        const startedAt = Date.now();
        await expect(runner.refreshLag()).rejects.toThrow();
        // Three tries of 2 s at most; on the main client (30 s a request) it waited 30 s.
        expect(Date.now() - startedAt).toBeLessThan(10_000);
      } finally {
        broker.child.kill('SIGCONT');
      }
      await expect(runner.refreshLag()).resolves.toBeUndefined();
      const lag = await registry.getSingleMetric(CONSUMER_LAG_METRIC)?.get();
      expect(lag?.values.find((v) => v.labels['topic'] === topic)?.value).toBe(1);
    } finally {
      await runner.stop();
      await publisher.close();
      await connection.close();
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
