// Hostile input: random, truncated and lying frames are thrown at the broker while a kafkajs
// producer and consumer keep working on their own connections.
import { connect } from 'node:net';
import fc from 'fast-check';
import { Kafka, logLevel } from 'kafkajs';
import { API_MESSAGES, ApiKey } from '../src/protocol/generated/api-messages.generated';
import { writeCreateTopicsRequest } from '../src/protocol/generated/create-topics-request.generated';
import { writeFetchRequest } from '../src/protocol/generated/fetch-request.generated';
import { writeJoinGroupRequest } from '../src/protocol/generated/join-group-request.generated';
import { writeMetadataRequest } from '../src/protocol/generated/metadata-request.generated';
import { writeOffsetCommitRequest } from '../src/protocol/generated/offset-commit-request.generated';
import { writeProduceRequest } from '../src/protocol/generated/produce-request.generated';
import { writeRequestHeader } from '../src/protocol/generated/request-header.generated';
import { ProtocolWriter } from '../src/protocol/protocol-writer';
import { encodeBatch } from '../src/storage/record-batch.fixture';
import type { BrokerLogger } from '../src/broker.logger';
import { startTestBroker, uniqueName, waitFor, type RunningBroker } from '../src/testing';

let broker: RunningBroker;
const warnings: string[] = [];
const capturing: BrokerLogger = {
  info: () => undefined,
  warn: (msg) => void warnings.push(msg),
  error: (msg) => void warnings.push(`error: ${msg}`),
};

beforeAll(async () => {
  // A mutated Fetch may ask to wait minutes for data; the cap keeps the probe behind it answered.
  broker = await startTestBroker({
    logger: capturing,
    maxFrameBytes: 1024 * 1024,
    maxFetchWaitMs: 1000,
  });
});

afterAll(async () => {
  await broker.stop();
});

/** A whole request (without size prefix) as a well-behaved client would send it. */
function request(apiKey: number, version: number, writeBody: (w: ProtocolWriter) => void): Buffer {
  const definition = API_MESSAGES.get(apiKey);
  const flexible =
    definition !== undefined &&
    definition.requestFlexibleMin >= 0 &&
    version >= definition.requestFlexibleMin;
  const w = new ProtocolWriter();
  writeRequestHeader(w, flexible ? 2 : 1, {
    requestApiKey: apiKey,
    requestApiVersion: version,
    correlationId: 7,
    clientId: 'fuzz',
  });
  writeBody(w);
  return w.toBuffer();
}

const VALID_REQUESTS: Buffer[] = [
  request(ApiKey.Metadata, 9, (w) =>
    writeMetadataRequest(w, 9, { topics: [{ name: 'fuzz-topic' }], allowAutoTopicCreation: true }),
  ),
  request(ApiKey.Produce, 9, (w) =>
    writeProduceRequest(w, 9, {
      transactionalId: null,
      acks: 1,
      timeoutMs: 1000,
      topicData: [
        {
          name: 'fuzz-topic',
          partitionData: [{ index: 0, records: encodeBatch({ records: [{ value: 'x' }] }) }],
        },
      ],
    }),
  ),
  request(ApiKey.Fetch, 12, (w) =>
    writeFetchRequest(w, 12, {
      replicaId: -1,
      maxWaitMs: 10,
      minBytes: 1,
      maxBytes: 1000,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        {
          topic: 'fuzz-topic',
          partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1000 }],
        },
      ],
      forgottenTopicsData: [],
      rackId: '',
    }),
  ),
  request(ApiKey.JoinGroup, 6, (w) =>
    writeJoinGroupRequest(w, 6, {
      groupId: 'fuzz-group',
      sessionTimeoutMs: 6000,
      rebalanceTimeoutMs: 100,
      memberId: '',
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: Buffer.from([0, 1]) }],
    }),
  ),
  request(ApiKey.OffsetCommit, 2, (w) =>
    writeOffsetCommitRequest(w, 2, {
      groupId: 'fuzz-group',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      retentionTimeMs: -1n,
      topics: [
        {
          name: 'fuzz-topic',
          partitions: [{ partitionIndex: 0, committedOffset: 1n, committedMetadata: null }],
        },
      ],
    }),
  ),
  request(ApiKey.CreateTopics, 5, (w) =>
    writeCreateTopicsRequest(w, 5, {
      topics: [
        {
          name: 'fuzz-created',
          numPartitions: 1,
          replicationFactor: 1,
          assignments: [],
          configs: [],
        },
      ],
      timeoutMs: 1000,
      validateOnly: true,
    }),
  ),
];

function sizePrefixed(body: Buffer): Buffer {
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(body.length);
  return Buffer.concat([prefix, body]);
}

const API_VERSIONS_PROBE = sizePrefixed(request(ApiKey.ApiVersions, 0, () => undefined));

/** A frame whose size prefix is honest but whose contents are not. */
const framedGarbage = fc
  .oneof(
    fc.uint8Array({ minLength: 0, maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
    fc
      .tuple(fc.constantFrom(...VALID_REQUESTS), fc.nat())
      .map(([valid, cut]) => valid.subarray(0, cut % valid.length)),
    fc
      .tuple(fc.constantFrom(...VALID_REQUESTS), fc.nat(), fc.integer({ min: 0, max: 255 }))
      .map(([valid, at, byte]) => {
        const copy = Buffer.from(valid);
        copy[at % copy.length] = byte;
        return copy;
      }),
    fc
      .tuple(
        fc.constantFrom(...[...API_MESSAGES.keys()], 9999),
        fc.integer({ min: -1, max: 20 }),
        fc.uint8Array({ maxLength: 200 }),
      )
      .map(([apiKey, version, body]) => {
        const header = Buffer.alloc(8);
        header.writeInt16BE(apiKey, 0);
        header.writeInt16BE(version, 2);
        header.writeInt32BE(1, 4);
        return Buffer.concat([header, Buffer.from(body)]);
      }),
  )
  .map(sizePrefixed);

/** Bytes with no trustworthy framing at all, including absurd size prefixes. */
const rawGarbage = fc
  .uint8Array({ minLength: 1, maxLength: 64 })
  .map((bytes) => Buffer.from(bytes));

/** Sends `bytes`, then probes with ApiVersions: either it is answered or the broker hangs up. */
function survive(bytes: Buffer, probe: boolean): Promise<'answered' | 'closed'> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port: broker.port, host: '127.0.0.1' }, () => {
      socket.write(bytes);
      if (probe) socket.write(API_VERSIONS_PROBE);
      else socket.end();
    });
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer and no close for ${bytes.toString('hex')}`));
    }, 10_000);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      // Answers to the fuzz frame itself may come first; ours carries correlation id 7 too,
      // so any complete response means the connection is still being served.
      if (received.length >= 4 && received.length >= 4 + received.readInt32BE(0)) {
        clearTimeout(timer);
        socket.destroy();
        resolve('answered');
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve('closed');
    });
  });
}

it('keeps serving a kafkajs client while garbage arrives on other connections', async () => {
  const kafka = new Kafka({
    clientId: 'fuzz-bystander',
    brokers: [broker.brokers],
    logLevel: logLevel.NOTHING,
  });
  const topic = uniqueName('bystander');
  const producer = kafka.producer();
  const consumer = kafka.consumer({
    groupId: uniqueName('bystander-group'),
    maxWaitTimeInMs: 100,
    heartbeatInterval: 200,
  });
  try {
    await producer.connect();
    await consumer.connect();
    await producer.send({ topic, messages: [{ value: 'before' }] });
    await consumer.subscribe({ topic, fromBeginning: true });
    const received: string[] = [];
    await consumer.run({
      eachMessage: ({ message }) => {
        received.push(String(message.value));
        return Promise.resolve();
      },
    });

    let produced = 1;
    const outcomes = { answered: 0, closed: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          framedGarbage.map((b) => ({ bytes: b, probe: true })),
          rawGarbage.map((b) => ({ bytes: b, probe: false })),
        ),
        async ({ bytes, probe }) => {
          outcomes[await survive(bytes, probe)]++;
          if (
            outcomes.answered + outcomes.closed === 1 ||
            (outcomes.answered + outcomes.closed) % 25 === 0
          ) {
            await producer.send({ topic, messages: [{ value: `during-${produced}` }] });
            produced++;
          }
        },
      ),
      // Fixed seed so CI is repeatable; FUZZ_SEED and FUZZ_RUNS explore further by hand.
      // endOnFailure: shrinking a hang costs 10 s a step, so report the first counterexample.
      {
        seed: Number(process.env.FUZZ_SEED ?? 0xf0221),
        numRuns: Number(process.env.FUZZ_RUNS ?? 400),
        endOnFailure: true,
      },
    );
    await producer.send({ topic, messages: [{ value: 'after' }] });
    produced++;
    await waitFor(() => received.length >= produced, { what: `${produced} bystander records` });
    expect(received[0]).toBe('before');
    expect(received[received.length - 1]).toBe('after');
    expect(received).toHaveLength(produced);
    expect(outcomes.answered).toBeGreaterThan(0);
    expect(outcomes.closed).toBeGreaterThan(0);
    expect(warnings.filter((w) => w.startsWith('error:'))).toEqual([]);
    expect(warnings).toContain('closing connection');
  } finally {
    // A failure must not leave kafkajs reconnecting after Jest tears down.
    await consumer.disconnect();
    await producer.disconnect();
  }
}, 90_000);
