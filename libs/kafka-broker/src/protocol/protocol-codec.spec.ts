import { API_MESSAGES } from './generated/api-messages.generated';
import { ITEM_ERROR_RESPONSES } from './generated/item-error-responses.generated';
import { readApiVersionsRequest } from './generated/api-versions-request.generated';
import {
  apiVersionsResponseVersions,
  readApiVersionsResponse,
  writeApiVersionsResponse,
  type ApiVersionsResponse,
} from './generated/api-versions-response.generated';
import {
  fetchResponseVersions,
  readFetchResponse,
  writeFetchResponse,
  type FetchResponse,
} from './generated/fetch-response.generated';
import {
  joinGroupRequestVersions,
  readJoinGroupRequest,
  writeJoinGroupRequest,
  type JoinGroupRequest,
} from './generated/join-group-request.generated';
import {
  metadataResponseVersions,
  readMetadataResponse,
  writeMetadataResponse,
  type MetadataResponse,
} from './generated/metadata-response.generated';
import {
  produceRequestVersions,
  readProduceRequest,
  writeProduceRequest,
  type ProduceRequest,
} from './generated/produce-request.generated';
import { readRequestHeader, writeRequestHeader } from './generated/request-header.generated';
import { ProtocolReader } from './protocol-reader';
import { ProtocolWriter } from './protocol-writer';
import { ProtocolDecodeError } from './protocol.errors';

type Codec<T> = {
  name: string;
  versions: { min: number; max: number };
  write: (w: ProtocolWriter, version: number, value: T) => void;
  read: (r: ProtocolReader, version: number) => T;
  sample: T;
};

function encode<T>(codec: Codec<T>, version: number, value: T): Buffer {
  const w = new ProtocolWriter(16);
  codec.write(w, version, value);
  return w.toBuffer();
}

const records = Buffer.alloc(5000, 7);

const produce: Codec<ProduceRequest> = {
  name: 'ProduceRequest',
  versions: produceRequestVersions,
  write: writeProduceRequest,
  read: readProduceRequest,
  sample: {
    transactionalId: null,
    acks: -1,
    timeoutMs: 30000,
    topicData: [{ name: 'orders', partitionData: [{ index: 2, records }] }],
  },
};

const fetch: Codec<FetchResponse> = {
  name: 'FetchResponse',
  versions: fetchResponseVersions,
  write: writeFetchResponse,
  read: readFetchResponse,
  sample: {
    throttleTimeMs: 1,
    errorCode: 0,
    sessionId: 0,
    responses: [
      {
        topic: 'orders',
        topicId: Buffer.alloc(16, 3),
        partitions: [
          {
            partitionIndex: 0,
            errorCode: 0,
            highWatermark: 42n,
            lastStableOffset: 42n,
            logStartOffset: 0n,
            abortedTransactions: null,
            preferredReadReplica: -1,
            currentLeader: { leaderId: 1, leaderEpoch: 5 },
            records: Buffer.from('batch-bytes'),
          },
        ],
      },
    ],
    nodeEndpoints: [{ nodeId: 1, host: 'localhost', port: 9092, rack: null }],
  },
};

const metadata: Codec<MetadataResponse> = {
  name: 'MetadataResponse',
  versions: { min: 1, max: metadataResponseVersions.max },
  write: writeMetadataResponse,
  read: readMetadataResponse,
  sample: {
    throttleTimeMs: 0,
    brokers: [{ nodeId: 1, host: 'h', port: 1, rack: null }],
    clusterId: 'c',
    controllerId: 1,
    topics: [
      {
        errorCode: 0,
        name: 't',
        topicId: Buffer.alloc(16, 9),
        isInternal: false,
        partitions: [
          {
            errorCode: 0,
            partitionIndex: 0,
            leaderId: 1,
            leaderEpoch: 0,
            replicaNodes: [1],
            isrNodes: [1],
            offlineReplicas: [],
          },
        ],
        topicAuthorizedOperations: -2147483648,
      },
    ],
    clusterAuthorizedOperations: -2147483648,
  },
};

const join: Codec<JoinGroupRequest> = {
  name: 'JoinGroupRequest',
  versions: joinGroupRequestVersions,
  write: writeJoinGroupRequest,
  read: readJoinGroupRequest,
  sample: {
    groupId: 'g',
    sessionTimeoutMs: 10000,
    rebalanceTimeoutMs: 20000,
    memberId: 'm-1',
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from([1, 2, 3]) }],
    reason: 'because',
  },
};

const apiVersions: Codec<ApiVersionsResponse> = {
  name: 'ApiVersionsResponse',
  versions: apiVersionsResponseVersions,
  write: writeApiVersionsResponse,
  read: readApiVersionsResponse,
  sample: {
    errorCode: 0,
    apiKeys: [{ apiKey: 0, minVersion: 3, maxVersion: 11 }],
    throttleTimeMs: 0,
    finalizedFeaturesEpoch: 5n,
    zkMigrationReady: true,
  },
};

describe.each([produce, fetch, metadata, join, apiVersions] as Codec<unknown>[])(
  '$name',
  (codec) => {
    const versions = Array.from(
      { length: codec.versions.max - codec.versions.min + 1 },
      (_, i) => codec.versions.min + i,
    );
    it.each(versions)('round-trips version %i byte for byte', (version) => {
      const bytes = encode(codec, version, codec.sample);
      const r = new ProtocolReader(bytes);
      const decoded = codec.read(r, version);
      expect(r.remaining).toBe(0);
      expect(encode(codec, version, decoded)).toEqual(bytes);
    });
  },
);

describe('generated codecs', () => {
  it('keep version-specific fields only where the version has them', () => {
    const v4 = readFetchResponse(new ProtocolReader(encode(fetch, 4, fetch.sample)), 4);
    const v13 = readFetchResponse(new ProtocolReader(encode(fetch, 13, fetch.sample)), 13);
    expect(v4.responses[0]?.topic).toBe('orders');
    expect(v4.responses[0]?.partitions[0]?.logStartOffset).toBe(-1n);
    expect(v4.nodeEndpoints).toBeUndefined();
    expect(v13.responses[0]?.topicId).toEqual(Buffer.alloc(16, 3));
    expect(v13.responses[0]?.partitions[0]?.currentLeader).toEqual({ leaderId: 1, leaderEpoch: 5 });
    expect(
      readFetchResponse(new ProtocolReader(encode(fetch, 16, fetch.sample)), 16).nodeEndpoints,
    ).toHaveLength(1);
  });

  it('pass large record sets through without copying them', () => {
    const w = new ProtocolWriter();
    writeProduceRequest(w, 9, produce.sample);
    expect(w.finish()).toContain(records);
  });

  it('write the request header as protocol.html describes (v2: nullable int16 client id, then tagged fields)', () => {
    const w = new ProtocolWriter();
    writeRequestHeader(w, 2, {
      requestApiKey: 18,
      requestApiVersion: 3,
      correlationId: 1,
      clientId: 'a',
    });
    expect(w.toBuffer().toString('hex')).toBe('001200030000000100016100');
    expect(readRequestHeader(new ProtocolReader(w.toBuffer()), 2)).toEqual({
      requestApiKey: 18,
      requestApiVersion: 3,
      correlationId: 1,
      clientId: 'a',
    });
  });

  it('skip tagged fields they do not know', () => {
    // compact "kcat", compact "1.7", then one tagged field (tag 99, 3 bytes).
    const bytes = Buffer.from([
      5,
      ...Buffer.from('kcat'),
      4,
      ...Buffer.from('1.7'),
      1,
      99,
      3,
      0xaa,
      0xbb,
      0xcc,
    ]);
    const r = new ProtocolReader(bytes);
    expect(readApiVersionsRequest(r, 3)).toEqual({
      clientSoftwareName: 'kcat',
      clientSoftwareVersion: '1.7',
    });
    expect(r.remaining).toBe(0);
  });

  it('refuse truncated input and absurd array lengths instead of allocating', () => {
    const bytes = encode(produce, 7, produce.sample);
    expect(() =>
      readProduceRequest(new ProtocolReader(bytes.subarray(0, bytes.length - 1)), 7),
    ).toThrow(ProtocolDecodeError);
    const absurd = Buffer.from([0xff, 0xff, 0, 1, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]);
    expect(() => readProduceRequest(new ProtocolReader(absurd), 7)).toThrow(
      /array of 2147483647 items/,
    );
  });
});

describe('answers to requests the broker does not serve', () => {
  it('has one for every API Kafka defines: a top-level error code, or one for each item', () => {
    const unanswerable = [...API_MESSAGES.values()]
      .filter((d) => d.writeErrorResponse === undefined && !ITEM_ERROR_RESPONSES.has(d.apiKey))
      .map((d) => d.name);
    expect(unanswerable).toEqual([]);
  });
});
