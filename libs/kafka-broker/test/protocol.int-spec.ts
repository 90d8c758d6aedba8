// The broker at the byte level: version negotiation, unsupported requests, idempotence, long
// polls and corrupt input, driven by a raw client.
import { ApiKey } from '../src/protocol/generated/api-messages.generated';
import { readApiVersionsResponse } from '../src/protocol/generated/api-versions-response.generated';
import { writeCreateAclsRequest } from '../src/protocol/generated/create-acls-request.generated';
import { readCreateAclsResponse } from '../src/protocol/generated/create-acls-response.generated';
import { writeDeleteRecordsRequest } from '../src/protocol/generated/delete-records-request.generated';
import { readDeleteRecordsResponse } from '../src/protocol/generated/delete-records-response.generated';
import { writeDescribeAclsRequest } from '../src/protocol/generated/describe-acls-request.generated';
import { readDescribeAclsResponse } from '../src/protocol/generated/describe-acls-response.generated';
import { writeFetchRequest } from '../src/protocol/generated/fetch-request.generated';
import { readFetchResponse } from '../src/protocol/generated/fetch-response.generated';
import { writeInitProducerIdRequest } from '../src/protocol/generated/init-producer-id-request.generated';
import { readInitProducerIdResponse } from '../src/protocol/generated/init-producer-id-response.generated';
import { writeProduceRequest } from '../src/protocol/generated/produce-request.generated';
import { readProduceResponse } from '../src/protocol/generated/produce-response.generated';
import { writeMetadataRequest } from '../src/protocol/generated/metadata-request.generated';
import { KafkaErrorCode } from '../src/protocol/protocol.errors';
import type { ProtocolWriter } from '../src/protocol/protocol-writer';
import { encodeBatch, zstdRawFrame } from '../src/storage/record-batch.fixture';
import { Compression } from '../src/storage/record-compression';
import { startTestBroker, uniqueName, type RunningBroker } from '../src/testing';
import { RawKafkaClient } from './raw-kafka.client';

let broker: RunningBroker;
const clients: RawKafkaClient[] = [];

async function client(): Promise<RawKafkaClient> {
  const c = await RawKafkaClient.connect(broker.port);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  broker = await startTestBroker({ maxFrameBytes: 1024 * 1024 });
});

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

afterAll(async () => {
  await broker.stop();
});

async function produce(
  c: RawKafkaClient,
  topic: string,
  batch: Buffer,
  version = 7,
): Promise<{ errorCode: number; baseOffset: bigint }> {
  const r = await c.request(ApiKey.Produce, version, (w) =>
    writeProduceRequest(w, version, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }],
    }),
  );
  const partition = readProduceResponse(r, version).responses[0]?.partitionResponses[0];
  return { errorCode: partition?.errorCode ?? -99, baseOffset: partition?.baseOffset ?? -99n };
}

/** A Fetch v11 of `topic` partition 0 from offset 0 that waits up to `maxWaitMs` for one byte. */
function writeLongFetch(w: ProtocolWriter, topic: string, maxWaitMs: number): void {
  writeFetchRequest(w, 11, {
    replicaId: -1,
    maxWaitMs,
    minBytes: 1,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic,
        partitions: [
          {
            partition: 0,
            currentLeaderEpoch: -1,
            fetchOffset: 0n,
            logStartOffset: -1n,
            partitionMaxBytes: 1 << 20,
          },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
  });
}

describe('protocol', () => {
  it('answers every ApiVersions version it knows, and an unknown one in v0 with UNSUPPORTED_VERSION', async () => {
    const c = await client();
    for (let version = 0; version <= 4; version++) {
      const r = await c.request(ApiKey.ApiVersions, version, (w) => {
        if (version >= 3) {
          w.writeString('raw-test', true);
          w.writeString('1.0', true);
          w.writeUVarInt(0);
        }
      });
      const response = readApiVersionsResponse(r, version);
      expect(response.errorCode).toBe(0);
      expect(response.apiKeys.find((k) => k.apiKey === ApiKey.Fetch)).toEqual({
        apiKey: ApiKey.Fetch,
        minVersion: 4,
        maxVersion: 13,
      });
    }
    const r = await c.request(ApiKey.ApiVersions, 99, () => undefined);
    const fallback = readApiVersionsResponse(r, 0);
    expect(fallback.errorCode).toBe(KafkaErrorCode.UNSUPPORTED_VERSION);
    expect(fallback.apiKeys.find((k) => k.apiKey === ApiKey.ApiVersions)?.maxVersion).toBe(4);
  });

  it('answers an API it does not serve with UNSUPPORTED_VERSION and keeps the connection', async () => {
    const c = await client();
    const r = await c.request(ApiKey.DescribeAcls, 1, (w) =>
      writeDescribeAclsRequest(w, 1, {
        resourceTypeFilter: 1,
        resourceNameFilter: null,
        patternTypeFilter: 3,
        principalFilter: null,
        hostFilter: null,
        operation: 1,
        permissionType: 1,
      }),
    );
    expect(readDescribeAclsResponse(r, 1).errorCode).toBe(KafkaErrorCode.UNSUPPORTED_VERSION);
    const again = await c.request(ApiKey.ApiVersions, 0, () => undefined);
    expect(readApiVersionsResponse(again, 0).errorCode).toBe(0);
  });

  it('answers each item of a request it does not serve when the response has no top-level error code', async () => {
    const c = await client();
    const deleted = readDeleteRecordsResponse(
      await c.request(ApiKey.DeleteRecords, 2, (w) =>
        writeDeleteRecordsRequest(w, 2, {
          topics: [
            {
              name: 'orders',
              partitions: [
                { partitionIndex: 3, offset: 5n },
                { partitionIndex: 4, offset: 6n },
              ],
            },
          ],
          timeoutMs: 1000,
        }),
      ),
      2,
    );
    expect(deleted.topics).toEqual([
      {
        name: 'orders',
        partitions: [3, 4].map((partitionIndex) => ({
          partitionIndex,
          lowWatermark: 0n,
          errorCode: KafkaErrorCode.UNSUPPORTED_VERSION,
        })),
      },
    ]);
    // Request and response name their lists differently (creations, results): one answer each.
    const acl = {
      resourceType: 2,
      resourceName: 'orders',
      resourcePatternType: 3,
      principal: 'User:a',
      host: '*',
      operation: 3,
      permissionType: 3,
    };
    const created = readCreateAclsResponse(
      await c.request(ApiKey.CreateAcls, 3, (w) =>
        writeCreateAclsRequest(w, 3, { creations: [acl, { ...acl, principal: 'User:b' }] }),
      ),
      3,
    );
    expect(created.results).toEqual([
      {
        errorCode: KafkaErrorCode.UNSUPPORTED_VERSION,
        errorMessage: expect.stringContaining('does not serve'),
      },
      {
        errorCode: KafkaErrorCode.UNSUPPORTED_VERSION,
        errorMessage: expect.stringContaining('does not serve'),
      },
    ]);
    // A version of a served API below what it serves (Produce before record batches v2).
    const produced = readProduceResponse(
      await c.request(ApiKey.Produce, 2, (w) =>
        writeProduceRequest(w, 2, {
          transactionalId: null,
          acks: -1,
          timeoutMs: 1000,
          topicData: [{ name: 'orders', partitionData: [{ index: 1, records: null }] }],
        }),
      ),
      2,
    );
    expect(produced.responses[0]?.partitionResponses[0]).toMatchObject({
      index: 1,
      errorCode: KafkaErrorCode.UNSUPPORTED_VERSION,
    });
    const again = await c.request(ApiKey.ApiVersions, 0, () => undefined);
    expect(readApiVersionsResponse(again, 0).errorCode).toBe(0);
  });

  it('answers an API key or version Kafka does not define with UNSUPPORTED_VERSION and the versions it serves, keeping the connection', async () => {
    const c = await client();
    for (const [apiKey, version] of [
      [9999, 0],
      [ApiKey.DescribeAcls, 99],
    ] as const) {
      const answer = readApiVersionsResponse(await c.request(apiKey, version, () => undefined), 0);
      expect(answer.errorCode).toBe(KafkaErrorCode.UNSUPPORTED_VERSION);
      expect(answer.apiKeys.find((k) => k.apiKey === ApiKey.Fetch)?.maxVersion).toBe(13);
    }
    const again = await c.request(ApiKey.ApiVersions, 0, () => undefined);
    expect(readApiVersionsResponse(again, 0).errorCode).toBe(0);
  });

  it('closes only the connection that sends a request that does not decode or an oversized frame', async () => {
    const healthy = await client();
    const garbage = await client();
    await expect(garbage.request(ApiKey.Produce, 2, (w) => w.writeInt16(1))).rejects.toThrow(
      'connection closed',
    );
    const huge = await client();
    const header = Buffer.alloc(12);
    header.writeInt32BE(64 * 1024 * 1024, 0);
    huge.writeRaw(header);
    await huge.closed;
    const r = await healthy.request(ApiKey.ApiVersions, 0, () => undefined);
    expect(readApiVersionsResponse(r, 0).errorCode).toBe(0);
  });

  it('drops a retried idempotent batch, answering with its original offset, and refuses a sequence gap', async () => {
    const c = await client();
    const topic = uniqueName('idempotent');
    const init = readInitProducerIdResponse(
      await c.request(ApiKey.InitProducerId, 1, (w) =>
        writeInitProducerIdRequest(w, 1, { transactionalId: null, transactionTimeoutMs: 60000 }),
      ),
      1,
    );
    expect(init.errorCode).toBe(0);
    const batch = (baseSequence: number, prefix: string) =>
      encodeBatch({
        records: [{ value: `${prefix}-0` }, { value: `${prefix}-1` }],
        producerId: init.producerId,
        producerEpoch: init.producerEpoch,
        baseSequence,
      });

    await produce(c, uniqueName('warmup'), encodeBatch({ records: [{ value: 'x' }] }));
    expect(await produce(c, topic, batch(0, 'a'))).toEqual({ errorCode: 0, baseOffset: 0n });
    expect(await produce(c, topic, batch(2, 'b'))).toEqual({ errorCode: 0, baseOffset: 2n });
    // The retry of the first batch is acknowledged with its offsets and not stored again.
    expect(await produce(c, topic, batch(0, 'a'))).toEqual({ errorCode: 0, baseOffset: 0n });
    expect((await produce(c, topic, batch(9, 'gap'))).errorCode).toBe(
      KafkaErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    );
    expect(await produce(c, topic, batch(4, 'c'))).toEqual({ errorCode: 0, baseOffset: 4n });
  });

  it('sends nothing back for acks=0 and keeps answering later requests in order', async () => {
    const c = await client();
    const topic = uniqueName('acks0');
    // Pipelined: an acks=0 produce, then ApiVersions; only the second gets a response.
    const silent = c.request(ApiKey.Produce, 7, (w) =>
      writeProduceRequest(w, 7, {
        transactionalId: null,
        acks: 0,
        timeoutMs: 1000,
        topicData: [
          {
            name: topic,
            partitionData: [
              { index: 0, records: encodeBatch({ records: [{ value: 'fire-and-forget' }] }) },
            ],
          },
        ],
      }),
    );
    silent.catch(() => undefined);
    const answered = await c.request(ApiKey.ApiVersions, 0, () => undefined);
    expect(readApiVersionsResponse(answered, 0).errorCode).toBe(0);
    expect(await produce(c, topic, encodeBatch({ records: [{ value: 'acked' }] }))).toEqual({
      errorCode: 0,
      baseOffset: 1n,
    });
  });

  it('refuses a batch whose CRC does not match', async () => {
    const c = await client();
    const batch = encodeBatch({ records: [{ value: 'good' }] });
    batch.writeUInt8(batch.readUInt8(batch.length - 3) ^ 0xff, batch.length - 3);
    expect((await produce(c, uniqueName('crc'), batch)).errorCode).toBe(
      KafkaErrorCode.CORRUPT_MESSAGE,
    );
  });

  it('refuses at once, with CORRUPT_MESSAGE, a zstd batch whose frame declares a 1.9 GiB window', async () => {
    const c = await client();
    const bomb = encodeBatch({
      records: [{ value: 'tiny' }],
      compression: {
        codec: Compression.zstd,
        compress: (records) => zstdRawFrame(records, { windowDescriptor: (20 << 3) | 7 }),
      },
    });
    expect(bomb.length).toBeLessThan(100);
    const started = Date.now();
    // Opening it would have taken 1.9 GiB and seconds of the event loop.
    expect((await produce(c, uniqueName('zstd-window'), bomb)).errorCode).toBe(
      KafkaErrorCode.CORRUPT_MESSAGE,
    );
    expect(Date.now() - started).toBeLessThan(2000);
    const other = await client();
    const r = await other.request(ApiKey.ApiVersions, 0, () => undefined);
    expect(readApiVersionsResponse(r, 0).errorCode).toBe(0);
  });

  it('wakes a long-polling fetch when a record arrives', async () => {
    const c = await client();
    const producer = await client();
    const topic = uniqueName('longpoll');
    await c.request(ApiKey.Metadata, 4, (w) =>
      writeMetadataRequest(w, 4, { topics: [{ name: topic }], allowAutoTopicCreation: true }),
    );
    const started = Date.now();
    const fetching = c.request(ApiKey.Fetch, 11, (w) => writeLongFetch(w, topic, 20_000));
    await produce(producer, topic, encodeBatch({ records: [{ value: 'wake-up' }] }));
    const response = readFetchResponse(await fetching, 11);
    const partition = response.responses[0]?.partitions[0];
    expect(partition?.records?.length).toBeGreaterThan(0);
    expect(partition?.highWatermark).toBe(1n);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('reads no further than the next whole frame while a long-polling fetch is in progress', async () => {
    const c = await client();
    const topic = uniqueName('flood');
    await c.request(ApiKey.Metadata, 4, (w) =>
      writeMetadataRequest(w, 4, { topics: [{ name: topic }], allowAutoTopicCreation: true }),
    );
    // Frames of 1 MiB (the broker's maxFrameBytes), 256 MiB of them, behind a fetch waiting 3 s.
    const frame = Buffer.alloc(1 << 20, 0x01);
    frame.writeInt32BE(frame.length - 4);
    const flood = Buffer.concat([frame, frame, frame, frame]);
    const fetching = c.request(ApiKey.Fetch, 11, (w) => writeLongFetch(w, topic, 3000));
    for (let i = 0; i < 64; i++) c.writeRaw(flood);
    await fetching;
    // What the broker took: the frame after the fetch and what the kernels buffer (4 MiB in all
    // here). It used to read all 256 MiB into memory.
    const taken = 64 * flood.length - c.unsentBytes;
    expect(taken).toBeLessThan(64 << 20);
  });

  it('answers requests pipelined behind a long-polling fetch, in order', async () => {
    const c = await client();
    const topic = uniqueName('pipelined');
    await c.request(ApiKey.Metadata, 4, (w) =>
      writeMetadataRequest(w, 4, { topics: [{ name: topic }], allowAutoTopicCreation: true }),
    );
    const fetching = c.request(ApiKey.Fetch, 11, (w) => writeLongFetch(w, topic, 300));
    const answered: number[] = [];
    const pipelined = Array.from({ length: 200 }, (_, i) =>
      c
        .request(ApiKey.Metadata, 4, (w) =>
          writeMetadataRequest(w, 4, { topics: [{ name: topic }], allowAutoTopicCreation: false }),
        )
        .then(() => answered.push(i)),
    );
    await fetching;
    await Promise.all(pipelined);
    expect(answered).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it('answers a Fetch that asks to wait for weeks empty once maxFetchWaitMs has passed', async () => {
    const capped = await startTestBroker({ maxFetchWaitMs: 200 });
    const c = await RawKafkaClient.connect(capped.port);
    try {
      const topic = uniqueName('capped-wait');
      await c.request(ApiKey.Metadata, 4, (w) =>
        writeMetadataRequest(w, 4, { topics: [{ name: topic }], allowAutoTopicCreation: true }),
      );
      const response = readFetchResponse(
        await c.request(ApiKey.Fetch, 11, (w) => writeLongFetch(w, topic, 2 ** 31 - 1)),
        11,
      );
      const partition = response.responses[0]?.partitions[0];
      expect(partition?.errorCode).toBe(KafkaErrorCode.NONE);
      expect(partition?.highWatermark).toBe(0n);
      expect(partition?.records?.length ?? 0).toBe(0);
    } finally {
      c.close();
      await capped.stop();
    }
  });
});
