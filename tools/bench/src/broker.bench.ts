// kafkajs against the embedded broker (run as its own process, file-backed, as Kafka would be):
// produce 100,000 × 200-byte records in sends of 1,000, then consume them in a group.
//   node -r @swc-node/register tools/bench/src/broker.bench.ts
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';

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
  consumeRecordsPerSecond: number;
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

    const consumer = kafka.consumer({
      groupId: 'bench-group',
      maxBytes: 10 * 1024 * 1024,
      maxBytesPerPartition: 10 * 1024 * 1024,
    });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let consumed = 0;
    let consumeStart = 0n;
    let consumeEnd = 0n;
    const done = new Promise<void>((ok) => {
      void consumer.run({
        eachBatch: ({ batch: received }) => {
          if (consumeStart === 0n) consumeStart = process.hrtime.bigint();
          consumed += received.messages.length;
          if (consumed >= RECORDS && consumeEnd === 0n) {
            consumeEnd = process.hrtime.bigint();
            ok();
          }
          return Promise.resolve();
        },
      });
    });
    await done;
    await consumer.disconnect();
    // Measured from the first batch: joining the group is not throughput.
    const consumeSeconds = Number(consumeEnd - consumeStart) / 1e9;
    return {
      produceRecordsPerSecond: Math.round(RECORDS / produceSeconds),
      consumeRecordsPerSecond: Math.round(RECORDS / consumeSeconds),
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
    'consumer group (eachBatch, timed from the first batch). Broker run as its own process on a',
    `data folder (fsync left to the OS). Machine: ${cpus().length} cores, Node ${process.version}.`,
    '',
    '| | records/s | single-node Apache Kafka | ratio |',
    '|---|---:|---:|---:|',
    `| produce | ${result.produceRecordsPerSecond.toLocaleString('en-US')} | ${BASELINE.produce.toLocaleString('en-US')} | ${pct(result.produceRecordsPerSecond, BASELINE.produce)} |`,
    `| consume | ${result.consumeRecordsPerSecond.toLocaleString('en-US')} | ${BASELINE.consume.toLocaleString('en-US')} | ${pct(result.consumeRecordsPerSecond, BASELINE.consume)} |`,
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} with \`node -r @swc-node/register tools/bench/src/broker.bench.ts\`.`,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const result = await runBrokerBench();
  process.stdout.write(
    `broker produce: ${result.produceRecordsPerSecond} records/s (Kafka baseline ${BASELINE.produce})\n`,
  );
  process.stdout.write(
    `broker consume: ${result.consumeRecordsPerSecond} records/s (Kafka baseline ${BASELINE.consume})\n`,
  );
  mkdirSync(join(REPO_ROOT, 'tools/bench/results'), { recursive: true });
  writeFileSync(RESULTS, report(result));
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exitCode = 1;
  });
}
