// SASL/PLAIN: clients authenticate before anything else; wrong credentials are refused.
import { execFile } from 'node:child_process';
import { Kafka, logLevel } from 'kafkajs';
import { ApiKey } from '../src/protocol/generated/api-messages.generated';
import { readSaslHandshakeResponse } from '../src/protocol/generated/sasl-handshake-response.generated';
import { RawKafkaClient } from './raw-kafka.client';
import { startTestBroker, uniqueName, type RunningBroker } from '../src/testing';

let broker: RunningBroker;

/** kcat must run asynchronously: the broker it talks to lives in this process. */
function kcat(args: string[]): Promise<{ status: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      'kcat',
      ['-b', broker.brokers, ...args],
      { encoding: 'utf8', timeout: 20_000 },
      (error, stdout) => {
        resolve({ status: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout });
      },
    );
  });
}

beforeAll(async () => {
  broker = await startTestBroker({ saslPlainUsers: { alice: 'secret' } });
});

afterAll(async () => {
  await broker.stop();
});

function kafka(password: string): Kafka {
  return new Kafka({
    clientId: 'sasl-test',
    brokers: [broker.brokers],
    logLevel: logLevel.NOTHING,
    sasl: { mechanism: 'plain', username: 'alice', password },
    retry: { retries: 0 },
  });
}

describe('SASL/PLAIN', () => {
  it('lets kafkajs in with the right password', async () => {
    const admin = kafka('secret').admin();
    await admin.connect();
    const topic = uniqueName('sasl');
    await admin.createTopics({ topics: [{ topic }] });
    expect(await admin.listTopics()).toContain(topic);
    await admin.disconnect();
  });

  it('refuses a wrong password', async () => {
    const admin = kafka('wrong').admin();
    await expect(admin.connect()).rejects.toThrow(
      /SASL PLAIN authentication failed|Authentication failed/,
    );
  });

  it('lets kcat in over SASL_PLAINTEXT', async () => {
    const sasl = [
      '-X',
      'security.protocol=SASL_PLAINTEXT',
      '-X',
      'sasl.mechanisms=PLAIN',
      '-X',
      'sasl.username=alice',
    ];
    const ok = await kcat([...sasl, '-X', 'sasl.password=secret', '-L', '-J']);
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout)).toHaveProperty('brokers');
    const refused = await kcat([...sasl, '-X', 'sasl.password=nope', '-L', '-m', '2']);
    expect(refused.status).not.toBe(0);
  });

  it('accepts the bare token that follows a v0 handshake and refuses requests before it', async () => {
    const early = await RawKafkaClient.connect(broker.port);
    await expect(early.request(ApiKey.Metadata, 1, (w) => w.writeInt32(-1))).rejects.toThrow(
      'connection closed',
    );

    const c = await RawKafkaClient.connect(broker.port);
    const handshake = readSaslHandshakeResponse(
      await c.request(ApiKey.SaslHandshake, 0, (w) => w.writeString('PLAIN', false)),
      0,
    );
    expect(handshake).toEqual({ errorCode: 0, mechanisms: ['PLAIN'] });
    const token = Buffer.from('\u0000alice\u0000secret');
    const frame = Buffer.alloc(4 + token.length);
    frame.writeInt32BE(token.length, 0);
    token.copy(frame, 4);
    c.writeRaw(frame);
    // The empty reply frame is not a response the raw client can match, so prove the session is
    // authenticated by a request that would otherwise close it.
    const r = await c.request(ApiKey.Metadata, 1, (w) => w.writeInt32(-1));
    expect(r.remaining).toBeGreaterThan(0);
    c.close();
  });
});
