// Structure-aware fuzzing of the broker, complementing fuzz.int-spec.ts (random, cut and
// bit-flipped frames): here the frames are well formed and the lies are deeper.
// - Produce requests carrying record batches built by a real encoder, then mutated in a header
//   field or inside the records, with the CRC recomputed so the batch gets past the checksum.
//   Whatever the broker accepts, a kafkajs consumer must then be able to read: a stored batch no
//   client can decode would wedge every consumer of that partition.
// - Valid and hostile requests pipelined on one connection and cut into arbitrary TCP chunks:
//   the broker answers the valid ones in order, and closes (never hangs) on the hostile ones.
import { connect } from 'node:net';
import fc from 'fast-check';
import { Kafka, logLevel } from 'kafkajs';
import type { BrokerLogger } from '../src/broker.logger';
import { API_MESSAGES, ApiKey } from '../src/protocol/generated/api-messages.generated';
import { writeMetadataRequest } from '../src/protocol/generated/metadata-request.generated';
import { writeProduceRequest } from '../src/protocol/generated/produce-request.generated';
import { readProduceResponse } from '../src/protocol/generated/produce-response.generated';
import { writeRequestHeader } from '../src/protocol/generated/request-header.generated';
import { ProtocolWriter } from '../src/protocol/protocol-writer';
import { BATCH, crc32c } from '../src/storage/record-batch';
import { encodeBatch, type FixtureRecord } from '../src/storage/record-batch.fixture';
import { startTestBroker, uniqueName, waitFor, type RunningBroker } from '../src/testing';
import { RawKafkaClient } from './raw-kafka.client';

jest.setTimeout(120_000);

let broker: RunningBroker;
const errors: string[] = [];
const capturing: BrokerLogger = {
  info: () => undefined,
  warn: () => undefined,
  error: (msg) => void errors.push(msg),
};

beforeAll(async () => {
  broker = await startTestBroker({ logger: capturing, maxFrameBytes: 1024 * 1024 });
});

afterAll(async () => {
  await broker.stop();
});

function kafka(): Kafka {
  return new Kafka({
    clientId: 'produce-fuzz',
    brokers: [broker.brokers],
    logLevel: logLevel.NOTHING,
  });
}

// ---- record batches ---------------------------------------------------------------------------

const fixtureRecord: fc.Arbitrary<FixtureRecord> = fc.record({
  key: fc.option(fc.string({ maxLength: 12 }), { nil: null }),
  value: fc.option(fc.string({ maxLength: 40 }), { nil: null }),
});

/** Where a mutation lands: a batch header field (any value), or bytes among the records. */
type Mutation =
  | { kind: 'none' }
  | { kind: 'int32'; field: keyof typeof BATCH; value: number }
  | { kind: 'int16'; field: 'attributes' | 'producerEpoch'; value: number }
  | { kind: 'int64'; field: 'baseTimestamp' | 'maxTimestamp' | 'producerId'; value: bigint }
  | { kind: 'byte'; at: number; value: number }
  | { kind: 'cut'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.record({
    kind: fc.constant('int32' as const),
    field: fc.constantFrom(
      'partitionLeaderEpoch',
      'baseSequence',
      'recordCount',
      'lastOffsetDelta',
    ),
    value: fc.oneof(fc.integer(), fc.integer({ min: -2, max: 10 })),
  }),
  // Attributes keep to none and gzip here, whose mutated records kafkajs can read back; snappy,
  // lz4 and zstd have their own property below.
  fc.record({
    kind: fc.constant('int16' as const),
    field: fc.constant('attributes' as const),
    value: fc
      .tuple(fc.constantFrom(0, 1), fc.constantFrom(0, 0x08, 0x10, 0x20, 0x40, 0x7ff8))
      .map(([codec, flags]) => codec | flags),
  }),
  fc.record({
    kind: fc.constant('int16' as const),
    field: fc.constant('producerEpoch' as const),
    value: fc.integer({ min: -32768, max: 32767 }),
  }),
  fc.record({
    kind: fc.constant('int64' as const),
    field: fc.constantFrom(
      'baseTimestamp' as const,
      'maxTimestamp' as const,
      'producerId' as const,
    ),
    value: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  }),
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), value: fc.nat(255) }),
  },
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
);

/** Applies a mutation, then makes the length and CRC honest again. */
function mutate(batch: Buffer, m: Mutation): Buffer {
  let out = Buffer.from(batch);
  const recordsLength = out.length - BATCH.records;
  switch (m.kind) {
    case 'none':
      break;
    case 'int32':
      out.writeInt32BE(m.value, BATCH[m.field]);
      break;
    case 'int16':
      out.writeInt16BE(m.value, BATCH[m.field]);
      break;
    case 'int64':
      out.writeBigInt64BE(m.value, BATCH[m.field]);
      break;
    case 'byte':
      if (recordsLength > 0) out[BATCH.records + (m.at % recordsLength)] = m.value;
      break;
    case 'cut':
      if (recordsLength > 0) out = out.subarray(0, BATCH.records + (m.at % recordsLength));
      break;
    case 'insert': {
      const at = BATCH.records + (m.at % (recordsLength + 1));
      out = Buffer.concat([out.subarray(0, at), Buffer.from(m.bytes), out.subarray(at)]);
      break;
    }
  }
  out.writeInt32BE(out.length - 12, BATCH.batchLength);
  out.writeUInt32BE(crc32c(out, BATCH.attributes), BATCH.crc);
  return out;
}

const producedBatch = fc
  .record({
    records: fc.array(fixtureRecord, { minLength: 1, maxLength: 5 }),
    gzip: fc.boolean(),
    mutations: fc.array(mutation, { minLength: 1, maxLength: 2 }),
  })
  .map(({ records, gzip, mutations }) =>
    mutations.reduce(
      (batch, m) => mutate(batch, m),
      encodeBatch({ records, compression: gzip ? 'gzip' : 'none' }),
    ),
  );

describe('the broker under lying record batches', () => {
  it('stores only batches a kafkajs consumer can read back', async () => {
    const topic = uniqueName('produce-fuzz');
    const admin = kafka().admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();

    const raw = await RawKafkaClient.connect(broker.port);
    let accepted = 0;
    let acceptedRecords = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(producedBatch, async (batch) => {
        const r = await raw.request(ApiKey.Produce, 9, (w) =>
          writeProduceRequest(w, 9, {
            transactionalId: null,
            acks: -1,
            timeoutMs: 5000,
            topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }],
          }),
        );
        const partition = readProduceResponse(r, 9).responses[0]?.partitionResponses[0];
        expect(partition).toBeDefined();
        if (partition!.errorCode === 0) {
          accepted += 1;
          acceptedRecords += batch.readInt32BE(BATCH.recordCount);
        } else {
          refused += 1;
        }
      }),
      { seed: 0xba7c4, numRuns: 500 },
    );
    raw.close();
    expect(accepted).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(20);

    const consumer = kafka().consumer({
      groupId: uniqueName('produce-fuzz-reader'),
      maxWaitTimeInMs: 100,
    });
    const crashes: unknown[] = [];
    consumer.on(consumer.events.CRASH, (event) => crashes.push(event.payload.error.message));
    let received = 0;
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: () => {
        received += 1;
        return Promise.resolve();
      },
    });
    try {
      await waitFor(() => received >= acceptedRecords || crashes.length > 0, {
        what: `${acceptedRecords} records read back (got ${received})`,
        timeoutMs: 30_000,
      });
      expect(crashes).toEqual([]);
      expect(received).toBe(acceptedRecords);
    } finally {
      await consumer.disconnect();
    }
    expect(errors).toEqual([]);
  });

  it('refuses a batch whose record lies inside (negative header count) with CORRUPT_MESSAGE', async () => {
    const batch = encodeBatch({ records: [{ key: 'k', value: 'v' }] });
    // The record ends with its header count, varint 0; zigzag 1 is -1.
    const lying = mutate(batch, { kind: 'byte', at: batch.length - BATCH.records - 1, value: 1 });
    const raw = await RawKafkaClient.connect(broker.port);
    try {
      const r = await raw.request(ApiKey.Produce, 9, (w) =>
        writeProduceRequest(w, 9, {
          transactionalId: null,
          acks: -1,
          timeoutMs: 5000,
          topicData: [
            { name: uniqueName('lying-record'), partitionData: [{ index: 0, records: lying }] },
          ],
        }),
      );
      const partition = readProduceResponse(r, 9).responses[0]?.partitionResponses[0];
      expect(partition).toMatchObject({
        errorCode: 2, // CORRUPT_MESSAGE
        errorMessage: 'record 0 has a broken header count',
      });
    } finally {
      raw.close();
    }
  });

  // Kafka opens compressed batches to check them; so does the broker, for every codec
  // (storage/record-compression.ts), refusing bytes that only claim to be compressed records.
  it('refuses a batch whose snappy, lz4 or zstd payload is not what it claims', async () => {
    const topic = uniqueName('codec-fuzz');
    const raw = await RawKafkaClient.connect(broker.port);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fixtureRecord, { minLength: 1, maxLength: 3 }),
          fc.constantFrom(2, 3, 4),
          async (records, codec) => {
            const batch = mutate(encodeBatch({ records }), {
              kind: 'int16',
              field: 'attributes',
              value: codec,
            });
            const r = await raw.request(ApiKey.Produce, 9, (w) =>
              writeProduceRequest(w, 9, {
                transactionalId: null,
                acks: -1,
                timeoutMs: 5000,
                topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }],
              }),
            );
            const partition = readProduceResponse(r, 9).responses[0]?.partitionResponses[0];
            expect(partition?.errorCode).toBe(2); // CORRUPT_MESSAGE
          },
        ),
        { seed: 0xc0dec, numRuns: 20 },
      );
    } finally {
      raw.close();
    }
  });
});

// ---- pipelining and fragmentation ---------------------------------------------------------------

function frame(
  apiKey: number,
  version: number,
  correlationId: number,
  body: (w: ProtocolWriter) => void,
) {
  const definition = API_MESSAGES.get(apiKey);
  const flexible =
    definition !== undefined &&
    definition.requestFlexibleMin >= 0 &&
    version >= definition.requestFlexibleMin;
  const w = new ProtocolWriter();
  w.reserveSizePrefix();
  writeRequestHeader(w, flexible ? 2 : 1, {
    requestApiKey: apiKey,
    requestApiVersion: version,
    correlationId,
    clientId: 'pipeline-fuzz',
  });
  body(w);
  return Buffer.concat(w.finishFrame());
}

const goodRequest = fc.constantFrom(
  (id: number) => frame(ApiKey.ApiVersions, 0, id, () => undefined),
  (id: number) =>
    frame(ApiKey.ApiVersions, 3, id, (w) => {
      w.writeString('pipeline-fuzz', true);
      w.writeString('1.0', true);
      w.writeUVarInt(0);
    }),
  (id: number) =>
    frame(ApiKey.Metadata, 9, id, (w) =>
      writeMetadataRequest(w, 9, { topics: [], allowAutoTopicCreation: false }),
    ),
  (id: number) =>
    frame(ApiKey.Metadata, 1, id, (w) => writeMetadataRequest(w, 1, { topics: null })),
);

/** Well framed, but an unknown API, a version out of range, or a body that lies. */
const badRequest = fc.oneof(
  fc.tuple(fc.constantFrom(9999, -1, 32767), fc.integer({ min: -1, max: 20 })).map(
    ([key, version]) =>
      (id: number) =>
        frame(key, version, id, () => undefined),
  ),
  fc.constant((id: number) => frame(ApiKey.Metadata, 99, id, () => undefined)),
  fc
    .uint8Array({ maxLength: 40 })
    .map(
      (bytes) => (id: number) =>
        frame(ApiKey.Metadata, 9, id, (w) => w.writeRaw(Buffer.from(bytes))),
    ),
  fc.constant((id: number) => frame(ApiKey.Metadata, 9, id, (w) => w.writeInt32(2 ** 31 - 1))),
);

/** Sends `bytes` in chunks cut at `cuts`; resolves with the correlation ids answered, and whether the broker closed. */
function exchange(
  bytes: Buffer,
  cuts: number[],
  expect: number,
): Promise<{ ids: number[]; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port: broker.port, host: '127.0.0.1' });
    const ids: number[] = [];
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close and only ${ids.length}/${expect} answers after 10 s`));
    }, 10_000);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        ids.push(buffered.readInt32BE(4));
        buffered = buffered.subarray(4 + buffered.readInt32BE(0));
      }
      if (ids.length === expect) {
        clearTimeout(timer);
        socket.destroy();
        resolve({ ids, closed: false });
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ ids, closed: true });
    });
    socket.on('connect', () => {
      const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
      let from = 0;
      const writeNext = (index: number) => {
        const to = points[index] ?? bytes.length;
        socket.write(bytes.subarray(from, to));
        from = to;
        if (to < bytes.length) setTimeout(() => writeNext(index + 1), 1);
      };
      writeNext(0);
    });
  });
}

describe('the broker under pipelined and fragmented requests', () => {
  it('answers valid requests in order, whatever the chunking, and closes rather than hangs on a bad one', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(goodRequest, { minLength: 1, maxLength: 6 }),
        fc.option(fc.tuple(badRequest, fc.nat()), { freq: 2 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        async (goods, bad, cuts) => {
          const frames = goods.map((make, i) => make(i + 1));
          const badAt = bad === null ? -1 : bad[1] % (frames.length + 1);
          if (bad !== null) frames.splice(badAt, 0, bad[0](1000));
          const expected = frames.length;
          const { ids, closed } = await exchange(Buffer.concat(frames), cuts, expected);
          const goodIds = goods.map((_, i) => i + 1);
          if (bad === null) {
            expect({ ids, closed }).toEqual({ ids: goodIds, closed: false });
            return;
          }
          // Everything before the bad frame is answered, in order; the bad frame gets an error
          // answer (then the rest) or the connection is closed.
          const before = goodIds.slice(0, badAt);
          expect(ids.slice(0, before.length)).toEqual(before);
          if (!closed) expect(ids).toEqual([...before, 1000, ...goodIds.slice(badAt)]);
        },
      ),
      { seed: 0x919e, numRuns: 200 },
    );
    // The broker still serves a real client.
    const producer = kafka().producer();
    await producer.connect();
    await producer.send({ topic: uniqueName('after-pipeline'), messages: [{ value: 'ok' }] });
    await producer.disconnect();
    expect(errors).toEqual([]);
  });
});
