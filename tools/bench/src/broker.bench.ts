// kafkajs against the embedded broker (run as its own process, file-backed, as Kafka would be):
// produce 100,000 × 200-byte records in sends of 1,000, then consume them in a group.
//   node -r @swc-node/register tools/bench/src/broker.bench.ts
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Kafka, logLevel, type EachBatchPayload } from 'kafkajs';
import { writeResults } from './bench-processes';

const RECORDS = 100_000;
const PER_SEND = 1_000;
const RECORD_BYTES = 200;
/** Single-node Apache Kafka, kafkajs, same 2-core machine (records/s). */
const BASELINE = { produce: 60_000, consume: 170_000 };

const REPO_ROOT = resolve(__dirname, '../../..');
const CLI = join(REPO_ROOT, 'libs/kafka-broker/bin/herald-broker.js');
const RESULTS = join(REPO_ROOT, 'tools/bench/results/broker.md');

export interface BrokerBenchResult {
  produceRecordsPerSecond: number;
  /** eachBatch: the client hands over whole fetched batches. */
  consumeRecordsPerSecond: number;
  /** eachMessage: one callback per record, the usual kafkajs style. */
  consumeEachMessageRecordsPerSecond: number;
}

/** Reads the whole topic in a new group; seconds from the first record to the last. */
async function consumeAll(
  kafka: Kafka,
  topic: string,
  groupId: string,
  style: 'eachBatch' | 'eachMessage',
): Promise<number> {
  const consumer = kafka.consumer({
    groupId,
    maxBytes: 10 * 1024 * 1024,
    maxBytesPerPartition: 10 * 1024 * 1024,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let consumed = 0;
  let start = 0n;
  let end = 0n;
  const count = (n: number, finished: () => void): void => {
    if (start === 0n) start = process.hrtime.bigint();
    consumed += n;
    if (consumed >= RECORDS && end === 0n) {
      end = process.hrtime.bigint();
      finished();
    }
  };
  await new Promise<void>((finished) => {
    const handlers =
      style === 'eachBatch'
        ? {
            eachBatch: ({ batch }: EachBatchPayload) =>
              Promise.resolve(count(batch.messages.length, finished)),
          }
        : { eachMessage: () => Promise.resolve(count(1, finished)) };
    void consumer.run(handlers);
  });
  await consumer.disconnect();
  // Joining the group is not throughput, so the clock starts at the first record.
  return Number(end - start) / 1e9;
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? ok(address.port) : fail(new Error('no port')),
      );
    });
  });
}

async function startBrokerProcess(dataDir: string) {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, '--port', String(port), '--data', dataDir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise<void>((ok, fail) => {
    let logs = '';
    child.stderr.on('data', (chunk: Buffer) => {
      logs += chunk.toString();
      if (logs.includes('"broker listening"')) ok();
    });
    child.on('exit', (code) => fail(new Error(`broker exited (${String(code)}): ${logs}`)));
  });
  const exited = new Promise<void>((ok) => child.on('exit', () => ok()));
  return {
    brokers: `127.0.0.1:${port}`,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export async function runBrokerBench(): Promise<BrokerBenchResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
  const broker = await startBrokerProcess(dataDir);
  try {
    const kafka = new Kafka({
      clientId: 'bench',
      brokers: [broker.brokers],
      logLevel: logLevel.NOTHING,
    });
    const topic = 'bench-broker';
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    await admin.disconnect();

    const value = Buffer.alloc(RECORD_BYTES, 'x');
    const producer = kafka.producer();
    await producer.connect();
    const batch = Array.from({ length: PER_SEND }, () => ({ value }));
    const produceStart = process.hrtime.bigint();
    for (let sent = 0; sent < RECORDS; sent += PER_SEND)
      await producer.send({ topic, acks: -1, messages: batch });
    const produceSeconds = Number(process.hrtime.bigint() - produceStart) / 1e9;
    await producer.disconnect();

    const consumeBatchSeconds = await consumeAll(kafka, topic, 'bench-batch', 'eachBatch');
    const consumeMessageSeconds = await consumeAll(kafka, topic, 'bench-message', 'eachMessage');
    return {
      produceRecordsPerSecond: Math.round(RECORDS / produceSeconds),
      consumeRecordsPerSecond: Math.round(RECORDS / consumeBatchSeconds),
      consumeEachMessageRecordsPerSecond: Math.round(RECORDS / consumeMessageSeconds),
    };
  } finally {
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function report(result: BrokerBenchResult): string {
  const pct = (value: number, base: number) => `${Math.round((value / base) * 100)}%`;
  return [
    '# Embedded broker: kafkajs throughput',
    '',
    `100,000 records × ${RECORD_BYTES} bytes; produce in sends of ${PER_SEND} with acks=-1, consume in a`,
    'consumer group (timed from the first record; the baseline does not say which callback style it',
    'used, so both are shown). Broker run as its own process on a',
    `data folder (fsync left to the OS). Machine: ${cpus().length} cores, Node ${process.version}.`,
    '',
    '| | records/s | single-node Apache Kafka | ratio |',
    '|---|---:|---:|---:|',
    `| produce | ${result.produceRecordsPerSecond.toLocaleString('en-US')} | ${BASELINE.produce.toLocaleString('en-US')} | ${pct(result.produceRecordsPerSecond, BASELINE.produce)} |`,
    `| consume, eachBatch | ${result.consumeRecordsPerSecond.toLocaleString('en-US')} | ${BASELINE.consume.toLocaleString('en-US')} | ${pct(result.consumeRecordsPerSecond, BASELINE.consume)} |`,
    `| consume, eachMessage | ${result.consumeEachMessageRecordsPerSecond.toLocaleString('en-US')} | ${BASELINE.consume.toLocaleString('en-US')} | ${pct(result.consumeEachMessageRecordsPerSecond, BASELINE.consume)} |`,
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} with \`node -r @swc-node/register tools/bench/src/broker.bench.ts\`.`,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const result = await runBrokerBench();
  const lines = [
    `broker produce: ${result.produceRecordsPerSecond} records/s (Kafka baseline ${BASELINE.produce})`,
    `broker consume, eachBatch: ${result.consumeRecordsPerSecond} records/s (Kafka baseline ${BASELINE.consume})`,
    `broker consume, eachMessage: ${result.consumeEachMessageRecordsPerSecond} records/s`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  mkdirSync(join(REPO_ROOT, 'tools/bench/results'), { recursive: true });
  writeResults(RESULTS, report(result));
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exitCode = 1;
  });
}
