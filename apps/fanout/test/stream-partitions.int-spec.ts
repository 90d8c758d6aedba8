import pino from 'pino';
import {
  KafkaPublisher,
  toKafkaHeaders,
  type PublishedRecord,
  encodeCursor,
  topicPartitionKey,
} from '@herald/kafka';
import { createTestConnection } from '@herald/kafka/testing';
import {
  metricValue,
  openSse,
  spawnFanout,
  startStreamWorld,
  testEvents,
  waitFor,
  type FanoutProcess,
  type SseMessage,
  type StreamWorld,
  type TestEvent,
} from './stream-app.fixture';

const TOPIC = 'orders.v1';
/** The test contract gives orders.v1 three partitions; the test grows it to five. */
const PARTITIONS_BEFORE = 3;
const PARTITIONS_AFTER = 5;

/**
 * Partitions added to a channel topic while fanout runs (Kafka CreatePartitions, or another
 * instance growing the topic at its start) are found by the live tail's partition check and read
 * from their first offset: live clients get what is written there, and a cursor taken before the
 * change (which does not name the new partitions) resumes with everything after it.
 */
describe('live tail: partitions added while it runs', () => {
  let world: StreamWorld;
  let fanout: FanoutProcess;

  beforeAll(async () => {
    world = await startStreamWorld();
    fanout = await spawnFanout(world, { STREAM_TAIL_PARTITION_CHECK_MS: '200' });
  });

  afterAll(async () => {
    await fanout?.stop();
    await world?.stop();
  });

  const url = (query = '') => `${fanout.url}/v1/streams/sse?types=order.*${query}`;
  const ids = (messages: SseMessage[]) => messages.map((m) => String(m.data.id)).sort();
  const logged = (msg: string) => fanout.logs.filter((entry) => entry.msg === msg);

  it('streams events of new partitions to live clients and to clients resuming from older cursors', async () => {
    const live = openSse(url());
    await live.opened;
    const before = testEvents('grow-before', 6, ['order.created']);
    const written = await world.publish(before);
    await waitFor(() => live.messages.length >= before.length, {
      what: `the first ${before.length} events (got ${live.messages.length})`,
    });
    // The cursor of the last event so far (one the tail wrote), and a cursor of positions of its
    // own naming only the old partitions, where the first event was written (as a client of
    // another instance, or one whose cursor the ring no longer indexes, would hold).
    const tailCursor = live.messages.at(-1)!.id;
    const ownCursor = encodeCursor(startOf(written));

    const admin = world.kafka.kafka.admin();
    await admin.connect();
    await admin.createPartitions({
      topicPartitions: [{ topic: TOPIC, count: PARTITIONS_AFTER }],
    });
    await admin.disconnect();

    // A new producer (its view of the cluster has the new partitions) writes to them at once:
    // likely before the tail's next check, so the tail must read them from their first offset.
    const connection = createTestConnection(world.broker.brokers);
    const publisher = new KafkaPublisher(connection, pino({ level: 'silent' }));
    let onNew: PublishedRecord[];
    const added = testEvents('grow-new', 6, ['order.created']);
    const after = testEvents('grow-old', 2, ['order.created']);
    try {
      onNew = await publishTo(publisher, added, (i) => PARTITIONS_BEFORE + (i % 2));
      await publishTo(publisher, after, (i) => i % PARTITIONS_BEFORE);
    } finally {
      await publisher.close();
      await connection.close();
    }
    expect([...new Set(onNew.map((r) => r.partition))].sort()).toEqual([3, 4]);

    await waitFor(() => live.messages.length >= before.length + added.length + after.length, {
      timeoutMs: 15_000,
      what: `the events of the new partitions on the live stream (got ${live.messages.length})`,
    });

    const resumed = openSse(url(), { lastEventId: tailCursor });
    const own = openSse(url(`&cursor=${encodeURIComponent(ownCursor)}`));
    await Promise.all([resumed.opened, own.opened]);
    await waitFor(
      () =>
        resumed.messages.length >= added.length + after.length &&
        own.messages.length >= before.length + added.length + after.length,
      {
        what: `resumed streams (got ${resumed.messages.length} and ${own.messages.length})`,
      },
    );
    // Settle: anything sent twice would arrive now.
    await new Promise((done) => setTimeout(done, 300));
    live.close();
    resumed.close();
    own.close();

    const every = (events: TestEvent[][]) =>
      events
        .flat()
        .map((e) => e.id)
        .sort();
    expect(ids(live.messages)).toEqual(every([before, added, after]));
    expect(ids(resumed.messages)).toEqual(every([added, after]));
    expect(ids(own.messages)).toEqual(every([before, added, after]));
    // On a new partition, in offset order.
    for (const partition of [3, 4]) {
      const order = onNew
        .map((record, i) => ({ record, id: added[i]!.id }))
        .filter(({ record }) => record.partition === partition)
        .map(({ id }) => id);
      expect(
        live.messages.map((m) => String(m.data.id)).filter((id) => order.includes(id)),
      ).toEqual(order);
    }

    await waitFor(
      () => logged('stream live tail reads partitions added to its topics').length > 0,
      {
        what: 'the partitions-added log line',
      },
    );
    const [line] = logged('stream live tail reads partitions added to its topics');
    expect(line).toMatchObject({
      count: 2,
      partitions: 5 + 2, // orders.v1 and kitchen.v1 (2 partitions)
      added: [
        { topic: TOPIC, partition: 3, offset: '0' },
        { topic: TOPIC, partition: 4, offset: '0' },
      ],
    });
    expect(
      await metricValue(
        fanout.url,
        'herald_stream_tail_partitions_added_total',
        `topic="${TOPIC}"`,
      ),
    ).toBe(2);
  });
});

/** For each partition written, the offset of its first record there: a position before them. */
function startOf(written: PublishedRecord[]): Map<string, bigint> {
  const positions = new Map<string, bigint>();
  for (let p = 0; p < PARTITIONS_BEFORE; p++) {
    const offsets = written.filter((r) => r.partition === p).map((r) => BigInt(r.offset));
    positions.set(
      topicPartitionKey(TOPIC, p),
      offsets.length === 0 ? 0n : offsets.reduce((a, b) => (a < b ? a : b)),
    );
  }
  positions.set(topicPartitionKey('kitchen.v1', 0), 0n);
  positions.set(topicPartitionKey('kitchen.v1', 1), 0n);
  return positions;
}

/** Writes `events` as the fixture does, each to the partition `partitionOf` gives. */
function publishTo(
  publisher: KafkaPublisher,
  events: TestEvent[],
  partitionOf: (i: number) => number,
): Promise<PublishedRecord[]> {
  return publisher.publish(
    events.map((e, i) => ({
      topic: TOPIC,
      key: e.id,
      partition: partitionOf(i),
      value: JSON.stringify({ id: e.id, n: e.n, total: e.total }),
      headers: toKafkaHeaders({
        id: e.id,
        source: '/stream-tests',
        type: e.type,
        time: new Date().toISOString(),
      }),
    })),
  );
}
