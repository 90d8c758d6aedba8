import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { KafkaPublisher, type OutgoingRecord } from '../src/kafka.publisher';
import type { KafkaConnection } from '../src/kafka.connection';
import { OffsetRangeReader } from '../src/offset-range.reader';
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

describe('OffsetRangeReader and OffsetLookup', () => {
  let broker: RunningBroker;
  let connection: KafkaConnection;
  let publisher: KafkaPublisher;
  let offsets: OffsetLookup;

  beforeAll(async () => {
    broker = await startTestBroker();
    connection = createTestConnection(broker.brokers, 'silent');
    publisher = new KafkaPublisher(connection, logger);
    offsets = new OffsetLookup(connection);
  });

  afterAll(async () => {
    await offsets.close();
    await publisher.close();
    await connection.close();
    await broker.stop();
  });

  const batch = (topic: string, from: number, count: number, partition: number): OutgoingRecord[] =>
    Array.from({ length: count }, (_, i) => ({
      topic,
      key: null,
      value: `v${from + i}`,
      headers: {},
      partition,
    }));

  it('finds offsets by time and reads exactly the ranges asked for', async () => {
    const topic = await createTestTopic(broker.brokers, { partitions: 3 });
    await publisher.publish([...batch(topic, 0, 10, 0), ...batch(topic, 0, 4, 1)]);
    const before = await offsets.endOffsets(topic);
    expect(before).toEqual(
      expect.arrayContaining([
        { partition: 0, offset: '10' },
        { partition: 1, offset: '4' },
        { partition: 2, offset: '0' },
      ]),
    );
    // Records timestamps are milliseconds; make sure the next ones are strictly later.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const cut = Date.now();
    await publisher.publish([...batch(topic, 10, 5, 0), ...batch(topic, 4, 2, 1)]);
    const atCut = await offsets.offsetsAt(topic, cut);
    expect(atCut).toEqual(
      expect.arrayContaining([
        { partition: 0, offset: '10' },
        { partition: 1, offset: '4' },
        { partition: 2, offset: '0' },
      ]),
    );
    // Written after the ends were captured: must not be read.
    const ends = await offsets.endOffsets(topic);
    await publisher.publish(batch(topic, 15, 3, 0));

    const seen: string[] = [];
    const reader = new OffsetRangeReader(connection, logger);
    await reader.read(
      atCut.map(({ partition, offset }) => ({
        topic,
        partition,
        from: offset,
        to: ends.find((e) => e.partition === partition)!.offset,
      })),
      async ({ records }) => {
        seen.push(...records.map((r) => `${r.partition}:${r.value!.toString()}`));
        return Promise.resolve();
      },
    );
    expect(seen.filter((s) => s.startsWith('0:'))).toEqual([
      '0:v10',
      '0:v11',
      '0:v12',
      '0:v13',
      '0:v14',
    ]);
    expect(seen.filter((s) => s.startsWith('1:'))).toEqual(['1:v4', '1:v5']);
    expect(seen.filter((s) => s.startsWith('2:'))).toEqual([]);
  });

  it('reads from the oldest record Kafka still holds when a range starts before it', async () => {
    // Segments of about 10 records; retention keeps the newest few of them.
    const small = await startTestBroker({ segmentBytes: 1024, retentionCheckIntervalMs: 100 });
    const smallConnection = createTestConnection(small.brokers, 'silent');
    const smallPublisher = new KafkaPublisher(smallConnection, logger);
    const smallOffsets = new OffsetLookup(smallConnection);
    try {
      const topic = uniqueName('retained');
      const admin = smallConnection.kafka.admin();
      await admin.connect();
      await admin.createTopics({
        topics: [
          { topic, numPartitions: 1, configEntries: [{ name: 'retention.bytes', value: '3000' }] },
        ],
      });
      await admin.disconnect();
      for (let i = 0; i < 100; i += 5)
        await smallPublisher.publish(
          batch(topic, i, 5, 0).map((r) => ({ ...r, value: String(r.value).padEnd(40, '.') })),
        );
      const start = async () => Number((await smallOffsets.startOffsets(topic))[0]!.offset);
      await waitFor(async () => (await start()) > 0, { what: 'retention to remove old segments' });
      const held = await start();
      const seen: number[] = [];
      // A replay from a time or cursor older than retention, or a redrive of a deleted event.
      await new OffsetRangeReader(smallConnection, logger).read(
        [{ topic, partition: 0, from: '0', to: '100' }],
        async ({ records }) => {
          seen.push(...records.map((r) => Number(r.offset)));
          return Promise.resolve();
        },
      );
      expect(seen).toEqual(Array.from({ length: 100 - held }, (_, i) => held + i));
    } finally {
      await smallOffsets.close();
      await smallPublisher.close();
      await smallConnection.close();
      await small.stop();
    }
  });

  // Ranges reaching outside what a partition holds once waited for ever for a batch reaching
  // their end (fanout's replay and redrive loop stopped for good): these tests fail on a deadline.
  const HANG_GUARD_MS = 8000;

  it(
    'finishes at once a range whose records were all deleted, handing over nothing',
    async () => {
      const topic = await createTestTopic(broker.brokers, { partitions: 1 });
      await publisher.publish(batch(topic, 0, 5, 0));
      // Every record gone and nothing written since: the partition holds no offset at all.
      const admin = connection.kafka.admin();
      await admin.connect();
      try {
        await admin.deleteTopics({ topics: [topic] });
        await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
      } finally {
        await admin.disconnect();
      }
      expect(await offsets.startOffsets(topic)).toEqual([{ partition: 0, offset: '0' }]);
      expect(await offsets.endOffsets(topic)).toEqual([{ partition: 0, offset: '0' }]);

      const seen: string[] = [];
      // A redrive of dead letters at offsets 1 and 3, written before the records went.
      await new OffsetRangeReader(connection, logger).read(
        [{ topic, partition: 0, from: '1', to: '4' }],
        async ({ records }) => {
          seen.push(...records.map((r) => r.offset));
          return Promise.resolve();
        },
      );
      expect(seen).toEqual([]);
    },
    HANG_GUARD_MS,
  );

  it(
    'stops a range at the end of what the partition holds',
    async () => {
      const topic = await createTestTopic(broker.brokers, { partitions: 2 });
      await publisher.publish([...batch(topic, 0, 5, 0), ...batch(topic, 0, 2, 1)]);
      const seen: string[] = [];
      // Ends kept from an earlier look-up (a replay taken over) that Kafka no longer reaches.
      await new OffsetRangeReader(connection, logger).read(
        [
          { topic, partition: 0, from: '3', to: '8' },
          { topic, partition: 1, from: '5', to: '9' },
        ],
        async ({ records }) => {
          seen.push(...records.map((r) => `${r.partition}:${r.value!.toString()}`));
          return Promise.resolve();
        },
      );
      expect(seen).toEqual(['0:v3', '0:v4']);
    },
    HANG_GUARD_MS,
  );

  it('reads one record by its offset', async () => {
    const topic = await createTestTopic(broker.brokers, { partitions: 1 });
    await publisher.publish(batch(topic, 0, 5, 0));
    const seen: string[] = [];
    await new OffsetRangeReader(connection, logger).read(
      [{ topic, partition: 0, from: '3', to: '4' }],
      async ({ records }) => {
        seen.push(...records.map((r) => r.value!.toString()));
        return Promise.resolve();
      },
    );
    expect(seen).toEqual(['v3']);
  });

  it('reads without any consumer group', async () => {
    const topic = await createTestTopic(broker.brokers, { partitions: 2 });
    await publisher.publish([...batch(topic, 0, 3, 0), ...batch(topic, 0, 3, 1)]);
    const admin = connection.kafka.admin();
    await admin.connect();
    try {
      const groups = async () => (await admin.listGroups()).groups.map((g) => g.groupId).sort();
      const before = await groups();
      const during: string[][] = [];
      const seen: string[] = [];
      await new OffsetRangeReader(connection, logger).read(
        [
          { topic, partition: 0, from: '0', to: '3' },
          { topic, partition: 1, from: '1', to: '3' },
        ],
        async ({ records }) => {
          seen.push(...records.map((r) => `${r.partition}:${r.value!.toString()}`));
          during.push(await groups());
        },
      );
      expect(seen.sort()).toEqual(['0:v0', '0:v1', '0:v2', '1:v1', '1:v2']);
      // While reading (a group would be there, joined) and after (it would be deleted, or left).
      expect(during.length).toBeGreaterThan(0);
      for (const listed of during) expect(listed).toEqual(before);
      expect(await groups()).toEqual(before);
    } finally {
      await admin.disconnect();
    }
  });

  it(
    'finishes a range that ends on a transaction marker',
    async () => {
      // The embedded broker refuses transactional producers, so the marker Kafka would write when
      // a transaction commits goes straight into the partition's segment file while the broker is
      // stopped; its recovery checks and indexes it like any other batch.
      const dataDir = mkdtempSync(join(tmpdir(), 'herald-reader-marker-'));
      try {
        const first = await startTestBroker({ dataDir });
        const firstConnection = createTestConnection(first.brokers, 'silent');
        const firstPublisher = new KafkaPublisher(firstConnection, logger);
        const topic = await createTestTopic(first.brokers, { partitions: 1 });
        try {
          await firstPublisher.publish(batch(topic, 0, 5, 0)); // offsets 0-4
        } finally {
          await firstPublisher.close();
          await firstConnection.close();
          await first.stop();
        }
        const segment = segmentFile(dataDir);
        const log = readFileSync(segment);
        writeFileSync(segment, Buffer.concat([log, commitMarker(5, log.readInt32BE(12))]));

        const second = await startTestBroker({ dataDir });
        const secondConnection = createTestConnection(second.brokers, 'silent');
        const secondOffsets = new OffsetLookup(secondConnection);
        try {
          expect(await secondOffsets.endOffsets(topic)).toEqual([{ partition: 0, offset: '6' }]);
          const reader = new OffsetRangeReader(secondConnection, logger);
          const read = async (from: string, to: string) => {
            const seen: string[] = [];
            await reader.read([{ topic, partition: 0, from, to }], async ({ records }) => {
              seen.push(...records.map((r) => `${r.offset}:${r.value!.toString()}`));
              return Promise.resolve();
            });
            return seen;
          };
          // Records before the marker, then the marker alone: it takes an offset, no record.
          expect(await read('3', '6')).toEqual(['3:v3', '4:v4']);
          expect(await read('5', '6')).toEqual([]);
        } finally {
          await secondOffsets.close();
          await secondConnection.close();
          await second.stop();
        }
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
    HANG_GUARD_MS,
  );

  // Records of ~600 kB, one a batch: a fetch brings one (the fetch size is 1 MiB a partition), so
  // a read of a few of them spans fetches, and a handler can change the partition in between.
  const large = (topic: string, i: number): OutgoingRecord[] => [
    { topic, key: null, value: `v${i}`.padEnd(600_000, '.'), headers: {}, partition: 0 },
  ];

  it(
    'finishes a range whose rest retention removed while it was read',
    async () => {
      // Every large record rolls a segment; retention keeps about two segments' worth of bytes.
      const small = await startTestBroker({ segmentBytes: 1024, retentionCheckIntervalMs: 50 });
      const smallConnection = createTestConnection(small.brokers, 'silent');
      const smallPublisher = new KafkaPublisher(smallConnection, logger);
      const smallOffsets = new OffsetLookup(smallConnection);
      try {
        const topic = uniqueName('removed');
        const admin = smallConnection.kafka.admin();
        await admin.connect();
        await admin.createTopics({
          topics: [
            {
              topic,
              numPartitions: 1,
              configEntries: [{ name: 'retention.bytes', value: '1300000' }],
            },
          ],
        });
        await admin.disconnect();
        for (let i = 0; i < 3; i++) await smallPublisher.publish(large(topic, i));
        const seen: string[] = [];
        await new OffsetRangeReader(smallConnection, logger).read(
          [{ topic, partition: 0, from: '0', to: '3' }],
          async ({ records }) => {
            seen.push(...records.map((r) => r.offset));
            if (seen.length > 1) return;
            // Four more records and retention drops offsets 0-3, the rest of the range with them.
            for (let i = 3; i < 7; i++) await smallPublisher.publish(large(topic, i));
            await waitFor(
              async () => Number((await smallOffsets.startOffsets(topic))[0]!.offset) >= 3,
              { what: 'retention to remove offsets 0-2' },
            );
          },
        );
        expect(seen).toEqual(['0']);
      } finally {
        await smallOffsets.close();
        await smallPublisher.close();
        await smallConnection.close();
        await small.stop();
      }
    },
    HANG_GUARD_MS,
  );

  /**
   * Reads offsets 0-2 of a new topic of three large records, doing `change` to the topic (with
   * an admin client) once the first record is handed over; answers the offsets handed over.
   */
  async function readWhileTopicChanges(
    change: (admin: ReturnType<KafkaConnection['kafka']['admin']>, topic: string) => Promise<void>,
    recheckMs?: number,
  ): Promise<string[]> {
    const topic = await createTestTopic(broker.brokers, { partitions: 1 });
    for (let i = 0; i < 3; i++) await publisher.publish(large(topic, i));
    const seen: string[] = [];
    await new OffsetRangeReader(connection, logger).read(
      [{ topic, partition: 0, from: '0', to: '3' }],
      async ({ records }) => {
        seen.push(...records.map((r) => r.offset));
        if (seen.length > 1) return;
        const admin = connection.kafka.admin();
        await admin.connect();
        try {
          await change(admin, topic);
        } finally {
          await admin.disconnect();
        }
      },
      recheckMs === undefined ? {} : { recheckMs },
    );
    return seen;
  }

  it(
    'finishes a range whose topic was deleted and created again while it was read',
    async () => {
      // Offsets 1-2 are then past the partition's end, and no longer those records.
      const seen = await readWhileTopicChanges(async (admin, topic) => {
        await admin.deleteTopics({ topics: [topic] });
        await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
      });
      expect(seen).toEqual(['0']);
    },
    HANG_GUARD_MS,
  );

  it(
    'finishes a range whose topic was deleted while it was read',
    async () => {
      // The fetcher retries a topic that is gone for ever; the read looks again after recheckMs.
      const seen = await readWhileTopicChanges(
        (admin, topic) => admin.deleteTopics({ topics: [topic] }),
        500,
      );
      expect(seen).toEqual(['0']);
    },
    HANG_GUARD_MS,
  );

  it('reads nothing, at once, from a topic that no longer exists', async () => {
    const reader = new OffsetRangeReader(connection, logger);
    const seen: string[] = [];
    await reader.read([{ topic: uniqueName('gone'), partition: 0, from: '3', to: '7' }], (b) => {
      seen.push(...b.records.map((r) => String(r.offset)));
      return Promise.resolve();
    });
    expect(seen).toEqual([]);
  }, 20_000);
});

/** The one segment file of the one partition in a broker's data folder. */
function segmentFile(dataDir: string): string {
  const found = readdirSync(dataDir, { recursive: true, encoding: 'utf8' }).filter((name) =>
    /(^|[/\\])\d{20}\.log$/.test(name),
  );
  expect(found).toHaveLength(1);
  return join(dataDir, found[0]!);
}

/**
 * The control batch Kafka appends when a transaction commits (record batch v2, transactional
 * and control flags, one record: key version 0 type 1 COMMIT, value version 0 coordinator epoch 0).
 */
function commitMarker(offset: number, leaderEpoch: number): Buffer {
  const key = Buffer.from([0, 0, 0, 1]);
  const value = Buffer.from([0, 0, 0, 0, 0, 0]);
  // Lengths are zigzag varints, one byte each here; attributes, timestamp and offset delta 0.
  const body = Buffer.concat([
    Buffer.from([0, 0, 0, key.length * 2]),
    key,
    Buffer.from([value.length * 2]),
    value,
    Buffer.from([0]),
  ]);
  const record = Buffer.concat([Buffer.from([body.length * 2]), body]);
  const header = 61;
  const marker = Buffer.alloc(header + record.length);
  const now = BigInt(Date.now());
  marker.writeBigInt64BE(BigInt(offset), 0);
  marker.writeInt32BE(marker.length - 12, 8);
  marker.writeInt32BE(leaderEpoch, 12);
  marker.writeInt8(2, 16); // magic; the CRC at 17 covers what follows it
  marker.writeInt16BE(0x10 | 0x20, 21);
  marker.writeInt32BE(0, 23); // last offset delta
  marker.writeBigInt64BE(now, 27);
  marker.writeBigInt64BE(now, 35);
  marker.writeBigInt64BE(4242n, 43); // the transactional producer's id, epoch 0
  marker.writeInt16BE(0, 51);
  marker.writeInt32BE(-1, 53); // markers carry no sequence
  marker.writeInt32BE(1, 57);
  record.copy(marker, header);
  marker.writeUInt32BE(crc32c(marker.subarray(21)), 17);
  return marker;
}

function crc32c(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
