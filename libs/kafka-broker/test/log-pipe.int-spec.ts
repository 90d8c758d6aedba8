// The broker's log goes to stderr; whoever read it (a terminal, the npm start launcher) may go
// away while the broker runs. It must go on serving, not die at its next log line.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { startBrokerProcess, type BrokerProcess } from '../src/testing';

let dataDir: string;
let broker: BrokerProcess | undefined;

beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'herald-log-pipe-'));
});

afterAll(async () => {
  await broker?.stop('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

it('keeps serving once nothing reads its log', async () => {
  broker = await startBrokerProcess(dataDir);
  // The reading end closes: the broker's next write to stderr meets EPIPE.
  broker.child.stderr!.destroy();
  const admin = new Kafka({
    clientId: 'log-pipe',
    brokers: [broker.brokers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 2, initialRetryTime: 100 },
  }).admin();
  await admin.connect();
  try {
    // Each creation is a log line, written into the broken pipe.
    await admin.createTopics({ topics: [{ topic: 'first', numPartitions: 1 }] });
    await admin.createTopics({ topics: [{ topic: 'second', numPartitions: 1 }] });
    expect((await admin.listTopics()).sort()).toEqual(['first', 'second']);
  } finally {
    await admin.disconnect();
  }
  expect(broker.child.exitCode).toBeNull();
}, 30_000);
