import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { freePort } from '@herald/test-harness';
import type { IncomingRecord } from '@herald/kafka';
import {
  collect,
  createTestConnection,
  startTestBroker,
  waitFor,
  type RunningBroker,
} from '@herald/kafka/testing';
import { REPO_ROOT, shippedContract, startIngestApp, type IngestApp } from './ingest-app.fixture';

jest.setTimeout(240_000);

const SOURCE = 'kitchen.raw';
const CHANNEL = 'kitchen.v1';

interface RawRecord {
  key: string;
  value: string;
  headers: Record<string, string>;
}

async function produceRaw(brokers: string, records: RawRecord[]): Promise<void> {
  const producer = createTestConnection(brokers).kafka.producer();
  await producer.connect();
  try {
    for (let i = 0; i < records.length; i += 500) {
      await producer.send({ topic: SOURCE, acks: -1, messages: records.slice(i, i + 500) });
    }
  } finally {
    await producer.disconnect();
  }
}

async function topicSize(brokers: string, topic: string): Promise<number> {
  const admin = createTestConnection(brokers).kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce(
      (sum, p) => sum + Number(p.high) - Number(p.low),
      0,
    );
  } finally {
    await admin.disconnect();
  }
}

/** `count` valid raw kitchen records over `keys` order ids, ids `raw-<run>-<n>` in production order. */
async function rawKitchenRecords(run: string, count: number, keys: number): Promise<RawRecord[]> {
  const contract = await shippedContract();
  const example = contract.get('kitchen.order.ready')!.example as Record<string, unknown>;
  const orderIds = Array.from({ length: keys }, () => randomUUID());
  return Array.from({ length: count }, (_, n) => {
    const orderId = orderIds[n % keys]!;
    return {
      key: orderId,
      value: JSON.stringify({
        ...example,
        orderId,
        ticketId: `T-${String(n % 10000).padStart(4, '0')}`,
      }),
      headers: { ce_type: 'kitchen.order.ready', ce_id: `raw-${run}-${n}` },
    };
  });
}

function idNumber(record: IncomingRecord): number {
  return Number(record.headers.ce_id?.toString().split('-').pop());
}

/** Per key, the ids must first appear in increasing order (repeats after a crash are allowed). */
function orderViolations(records: IncomingRecord[]): number {
  const last = new Map<string, number>();
  const seen = new Set<number>();
  let violations = 0;
  for (const record of records) {
    const n = idNumber(record);
    if (seen.has(n)) continue;
    seen.add(n);
    const key = record.key?.toString() ?? '';
    if ((last.get(key) ?? -1) > n) violations += 1;
    last.set(key, n);
  }
  return violations;
}

function byPartitionThenOffset(records: IncomingRecord[]): IncomingRecord[] {
  return [...records].sort(
    (a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset),
  );
}

describe('the source-topic bridge', () => {
  let broker: RunningBroker;
  let ingest: IngestApp;

  beforeAll(async () => {
    broker = await startTestBroker();
    ingest = await startIngestApp(broker.brokers);
  });

  afterAll(async () => {
    await ingest?.stop();
    await broker?.stop();
  });

  it('republishes valid raw records in order per key and dead-letters invalid ones with the reason', async () => {
    const valid = await rawKitchenRecords('a', 200, 10);
    const invalid: RawRecord[] = [
      { key: 'k', value: '{not json', headers: { ce_type: 'kitchen.order.ready' } },
      {
        key: 'k',
        value: JSON.stringify({ orderId: 'nope' }),
        headers: { ce_type: 'kitchen.order.ready' },
      },
      { key: 'k', value: JSON.stringify({}), headers: { ce_type: 'order.created' } },
      { key: 'k', value: JSON.stringify({}), headers: {} },
      // Header names every object inherits: kafkajs decodes them beside the inherited member.
      {
        key: 'k',
        value: '{not json either',
        headers: { ce_type: 'kitchen.order.ready', constructor: 'svc-a', toString: 'x' },
      },
    ];
    await produceRaw(broker.brokers, [...valid.slice(0, 100), ...invalid, ...valid.slice(100)]);
    // Near Kafka's 1 MiB batch limit: with its CloudEvent headers it could never be written.
    const huge = JSON.stringify({
      ...(JSON.parse(valid[0]!.value) as Record<string, unknown>),
      pad: 'x'.repeat(1_040_000),
    });
    await produceRaw(broker.brokers, [
      { key: 'k', value: huge, headers: { ce_type: 'kitchen.order.ready' } },
    ]);

    const republished = await collect(broker.brokers, CHANNEL, 200, { timeoutMs: 30_000 });
    expect(new Set(republished.map(idNumber)).size).toBe(200);
    expect(orderViolations(byPartitionThenOffset(republished))).toBe(0);
    const first = republished.find((r) => r.headers.ce_id?.toString() === 'raw-a-0')!;
    expect(first.key?.toString()).toBe(valid[0]!.key);
    expect(first.headers.ce_specversion?.toString()).toBe('1.0');
    expect(first.headers.ce_source?.toString()).toBe('/kitchen-display');
    expect(first.value?.toString()).toBe(valid[0]!.value);

    const letters = await collect(broker.brokers, 'herald.dlq.ingest', 6, { timeoutMs: 30_000 });
    const reasons = letters.map((l) => l.headers['herald-dlq-reason']?.toString());
    expect(reasons).toEqual([
      expect.stringContaining('not JSON'),
      expect.stringContaining('breaks the kitchen.order.ready schema'),
      expect.stringContaining('does not belong to channel kitchen.v1'),
      expect.stringContaining('carries several event types'),
      expect.stringContaining('not JSON'),
      expect.stringContaining('an event may have at most 262144'),
    ]);
    // Not copied (it could not be written either); the source topic holds it where it says.
    expect(letters[5]!.value?.length ?? 0).toBe(0);
    expect(letters[5]!.headers['herald-dlq-value-omitted']?.toString()).toBe('true');
    expect(letters[5]!.headers['herald-dlq-source-offset']?.toString()).toBeDefined();
    expect(letters[4]!.headers['constructor']?.toString()).toBe('svc-a');
    expect(letters[4]!.headers['toString']?.toString()).toBe('x');
    expect(letters[0]!.value?.toString()).toBe('{not json');
    expect(JSON.parse(letters[1]!.headers['herald-dlq-errors']!.toString())).toEqual(
      expect.arrayContaining([expect.objectContaining({ pointer: '/orderId' })]),
    );
    expect(letters[1]!.headers['herald-dlq-source-topic']?.toString()).toBe(SOURCE);

    const metrics = await (await fetch(`${ingest.url}/metrics`)).text();
    expect(metrics).toMatch(
      /herald_bridge_records_total\{source="kitchen.raw",outcome="republished"[^}]*\} 200\n/,
    );
    expect(metrics).toMatch(
      /herald_bridge_records_total\{source="kitchen.raw",outcome="dead_lettered"[^}]*\} 6\n/,
    );
    expect(metrics).toMatch(
      /herald_kafka_consumer_lag\{group="herald-ingest-bridge",topic="kitchen.raw",partition="0"/,
    );
  });
});

describe('the bridge killed with SIGKILL mid-stream', () => {
  let broker: RunningBroker;
  let child: ChildProcess | undefined;
  const bridgeLogs: { name: string; lines: string[] }[] = [];

  beforeAll(async () => {
    broker = await startTestBroker();
  });

  afterAll(async () => {
    child?.kill('SIGKILL');
    await broker?.stop();
  });

  async function startBridgeProcess(): Promise<ChildProcess> {
    const port = await freePort();
    const proc = spawn(
      process.execPath,
      ['-r', '@swc-node/register', 'apps/ingest-bridge/src/main.ts'],
      {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          SWC_NODE_PROJECT: join(REPO_ROOT, 'tsconfig.base.json'),
          KAFKA_BROKERS: broker.brokers,
          INGEST_BRIDGE_PORT: String(port),
          HOST: '127.0.0.1',
          HERALD_REDIS_PREFIX: `test:${randomUUID().slice(0, 8)}:`,
          LOG_LEVEL: 'info',
          // The killed instance's partitions move once its session lapses; keep that short here.
          HERALD_BRIDGE_SESSION_TIMEOUT_MS: '6000',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    // Kept for the failure message: why a bridge did not catch up.
    const name = `bridge ${bridgeLogs.length + 1}`;
    bridgeLogs.push({ name, lines: [] });
    const lines = bridgeLogs[bridgeLogs.length - 1]!.lines;
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        const info = line.includes('"level":"info"');
        // Warnings and errors, and the info lines about the group and the bridge.
        if (line && (!info || /"msg":"[^"]*(rebalanc|consuming|crash|retry|bridge)/i.test(line)))
          lines.push(line.slice(0, 400));
      }
      if (lines.length > 400) lines.splice(0, lines.length - 400);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    await waitFor(
      async () =>
        (await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined))?.status ===
        200,
      {
        timeoutMs: 60_000,
        what: 'ingest-bridge ready',
      },
    );
    return proc;
  }

  it('loses nothing and keeps order per key across a restart', async () => {
    const records = await rawKitchenRecords('k', 5000, 50);
    child = await startBridgeProcess();
    const producing = produceRaw(broker.brokers, records);
    await waitFor(async () => (await topicSize(broker.brokers, CHANNEL)) >= 1000, {
      timeoutMs: 60_000,
      what: '1000 republished',
    });
    child.kill('SIGKILL');
    await new Promise((resolve) => child!.once('exit', resolve));
    await producing;
    child = await startBridgeProcess();

    let seen = { size: 0, distinct: 0 };
    const all = await waitFor(
      async () => {
        const size = await topicSize(broker.brokers, CHANNEL);
        seen = { size, distinct: seen.distinct };
        if (size < 5000) return undefined;
        const read = await collect(broker.brokers, CHANNEL, size, { timeoutMs: 30_000 });
        seen = { size, distinct: new Set(read.map(idNumber)).size };
        return seen.distinct === 5000 ? read : undefined;
      },
      { timeoutMs: 200_000, intervalMs: 500, what: 'all 5000 records republished' },
    ).catch((error: unknown) => {
      // What the bridges said, to tell a stalled group from lost records.
      process.stdout.write(
        `bridge SIGKILL test stalled: ${JSON.stringify(seen)} on ${CHANNEL}\n${bridgeLogs
          .map(({ name, lines }) => `--- ${name}\n${lines.slice(-60).join('\n')}`)
          .join('\n')}\n`,
      );
      throw error;
    });
    expect(orderViolations(byPartitionThenOffset(all))).toBe(0);
    const duplicates = all.length - 5000;
    process.stdout.write(
      `bridge SIGKILL test: ${all.length} records for 5000 events, ${duplicates} duplicates\n`,
    );
  });
});
