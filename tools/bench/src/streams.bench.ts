// Streams: how many SSE connections one fanout process holds and what each costs in memory; the
// time from publish to receipt across 1,000 and 10,000 connections; events pushed per second.
// fanout runs as its own process (as in production); the embedded broker runs in this process;
// the SSE clients run in two worker processes (each process has its own file-descriptor limit).
//   node -r @swc-node/register tools/bench/src/streams.bench.ts [maxConnections]
import { ensureRedis } from '@herald/test-harness';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

import { connect, type Socket } from 'node:net';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import pino from 'pino';
import { KafkaPublisher, toKafkaHeaders } from '@herald/kafka';
import { createTestConnection, startTestBroker } from '@herald/kafka/testing';
import { percentile, writeResults } from './bench-processes';

const REPO_ROOT = resolve(__dirname, '../../..');
const RESULTS = join(REPO_ROOT, 'tools/bench/results/streams.md');
const CONTRACT_DIR = join(REPO_ROOT, 'apps/fanout/test/fixtures/stream-contract');
const ADMIN_KEY = `bench-${randomBytes(12).toString('hex')}`;
const WORKERS = 2;
// Spaced so one event's fan-out is done before the next: this measures latency, the burst throughput.
const LATENCY_EVENTS = 20;
const LATENCY_SPACING_MS = 500;
const BURST_EVENTS = 200;

type WorkerCommand =
  | { cmd: 'open'; count: number; port: number; key: string }
  | { cmd: 'reset' }
  | { cmd: 'report' }
  | { cmd: 'trim'; keep: number }
  | { cmd: 'close' };
type WorkerReply =
  | { kind: 'opened'; open: number; failed: number }
  | { kind: 'report'; latencies: number[]; received: number; open: number };

// ---- worker: holds raw SSE connections and records receipt times -------------------------------

function runWorker(): void {
  const sockets: Socket[] = [];
  let latencies: number[] = [];
  let received = 0;
  const send = (reply: WorkerReply) => process.send!(reply);
  const open = (port: number, key: string) =>
    new Promise<boolean>((done) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.write(
          `GET /v1/streams/sse?types=order.created&access_token=${key} HTTP/1.1\r\nhost: bench\r\n\r\n`,
        );
      });
      let headed = false;
      let carry = '';
      socket.setNoDelay(true);
      socket.on('data', (chunk: Buffer) => {
        const now = Date.now();
        const text = carry + chunk.toString('latin1');
        if (!headed) {
          if (!text.includes('\r\n\r\n')) {
            carry = text;
            return;
          }
          headed = true;
          done(text.startsWith('HTTP/1.1 200'));
        }
        // Frames are `data: {CloudEvent}`; the payload carries the publish time.
        const pattern = /"sentAt":(\d+)/g;
        let last = 0;
        for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
          latencies.push(now - Number(match[1]));
          received += 1;
          last = pattern.lastIndex;
        }
        carry = text.slice(Math.max(last, text.length - 64));
      });
      socket.on('error', () => done(false));
      sockets.push(socket);
    });
  process.on('message', (command: WorkerCommand) => {
    void (async () => {
      if (command.cmd === 'open') {
        let failed = 0;
        for (let i = 0; i < command.count; i += 250) {
          const batch = Math.min(250, command.count - i);
          const results = await Promise.all(
            Array.from({ length: batch }, () => open(command.port, command.key)),
          );
          failed += results.filter((ok) => !ok).length;
        }
        send({ kind: 'opened', open: sockets.length - failed, failed });
      } else if (command.cmd === 'reset') {
        latencies = [];
        received = 0;
        send({ kind: 'report', latencies: [], received: 0, open: sockets.length });
      } else if (command.cmd === 'trim') {
        for (const socket of sockets.splice(command.keep)) socket.destroy();
        send({ kind: 'report', latencies: [], received: 0, open: sockets.length });
      } else if (command.cmd === 'report') {
        send({ kind: 'report', latencies, received, open: sockets.length });
      } else {
        for (const socket of sockets) socket.destroy();
        process.exit(0);
      }
    })();
  });
}

// ---- driver -----------------------------------------------------------------------------------

function ask(worker: ChildProcess, command: WorkerCommand): Promise<WorkerReply> {
  return new Promise((done) => {
    worker.once('message', (reply: WorkerReply) => done(reply));
    worker.send(command);
  });
}

async function metrics(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const values: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.length === 0) continue;
    const name = line.slice(0, line.search(/[ {]/));
    values[name] = (values[name] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return values;
}

async function main(): Promise<void> {
  const maxConnections = Number(process.argv[2] ?? 19_000);
  const redis = await ensureRedis();
  const broker = await startTestBroker();
  const kafka = createTestConnection(broker.brokers);
  const publisher = new KafkaPublisher(kafka, pino({ level: 'silent' }));
  const fanout = spawn(process.execPath, ['-r', '@swc-node/register', 'apps/fanout/src/main.ts'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      KAFKA_BROKERS: broker.brokers,
      REDIS_URL: redis.url,
      HERALD_REDIS_PREFIX: `bench:${randomBytes(4).toString('hex')}:`,
      HERALD_ADMIN_KEY: ADMIN_KEY,
      HERALD_SECRET_KEY: randomBytes(32).toString('base64'),
      HERALD_CONTRACTS: CONTRACT_DIR,
      FANOUT_PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      STREAM_MAX_CONNECTIONS_PER_KEY: '100000',
      STREAM_FETCH_MAX_WAIT_MS: '100',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((found) => {
    const lines = createInterface({ input: fanout.stdout });
    lines.on('line', (line) => {
      if (!line.includes('"listening"')) return;
      found((JSON.parse(line) as { address: { port: number } }).address.port);
    });
  });
  // The first poll answers once the live tail has started.
  for (;;) {
    const response = await fetch(
      `http://127.0.0.1:${port}/v1/streams/poll?wait=0&access_token=${ADMIN_KEY}`,
    ).catch(() => null);
    if (response?.status === 200) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const workers = Array.from({ length: WORKERS }, () =>
    fork(__filename, ['--worker'], { execArgv: ['-r', '@swc-node/register'] }),
  );
  let sequence = 0;
  const publish = async (count: number) => {
    const records = Array.from({ length: count }, () => {
      const n = sequence++;
      return {
        topic: 'orders.v1',
        key: `k${n % 64}`,
        value: JSON.stringify({ id: `e${n}`, n, sentAt: Date.now() }),
        headers: toKafkaHeaders({
          id: `e${n}`,
          source: '/bench',
          type: 'order.created',
          time: new Date().toISOString(),
        }),
      };
    });
    await publisher.publish(records);
  };
  const reports = async () =>
    (await Promise.all(workers.map((w) => ask(w, { cmd: 'report' })))) as Extract<
      WorkerReply,
      { kind: 'report' }
    >[];
  const waitForReceipts = async (expected: number, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const received = (await reports()).reduce((n, r) => n + r.received, 0);
      if (received >= expected || Date.now() > deadline) return received;
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  let open = 0;
  const openTo = async (target: number) => {
    const each = Math.ceil((target - open) / WORKERS);
    const replies = await Promise.all(
      workers.map((w) => ask(w, { cmd: 'open', count: each, port, key: ADMIN_KEY })),
    );
    open += replies.reduce((n, r) => n + (r.kind === 'opened' ? r.open : 0), 0) - open;
    open = (await reports()).reduce((n, r) => n + r.open, 0);
    const failed = replies.reduce((n, r) => n + (r.kind === 'opened' ? r.failed : 0), 0);
    if (failed > 0) console.log(`${failed} connections failed to open`);
  };

  const rows: string[] = [];
  const measure = async (connections: number) => {
    await openTo(connections);
    await new Promise((r) => setTimeout(r, 1000));
    const held = (await metrics(port))['herald_stream_connections'] ?? 0;
    await Promise.all(workers.map((w) => ask(w, { cmd: 'reset' })));
    for (let i = 0; i < LATENCY_EVENTS; i++) {
      await publish(1);
      await new Promise((r) => setTimeout(r, LATENCY_SPACING_MS));
    }
    await waitForReceipts(held * LATENCY_EVENTS, 30_000);
    const latencies = (await reports()).flatMap((r) => r.latencies).sort((a, b) => a - b);
    await Promise.all(workers.map((w) => ask(w, { cmd: 'reset' })));
    const started = Date.now();
    await publish(BURST_EVENTS);
    const got = await waitForReceipts(held * BURST_EVENTS, 120_000);
    const seconds = (Date.now() - started) / 1000;
    const row = {
      connections: held,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies[latencies.length - 1] ?? NaN,
      perSecond: Math.round(got / seconds),
    };
    console.log(row);
    rows.push(
      `| ${row.connections.toLocaleString('en')} | ${row.p50} | ${row.p99} | ${row.max} | ${row.perSecond.toLocaleString('en')} |`,
    );
  };

  // Memory first, on idle connections, before traffic leaves garbage on the heap.
  const before = await metrics(port);
  await openTo(maxConnections);
  await new Promise((r) => setTimeout(r, 3000));
  const after = await metrics(port);
  const held = after['herald_stream_connections'] ?? 0;
  const rssPer =
    (after['process_resident_memory_bytes']! - before['process_resident_memory_bytes']!) / held;
  const heapPer =
    (after['nodejs_heap_size_used_bytes']! - before['nodejs_heap_size_used_bytes']!) / held;
  console.log({ held, rssPer, heapPer });
  await Promise.all(workers.map((w) => ask(w, { cmd: 'trim', keep: 1_000 / WORKERS })));
  open = 1_000;
  await new Promise((r) => setTimeout(r, 2000));
  await measure(1_000);
  await measure(10_000);
  await measure(maxConnections);

  writeResults(
    RESULTS,
    `# Streams: SSE connections, latency, throughput

One fanout process (\`apps/fanout/src/main.ts\`, run as its own process) against the embedded
broker; SSE clients are raw sockets in ${WORKERS} worker processes on the same ${cpus().length}-core machine
(Node ${process.version}). Every client subscribes to \`order.created\` with no filter, so every
event goes to every connection.

## Connections and memory

| connections held | RSS per connection | JS heap per connection |
|---:|---:|---:|
| ${held.toLocaleString('en')} | ${(rssPer / 1024).toFixed(1)} KiB | ${(heapPer / 1024).toFixed(1)} KiB |

Measured as the growth of \`process_resident_memory_bytes\` and \`nodejs_heap_size_used_bytes\`
from before the first connection to ${held.toLocaleString('en')} idle connections, divided by the
count. The ceiling is the file-descriptor limit (\`ulimit -n\` = 20,000 here): one socket per client
plus the process's own.

## Publish to receipt, and events pushed

${LATENCY_EVENTS} events published ${LATENCY_SPACING_MS} ms apart; latency is from just before the
publish call to the moment a client socket read the frame (ms, all connections × all events). Then
a burst of ${BURST_EVENTS} events at once; events/s counts deliveries (events × connections) until
the last connection had the last event.

| connections | p50 ms | p99 ms | max ms | events/s pushed |
|---:|---:|---:|---:|---:|
${rows.join('\n')}

Targets: 20,000 connections under 10 KiB each; p99 under 200 ms to 10,000 connections.

Measured ${new Date().toISOString().slice(0, 10)} with \`node -r @swc-node/register tools/bench/src/streams.bench.ts ${maxConnections}\`.
`,
  );
  console.log(`results written to ${RESULTS}`);
  for (const worker of workers) worker.send({ cmd: 'close' });
  fanout.kill('SIGTERM');
  await new Promise((r) => fanout.once('exit', r));
  await publisher.close();
  await kafka.close();
  await broker.stop();
  await redis.stop();
}

if (process.argv.includes('--worker')) runWorker();
else
  void main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
