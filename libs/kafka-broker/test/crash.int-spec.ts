// Durability: a file-backed broker process is SIGKILLed while 100,000 records stream in with
// acks=-1, then restarted on the same folder. Every acknowledged record must be there exactly
// once, in order within its partition, and committed group offsets must survive.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { freePort } from '@herald/test-harness';
import { startBrokerProcess, waitFor, type BrokerProcess } from '../src/testing';

const TOTAL = 100_000;
const PER_SEND = 1_000;
const PARTITIONS = 3;
const KILL_AFTER_ACKED = 40_000;
const TOPIC = 'crash-test';
const GROUP = 'crash-group';

let dataDir: string;
let running: BrokerProcess | undefined;

beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'herald-crash-'));
});

afterAll(async () => {
  await running?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function client(brokers: string, retries = 5): Kafka {
  return new Kafka({
    clientId: 'crash',
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    retry: { retries, initialRetryTime: 100 },
  });
}

function messages(from: number, count: number) {
  return Array.from({ length: count }, (_, i) => ({
    partition: (from + i) % PARTITIONS,
    value: `${from + i}`.padStart(8, '0'),
  }));
}

it('keeps every acknowledged record, once and in order, and committed offsets across SIGKILL', async () => {
  const port = await freePort();
  const first = await startBrokerProcess(dataDir, { port });
  running = first;
  // No retries before the crash: a send the kill interrupts must fail, not be retried later.
  const kafka = client(first.brokers, 0);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }] });
  await admin.setOffsets({
    groupId: GROUP,
    topic: TOPIC,
    partitions: [
      { partition: 0, offset: '7' },
      { partition: 1, offset: '11' },
    ],
  });
  await admin.disconnect();

  const producer: Producer = kafka.producer({ retry: { retries: 0 } });
  await producer.connect();
  const acked = new Set<number>();
  let next = 0;
  let killed = false;
  // One send at a time keeps the produced order well defined; the kill is fired just after an
  // acknowledgement, while the next send is already on its way.
  while (next < TOTAL) {
    const from = next;
    next += PER_SEND;
    if (!killed && acked.size >= KILL_AFTER_ACKED) {
      killed = true;
      setImmediate(() => first.child.kill('SIGKILL'));
    }
    try {
      await producer.send({ topic: TOPIC, acks: -1, messages: messages(from, PER_SEND) });
    } catch {
      // The broker died under this send: its records are not acknowledged.
      break;
    }
    for (let i = from; i < from + PER_SEND; i++) acked.add(i);
  }
  await first.exited;
  await producer.disconnect().catch(() => undefined);
  expect(killed).toBe(true);

  const second = await startBrokerProcess(dataDir, { port });
  running = second;
  const after = client(second.brokers);
  const producer2 = after.producer();
  await producer2.connect();
  for (let from = next; from < TOTAL; from += PER_SEND) {
    const count = Math.min(PER_SEND, TOTAL - from);
    await producer2.send({ topic: TOPIC, acks: -1, messages: messages(from, count) });
    for (let i = from; i < from + count; i++) acked.add(i);
  }
  await producer2.disconnect();

  const admin2 = after.admin();
  await admin2.connect();
  const offsets = await admin2.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
  const byPartition = new Map(offsets[0]?.partitions.map((p) => [p.partition, p.offset]));
  expect(byPartition.get(0)).toBe('7');
  expect(byPartition.get(1)).toBe('11');
  const ends = await admin2.fetchTopicOffsets(TOPIC);
  const stored = ends.reduce((sum, p) => sum + Number(p.high), 0);
  await admin2.disconnect();

  const consumer = after.consumer({
    groupId: 'crash-verify',
    maxWaitTimeInMs: 100,
    maxBytes: 20 * 1024 * 1024,
  });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  const seen = new Map<number, number>();
  const lastInPartition = new Map<number, number>();
  let outOfOrder = 0;
  let read = 0;
  await consumer.run({
    eachBatch: ({ batch }) => {
      for (const message of batch.messages) {
        const value = Number(String(message.value));
        seen.set(value, (seen.get(value) ?? 0) + 1);
        if ((lastInPartition.get(batch.partition) ?? -1) >= value) outOfOrder++;
        lastInPartition.set(batch.partition, value);
        read++;
      }
      return Promise.resolve();
    },
  });
  await waitFor(() => read >= stored, { what: `${stored} stored records`, timeoutMs: 60_000 });
  await consumer.disconnect();

  const missing = [...acked].filter((value) => seen.get(value) !== 1);
  expect(missing).toEqual([]);
  expect([...seen.values()].every((count) => count === 1)).toBe(true);
  expect(outOfOrder).toBe(0);
  expect(read).toBe(stored);
  expect(acked.size).toBeGreaterThanOrEqual(TOTAL - PER_SEND);
}, 120_000);
