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
import {
  REPO_ROOT,
  shippedContract,
  startIngestApp,
  topicSize,
  type IngestApp,
} from './ingest-app.fixture';

jest.setTimeout(240_000);

const SOURCE = 'kitchen.raw';
const CHANNEL = 'kitchen.v1';

interface RawRecord {
  key: string;
  value: string;
  headers: Record<string, string>;
  /** Milliseconds since the epoch as the producer stamped it (default: now). */
  timestamp?: string;
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
    // Over the event limit but within what a dead letter may hold (512 KiB): copied whole.
    const large = JSON.stringify({
      ...(JSON.parse(valid[0]!.value) as Record<string, unknown>),
      pad: 'y'.repeat(300 * 1024),
    });
    // One produce request each: together they outgrow what the broker takes at once.
    await produceRaw(broker.brokers, [
      { key: 'k', value: huge, headers: { ce_type: 'kitchen.order.ready' } },
    ]);
    await produceRaw(broker.brokers, [
      { key: 'k', value: large, headers: { ce_type: 'kitchen.order.ready', ce_id: 'large-1' } },
    ]);

    const republished = await collect(broker.brokers, CHANNEL, 200, { timeoutMs: 30_000 });
    expect(new Set(republished.map(idNumber)).size).toBe(200);
    expect(orderViolations(byPartitionThenOffset(republished))).toBe(0);
    const first = republished.find((r) => r.headers.ce_id?.toString() === 'raw-a-0')!;
    expect(first.key?.toString()).toBe(valid[0]!.key);
    expect(first.headers.ce_specversion?.toString()).toBe('1.0');
    expect(first.headers.ce_source?.toString()).toBe('/kitchen-display');
    expect(first.value?.toString()).toBe(valid[0]!.value);

    const letters = await collect(broker.brokers, 'herald.dlq.ingest', 7, { timeoutMs: 30_000 });
    const reasons = letters.map((l) => l.headers['herald-dlq-reason']?.toString());
    expect(reasons).toEqual([
      expect.stringContaining('not JSON'),
      expect.stringContaining('breaks the kitchen.order.ready schema'),
      expect.stringContaining('does not belong to channel kitchen.v1'),
      expect.stringContaining('carries several event types'),
      expect.stringContaining('not JSON'),
      expect.stringContaining('an event may have at most 262144'),
      expect.stringContaining('an event may have at most 262144'),
    ]);
    // Too large for a dead letter too: not copied; the source topic holds it where it says.
    expect(letters[5]!.value?.length ?? 0).toBe(0);
    expect(letters[5]!.headers['herald-dlq-value-omitted']?.toString()).toBe('true');
    expect(letters[5]!.headers['herald-dlq-source-offset']?.toString()).toBeDefined();
    // Too large for an event, not for its dead letter: its bytes and headers go along.
    expect(letters[6]!.value?.length).toBe(Buffer.byteLength(large));
    expect(letters[6]!.value?.equals(Buffer.from(large))).toBe(true);
    expect(letters[6]!.headers['herald-dlq-value-omitted']).toBeUndefined();
    expect(letters[6]!.headers['ce_id']?.toString()).toBe('large-1');
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
      /herald_bridge_records_total\{source="kitchen.raw",outcome="dead_lettered"[^}]*\} 7\n/,
    );
    expect(metrics).toMatch(
      /herald_kafka_consumer_lag\{group="herald-ingest-bridge",topic="kitchen.raw",partition="0"/,
    );
  });
});

/** The records of `topic` whose `ce_id` is one of `ids`, once every one of them is there. */
async function recordsWithIds(
  brokers: string,
  topic: string,
  ids: string[],
): Promise<IncomingRecord[]> {
  return waitFor(
    async () => {
      const size = await topicSize(brokers, topic);
      const records = size === 0 ? [] : await collect(brokers, topic, size, { timeoutMs: 30_000 });
      const mine = records.filter((r) => ids.includes(r.headers.ce_id?.toString() ?? ''));
      return new Set(mine.map((r) => r.headers.ce_id?.toString())).size === ids.length
        ? mine
        : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 500, what: `${ids.join(', ')} on ${topic}` },
  );
}

describe('the bridge facing raw records it cannot take as they are', () => {
  let broker: RunningBroker;
  let ingest: IngestApp;
  let orderReady: Record<string, unknown>;

  beforeAll(async () => {
    broker = await startTestBroker();
    ingest = await startIngestApp(broker.brokers);
    orderReady = (await shippedContract()).get('kitchen.order.ready')!.example as Record<
      string,
      unknown
    >;
  });

  afterAll(async () => {
    await ingest?.stop();
    await broker?.stop();
  });

  /** `count` valid kitchen.order.ready records of one key, ids `<prefix>-<n>`. */
  const valid = (key: string, prefix: string, count: number): RawRecord[] =>
    Array.from({ length: count }, (_, n) => ({
      key,
      value: JSON.stringify(orderReady),
      headers: { ce_type: 'kitchen.order.ready', ce_id: `${prefix}-${n}` },
    }));

  it('republishes a record stamped in nanoseconds without ce_time at the time of republishing, and the records after it flow', async () => {
    const key = randomUUID();
    const before = Date.now();
    // Alone in its produce request, so that it alone carries the far-off timestamp.
    await produceRaw(broker.brokers, [
      {
        key,
        value: JSON.stringify(orderReady),
        headers: { ce_type: 'kitchen.order.ready', ce_id: 'far-off' },
        timestamp: '1700000000000000000',
      },
    ]);
    await produceRaw(broker.brokers, valid(key, 'after-far-off', 5));

    const ids = ['far-off', ...valid(key, 'after-far-off', 5).map((r) => r.headers.ce_id!)];
    const records = await recordsWithIds(broker.brokers, CHANNEL, ids);
    const farOff = records.find((r) => r.headers.ce_id?.toString() === 'far-off')!;
    const time = Date.parse(farOff.headers.ce_time!.toString());
    expect(time).toBeGreaterThanOrEqual(before);
    expect(time).toBeLessThanOrEqual(Date.now());
    expect(farOff.value?.toString()).toBe(JSON.stringify(orderReady));
  });

  it('keeps dead letters that would outgrow Kafka’s 1 MiB within a request, and the records after them flow', async () => {
    const key = randomUUID();
    // 23,000 properties the schema does not allow: every violation listed made a 1.2 MB header.
    const manyViolations = JSON.stringify({
      ...orderReady,
      ...Object.fromEntries(Array.from({ length: 23_000 }, (_, i) => [`k${i}`, 0])),
    });
    expect(manyViolations.length).toBeLessThan(256 * 1024);
    await produceRaw(broker.brokers, [
      {
        key,
        value: manyViolations,
        headers: { ce_type: 'kitchen.order.ready', ce_id: 'dl-1' },
      },
      // A 600 KB ce_type, quoted whole in the reason and copied with the raw headers.
      {
        key,
        value: JSON.stringify(orderReady),
        headers: { ce_type: 't'.repeat(600_000), ce_id: 'dl-2' },
      },
      ...valid(key, 'after-dead-letters', 5),
    ]);

    await recordsWithIds(
      broker.brokers,
      CHANNEL,
      valid(key, 'after-dead-letters', 5).map((r) => r.headers.ce_id!),
    );
    const letters = await collect(broker.brokers, 'herald.dlq.ingest', 2, { timeoutMs: 30_000 });
    const [violations, longType] = letters;
    expect(violations!.headers['ce_id']?.toString()).toBe('dl-1');
    expect(violations!.headers['herald-dlq-reason']?.toString()).toContain(
      'breaks the kitchen.order.ready schema',
    );
    // Too large to have every violation counted: the first is named, the count a lower bound.
    expect(JSON.parse(violations!.headers['herald-dlq-errors']!.toString())).toEqual([
      { pointer: '/k0', message: 'is not allowed here' },
    ]);
    expect(violations!.headers['herald-dlq-error-count']?.toString()).toBe('1');
    expect(violations!.headers['herald-dlq-error-count-is-lower-bound']?.toString()).toBe('true');
    expect(violations!.value?.toString()).toBe(manyViolations);

    const reason = longType!.headers['herald-dlq-reason']!.toString();
    expect(reason).toMatch(/^event type "t+… \(\d+ more characters\)$/);
    expect(reason.length).toBeLessThan(1100);
    expect(longType!.headers['herald-dlq-headers-omitted']?.toString()).toBe('true');
    expect(longType!.headers['ce_type']).toBeUndefined();
    expect(longType!.value?.toString()).toBe(JSON.stringify(orderReady));
    expect(longType!.headers['herald-dlq-source-offset']?.toString()).toBeDefined();
  });

  it('dead-letters records whose attributes or value it could only republish altered, with their bytes, and the records after them flow', async () => {
    const key = randomUUID();
    const notUtf8 = Buffer.from([0x69, 0x64, 0xff]);
    const value = Buffer.from(JSON.stringify({ ...orderReady, pickupPoint: 'Counter ~' }));
    value[value.indexOf('~')] = 0xff; // read as UTF-8 it would validate, with U+FFFD in it
    const bad = [
      { value: JSON.stringify(orderReady), headers: { ce_id: notUtf8 } },
      { value: JSON.stringify(orderReady), headers: { ce_id: 'bad-trace', traceparent: 'xyz' } },
      { value, headers: { ce_id: 'bad-value' } },
    ];
    const producer = createTestConnection(broker.brokers).kafka.producer();
    await producer.connect();
    try {
      await producer.send({
        topic: SOURCE,
        acks: -1,
        messages: [
          ...bad.map((record) => ({
            key,
            value: record.value,
            headers: { ce_type: 'kitchen.order.ready', ...record.headers },
          })),
          ...valid(key, 'after-altered', 3),
        ],
      });
    } finally {
      await producer.disconnect();
    }

    await recordsWithIds(
      broker.brokers,
      CHANNEL,
      valid(key, 'after-altered', 3).map((r) => r.headers.ce_id!),
    );
    const letters = await waitFor(
      async () => {
        const all = await collect(
          broker.brokers,
          'herald.dlq.ingest',
          await topicSize(broker.brokers, 'herald.dlq.ingest'),
        );
        const mine = all.filter((r) => r.key?.toString() === key);
        return mine.length === bad.length ? mine : undefined;
      },
      { timeoutMs: 30_000, what: 'the three dead letters' },
    );
    const reasons = letters.map((r) => r.headers['herald-dlq-reason']?.toString());
    expect(reasons).toEqual([
      expect.stringContaining('header ce_id is not UTF-8'),
      expect.stringContaining('header traceparent is not a W3C traceparent'),
      expect.stringContaining('the value is not UTF-8'),
    ]);
    expect(Buffer.compare(letters[0]!.headers['ce_id'] as Buffer, notUtf8)).toBe(0);
    expect(letters[1]!.headers['traceparent']?.toString()).toBe('xyz');
    expect(Buffer.compare(letters[2]!.value!, value)).toBe(0);
    // None of them reached the channel, altered or not.
    const channel = await collect(
      broker.brokers,
      CHANNEL,
      await topicSize(broker.brokers, CHANNEL),
    );
    expect(
      channel.filter((r) => r.key?.toString() === key).map((r) => r.headers.ce_id?.toString()),
    ).toEqual(valid(key, 'after-altered', 3).map((r) => r.headers.ce_id));
  });

  it('dead-letters records claiming another specversion or a content type that is not JSON, or whose JSON readers may take otherwise, instead of relabelling them', async () => {
    const key = randomUUID();
    const dlqCount = async () => {
      const metrics = await (await fetch(`${ingest.url}/metrics`)).text();
      const line = metrics
        .split('\n')
        .find((l) =>
          l.startsWith('herald_bridge_records_total{source="kitchen.raw",outcome="dead_lettered"'),
        );
      return Number(line?.split(' ').at(-1) ?? 0);
    };
    const before = await dlqCount();
    const json = JSON.stringify(orderReady);
    const bad: { id: string; value: string | Buffer; headers: Record<string, string> }[] = [
      { id: 'v03', value: json, headers: { ce_specversion: '0.3' } },
      { id: 'text', value: json, headers: { 'content-type': 'text/plain' } },
      { id: 'xml', value: json, headers: { 'Content-Type': 'application/xml' } },
      {
        id: 'latin1',
        value: json,
        headers: { 'content-type': 'application/json; charset=latin1' },
      },
      { id: 'dtype', value: json, headers: { ce_datacontenttype: 'application/octet-stream' } },
      { id: 'dup', value: json.replace('{', '{"ticketId":"T-0000",'), headers: {} },
      {
        id: 'bom',
        value: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)]),
        headers: {},
      },
    ];
    const own = {
      key,
      value: json,
      headers: {
        ce_type: 'kitchen.order.ready',
        ce_id: 'own-format',
        ce_specversion: '1.0',
        'content-type': 'application/vnd.kitchen+json; charset=utf-8',
      },
    };
    const producer = createTestConnection(broker.brokers).kafka.producer();
    await producer.connect();
    try {
      await producer.send({
        topic: SOURCE,
        acks: -1,
        messages: [
          ...bad.map((record) => ({
            key,
            value: record.value,
            headers: {
              ce_type: 'kitchen.order.ready',
              ce_id: `fmt-${record.id}`,
              ...record.headers,
            },
          })),
          own,
          ...valid(key, 'after-format', 2),
        ],
      });
    } finally {
      await producer.disconnect();
    }

    const republished = await recordsWithIds(broker.brokers, CHANNEL, [
      'own-format',
      ...valid(key, 'after-format', 2).map((r) => r.headers.ce_id!),
    ]);
    const letters = await waitFor(
      async () => {
        const all = await collect(
          broker.brokers,
          'herald.dlq.ingest',
          await topicSize(broker.brokers, 'herald.dlq.ingest'),
        );
        const mine = all.filter((r) => r.key?.toString() === key);
        return mine.length === bad.length ? mine : undefined;
      },
      { timeoutMs: 30_000, what: 'the dead letters' },
    );
    expect(letters.map((r) => r.headers['ce_id']?.toString())).toEqual(
      bad.map((r) => `fmt-${r.id}`),
    );
    expect(letters.map((r) => r.headers['herald-dlq-reason']?.toString())).toEqual([
      expect.stringContaining('header ce_specversion is "0.3"'),
      expect.stringContaining('header content-type is "text/plain"'),
      expect.stringContaining('header Content-Type is "application/xml"'),
      expect.stringContaining('header content-type is "application/json; charset=latin1"'),
      expect.stringContaining('header ce_datacontenttype is "application/octet-stream"'),
      expect.stringContaining('the value at /ticketId repeats a member name'),
      expect.stringContaining('the value starts with a byte order mark'),
    ]);
    // Dead letters keep the producer's own headers and bytes.
    expect(letters[0]!.headers['ce_specversion']?.toString()).toBe('0.3');
    expect(letters[1]!.headers['content-type']?.toString()).toBe('text/plain');
    expect(Buffer.compare(letters[6]!.value!, bad[6]!.value as Buffer)).toBe(0);
    // A JSON content type of the producer's own is carried, not replaced by the default.
    const ownRecord = republished.find((r) => r.headers.ce_id?.toString() === 'own-format')!;
    expect(ownRecord.headers['content-type']?.toString()).toBe(
      'application/vnd.kitchen+json; charset=utf-8',
    );
    expect(ownRecord.headers['ce_specversion']?.toString()).toBe('1.0');
    await waitFor(async () => ((await dlqCount()) === before + bad.length ? true : undefined), {
      what: 'the dead letters counted',
    });
  });

  it('fails readiness when its consumer crashes for good', async () => {
    // Below the broker's smallest session timeout: the group refuses the bridge's join, and
    // kafkajs does not restart a consumer after that refusal.
    const refused = await startIngestApp(broker.brokers, {
      HERALD_BRIDGE_SESSION_TIMEOUT_MS: '500',
    });
    try {
      const body = await waitFor(
        async () => {
          const response = await fetch(`${refused.url}/health/ready`);
          return response.status === 503 ? await response.text() : undefined;
        },
        { timeoutMs: 30_000, what: 'readiness to fail' },
      );
      expect(body).toContain('bridge');
      expect(body).toContain('crashed for good');
      // The other instance's bridge is not affected.
      expect((await fetch(`${ingest.url}/health/ready`)).status).toBe(200);
    } finally {
      await refused.stop();
    }
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
