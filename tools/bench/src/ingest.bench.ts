// HTTP ingest throughput and latency: single-event POSTs and 100-event batches against
// ingest-bridge (a child process, with auth, validation and idempotency records), beside a bare
// node:http + kafkajs baseline doing the same write. Broker: the embedded one, as its own process.
//   node -r @swc-node/register tools/bench/src/ingest.bench.ts
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { loadContract } from '@herald/contract';
import { RedisConnection } from '@herald/store';
import { ensureRedis } from '@herald/test-harness';
import {
  REPO_ROOT,
  deletePrefix,
  startAppProcess,
  startBrokerProcess,
  writeResults,
} from './bench-processes';

const DURATION_SECONDS = 10;
const RESULTS = join(REPO_ROOT, 'tools/bench/results/ingest.md');
const TARGETS = { single: 10_000, batched: 100_000, ofBaseline: 0.7 };

export interface IngestRun {
  eventsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

export interface IngestBenchResult {
  single: IngestRun;
  batch: IngestRun;
  baselineSingle: IngestRun;
  baselineBatch: IngestRun;
}

let counter = 0;

/** autocannon for DURATION_SECONDS; `body()` makes each request's body (unique event ids). */
async function cannon(
  url: string,
  headers: Record<string, string>,
  body: () => string,
  connections: number,
  eventsPerRequest: number,
): Promise<IngestRun> {
  const result = await autocannon({
    url,
    method: 'POST',
    headers,
    connections,
    duration: DURATION_SECONDS,
    requests: [{ setupRequest: (request) => ({ ...request, body: body() }) }],
  });
  return {
    eventsPerSecond: Math.round(result.requests.average * eventsPerRequest),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.non2xx + result.errors + result.timeouts,
  };
}

export async function runIngestBench(): Promise<IngestBenchResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-ingest-'));
  const broker = await startBrokerProcess(join(dataDir, 'kafka'));
  const adminKey = `bench-admin-${randomUUID()}`;
  const contract = await loadContract(join(REPO_ROOT, 'asyncapi'));
  const example = JSON.stringify(contract.get('order.created')!.example);
  const batchTemplate = `[${Array.from(
    { length: 100 },
    (_, i) =>
      `{"specversion":"1.0","id":"__RUN__-${i}","source":"/bench","type":"order.created","data":${example}}`,
  ).join(',')}]`;
  const singleBody = (): string => example;
  const batchBody = (): string => batchTemplate.replaceAll('__RUN__', `r${(counter += 1)}`);
  const redis = await ensureRedis();
  const prefix = `bench:${randomUUID().slice(0, 8)}:`;
  try {
    const ingest = await startAppProcess('apps/ingest-bridge/src/main.ts', 'INGEST_BRIDGE_PORT', {
      KAFKA_BROKERS: broker.brokers,
      REDIS_URL: redis.url,
      HERALD_ADMIN_KEY: adminKey,
      HERALD_REDIS_PREFIX: prefix,
    });
    const auth = { authorization: `Bearer ${adminKey}` };
    let single: IngestRun;
    let batch: IngestRun;
    try {
      // Warm-up (JIT, connections, metadata), not measured.
      await cannon(
        `${ingest.url}/v1/events/order.created`,
        { ...auth, 'content-type': 'application/json' },
        singleBody,
        10,
        1,
      );
      single = await cannon(
        `${ingest.url}/v1/events/order.created`,
        { ...auth, 'content-type': 'application/json' },
        singleBody,
        64,
        1,
      );
      batch = await cannon(
        `${ingest.url}/v1/events`,
        { ...auth, 'content-type': 'application/cloudevents-batch+json' },
        batchBody,
        16,
        100,
      );
    } finally {
      await ingest.stop();
    }

    const baseline = await startAppProcess('tools/bench/src/ingest-baseline.server.ts', null, {}, [
      broker.brokers,
      '{port}',
      'orders.v1',
    ]);
    try {
      await cannon(
        `${baseline.url}/single`,
        { 'content-type': 'application/json' },
        singleBody,
        10,
        1,
      );
      const baselineSingle = await cannon(
        `${baseline.url}/single`,
        { 'content-type': 'application/json' },
        singleBody,
        64,
        1,
      );
      const baselineBatch = await cannon(
        `${baseline.url}/batch`,
        { 'content-type': 'application/json' },
        batchBody,
        16,
        100,
      );
      return { single, batch, baselineSingle, baselineBatch };
    } finally {
      await baseline.stop();
    }
  } finally {
    // The idempotency records of every event sent (kept a day) would stay in a shared Redis.
    const cleanup = new RedisConnection({ url: redis.url, prefix }, 'bench');
    await cleanup.connect();
    await deletePrefix(cleanup, prefix);
    await cleanup.close();
    await redis.stop();
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function row(name: string, run: IngestRun, baseline: IngestRun, target: number): string {
  const ratio = Math.round((run.eventsPerSecond / Math.max(1, baseline.eventsPerSecond)) * 100);
  return `| ${name} | ${run.eventsPerSecond.toLocaleString('en')} | ${run.p50Ms} / ${run.p99Ms} | ${run.errors} | ${baseline.eventsPerSecond.toLocaleString('en')} | ${baseline.p50Ms} / ${baseline.p99Ms} | ${ratio}% | ${target.toLocaleString('en')} |`;
}

export function ingestReport(result: IngestBenchResult): string {
  return [
    '# HTTP ingest: events/s and latency',
    '',
    `ingest-bridge (auth, contract validation, idempotency record per batch event, kafkajs idempotent acks=all) vs a bare`,
    `node:http server doing the same kafkajs write (order id key, CloudEvents headers) with no framework, no validation and no idempotency records. autocannon, ${DURATION_SECONDS} s per run,`,
    `64 connections for single events, 16 for 100-event batches; embedded broker as its own process on a data folder.`,
    `Machine: ${cpus().length} cores, Node ${process.version}; load generator, app and broker share it.`,
    '',
    '| run | events/s | p50 / p99 ms | errors | baseline events/s | baseline p50 / p99 ms | of baseline | target events/s |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    row('single events (typed POST)', result.single, result.baselineSingle, TARGETS.single),
    row('100-event batches', result.batch, result.baselineBatch, TARGETS.batched),
    '',
    `Target: at least ${TARGETS.ofBaseline * 100} % of the baseline. Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench\`.`,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const result = await runIngestBench();
  const report = ingestReport(result);
  process.stdout.write(report);
  mkdirSync(join(REPO_ROOT, 'tools/bench/results'), { recursive: true });
  writeResults(RESULTS, report);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exitCode = 1;
  });
}
