// The HTTP layer of a webhook delivery on its own: Herald's WebhookClient beside a bare undici
// Pool, POSTing a signed CloudEvent to a keep-alive receiver in a process of its own, with a
// fixed number of requests in flight. What a request costs the sender and the receiver in CPU,
// and how that changes with the number of requests (so connections) in flight at once.
//   node -r @swc-node/register tools/bench/src/webhook-client.bench.ts
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Pool } from 'undici';
import {
  WebhookClient,
  buildWebhookRequest,
  createAddressPolicy,
  type DeliveryEvent,
} from '@herald/delivery';
import { REPO_ROOT, median, writeResults } from './bench-processes';

const REQUESTS = 40_000;
const RESULTS = join(REPO_ROOT, 'tools/bench/results/webhook-client.md');
/** 16: a subscription's default maxInFlight; 64: the delivery bench's; 640: ten such subscriptions. */
const IN_FLIGHT = [16, 64, 640];
const SENDERS = ['undici, one header', 'undici, Herald headers', 'WebhookClient'] as const;
type Sender = (typeof SENDERS)[number];

/** A node:http server answering 204 to everything; reports its CPU time when asked. */
const RECEIVER_SOURCE = `
const { createServer } = require('node:http');
const server = createServer((req, res) => { req.resume(); req.on('end', () => res.writeHead(204).end()); });
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('message', () => { const u = process.cpuUsage(); process.send({ cpu: u.user + u.system }); });
`;

interface Receiver {
  readonly url: string;
  cpuMicros(): Promise<number>;
  stop(): void;
}

async function startReceiver(): Promise<Receiver> {
  const child: ChildProcess = spawn(process.execPath, ['-e', RECEIVER_SOURCE], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const next = () =>
    new Promise<{ port?: number; cpu?: number }>((resolve) => child.once('message', resolve));
  const { port } = await next();
  return {
    url: `http://127.0.0.1:${port}`,
    async cpuMicros() {
      const reply = next();
      child.send('cpu');
      return (await reply).cpu!;
    },
    stop: () => void child.kill(),
  };
}

function sampleEvent(): DeliveryEvent {
  const data = {
    orderId: 'ord_2KWPBgLlAfxdpx2AI54pPJ85f4W',
    customerId: 'cus_8f3c2a',
    total: { amount: 129.9, currency: 'EUR' },
    items: [
      { sku: 'SKU-1001', quantity: 2, price: 39.95 },
      { sku: 'SKU-2002', quantity: 1, price: 50 },
    ],
  };
  const dataJson = JSON.stringify(data);
  return {
    id: '7d2c5b1e-3f0a-4c8e-9a51-6b2f1e0d9c47',
    type: 'order.created',
    source: '/shop/orders',
    time: new Date().toISOString(),
    data,
    dataJson,
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  };
}

/** Keeps `inFlight` sends going until REQUESTS have been answered. */
async function drive(inFlight: number, send: () => Promise<void>): Promise<void> {
  let started = 0;
  await new Promise<void>((resolve, reject) => {
    let answered = 0;
    const next = (): void => {
      if (started === REQUESTS) return;
      started += 1;
      send().then(() => {
        answered += 1;
        if (answered === REQUESTS) resolve();
        else next();
      }, reject);
    };
    for (let i = 0; i < inFlight; i++) next();
  });
}

interface Sample {
  perSecond: number;
  senderMicros: number;
  receiverMicros: number;
}

async function measure(
  receiver: Receiver,
  sender: Sender,
  inFlight: number,
  event: DeliveryEvent,
): Promise<Sample> {
  const request = buildWebhookRequest({
    event,
    subscription: {
      id: 'sub_bench',
      url: `${receiver.url}/hook`,
      format: 'cloudevents',
      secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
      headers: {},
      auth: null,
    },
    attempt: 1,
    replay: false,
    nowMs: Date.now(),
    version: '0.1.0',
  });
  let send: () => Promise<void>;
  let close: () => Promise<unknown>;
  if (sender === 'WebhookClient') {
    const client = new WebhookClient({
      policy: createAddressPolicy(['127.0.0.0/8']),
    });
    const pool = { key: 'sub_bench', connections: inFlight };
    send = async () => {
      const result = await client.send(request, pool);
      if (result.kind !== 'response' || result.status !== 204)
        throw new Error(`delivery failed: ${JSON.stringify(result)}`);
    };
    close = () => client.close();
  } else {
    const pool = new Pool(receiver.url, { connections: inFlight });
    const headers =
      sender === 'undici, one header'
        ? { 'content-type': 'application/json' }
        : { ...request.headers };
    send = async () => {
      const response = await pool.request({
        path: '/hook',
        method: 'POST',
        headers,
        body: request.body,
      });
      await response.body.dump();
      if (response.statusCode !== 204) throw new Error(`answered ${response.statusCode}`);
    };
    close = () => pool.close();
  }
  // Warm-up: connections open, JIT settled; unmeasured.
  await drive(inFlight, send);
  const receiverFrom = await receiver.cpuMicros();
  const cpuFrom = process.cpuUsage();
  const from = performance.now();
  await drive(inFlight, send);
  const seconds = (performance.now() - from) / 1000;
  const cpu = process.cpuUsage(cpuFrom);
  const receiverTo = await receiver.cpuMicros();
  await close();
  return {
    perSecond: REQUESTS / seconds,
    senderMicros: (cpu.user + cpu.system) / REQUESTS,
    receiverMicros: (receiverTo - receiverFrom) / REQUESTS,
  };
}

async function main(): Promise<void> {
  const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3) || 3);
  const receiver = await startReceiver();
  const event = sampleEvent();
  const samples = new Map<string, Sample[]>();
  try {
    for (let round = 1; round <= rounds; round++) {
      process.stdout.write(`round ${round} of ${rounds}\n`);
      // Interleaved, so a drift in the machine's speed touches every case alike.
      for (const inFlight of IN_FLIGHT)
        for (const sender of SENDERS) {
          const sample = await measure(receiver, sender, inFlight, event);
          const key = `${sender}|${inFlight}`;
          samples.set(key, [...(samples.get(key) ?? []), sample]);
          process.stdout.write(
            `${sender}, ${inFlight} in flight: ${Math.round(sample.perSecond)} requests/s; CPU a request: sender ${sample.senderMicros.toFixed(1)} µs, receiver ${sample.receiverMicros.toFixed(1)} µs\n`,
          );
        }
    }
  } finally {
    receiver.stop();
  }
  writeResults(RESULTS, report(samples, rounds));
}

function report(samples: Map<string, Sample[]>, rounds: number): string {
  const n = (value: number) => Math.round(value).toLocaleString('en-US');
  const rows = IN_FLIGHT.flatMap((inFlight) =>
    SENDERS.map((sender) => {
      const runs = samples.get(`${sender}|${inFlight}`)!;
      const rates = runs.map((s) => s.perSecond);
      return `| ${sender} | ${inFlight} | ${n(median(rates))} (${n(Math.min(...rates))}–${n(Math.max(...rates))}) | ${median(runs.map((s) => s.senderMicros)).toFixed(1)} µs | ${median(runs.map((s) => s.receiverMicros)).toFixed(1)} µs |`;
    }),
  );
  return `# Webhook client

The HTTP part of a delivery alone: ${n(REQUESTS)} POSTs of one signed structured CloudEvent
(the body and headers fanout sends) to a keep-alive \`node:http\` receiver that answers 204, in
a process of its own, with a fixed number of requests in flight (each on its own connection).
The senders: a bare undici \`Pool\` with one header (as the delivery bench's baseline), the same
with the nine headers Herald sends, and Herald's \`WebhookClient\` (address policy, deadline,
response capture, a pool per subscription). CPU a request: the sending process's and the
receiver's, over the measured part. Everything on the same 2-core machine.

${rounds} rounds, the cases interleaved in each; medians, with the range of requests/s.

| sender | in flight | requests/s | sender CPU a request | receiver CPU a request |
| --- | ---: | ---: | ---: | ---: |
${rows.join('\n')}

Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench webhook-client\` (Node ${process.version}).
`;
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
