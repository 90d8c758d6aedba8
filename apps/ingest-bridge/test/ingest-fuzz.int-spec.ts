// Property test of HTTP ingest under hostile input: arbitrary bodies, content types, CloudEvents
// headers, ids, authorization forms and batches with hostile members, sent as raw HTTP/1.1 so
// header bytes are exactly what the generator chose. Every answer must be a 2xx, or a 4xx with an
// RFC 9457 problem body (the broker is up, so never a 5xx); the process must keep serving; and
// nothing that breaks the contract may land on a Kafka topic.
import { connect } from 'node:net';
import fc from 'fast-check';
import {
  collect,
  createTestConnection,
  startTestBroker,
  type RunningBroker,
} from '@herald/kafka/testing';
import { ADMIN_KEY, post, startIngestApp, type IngestApp } from './ingest-app.fixture';

jest.setTimeout(120_000);

interface RawRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Buffer;
}

interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** One request over its own connection, bytes as given; fails after 10 s without an answer. */
function rawRequest(port: number, request: RawRequest): Promise<RawResponse> {
  const head = [
    `${request.method} ${request.path} HTTP/1.1`,
    'host: 127.0.0.1',
    'connection: close',
    `content-length: ${request.body.length}`,
    ...request.headers.map(([name, value]) => `${name}: ${value}`),
  ].join('\r\n');
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within 10 s to ${request.method} ${request.path}`));
    }, 10_000);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const bytes = Buffer.concat(chunks);
      if (bytes.includes('\r\n\r\n')) resolve(parseResponse(bytes));
      else reject(new Error(`connection closed without a response: ${bytes.toString()}`));
    });
    socket.write(Buffer.concat([Buffer.from(`${head}\r\n\r\n`, 'utf8'), request.body]));
  });
}

function parseResponse(bytes: Buffer): RawResponse {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no complete response: ${JSON.stringify(bytes.toString())}`);
  const [statusLine = '', ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(statusLine.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = bytes.subarray(end + 4);
  if (headers['transfer-encoding'] === 'chunked') {
    const parts: Buffer[] = [];
    for (let at = 0; ;) {
      const lineEnd = body.indexOf('\r\n', at);
      const size = parseInt(body.subarray(at, lineEnd).toString(), 16);
      if (!size) break;
      parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  }
  return { status, headers, body: body.toString('utf8') };
}

let broker: RunningBroker;
let ingest: IngestApp;
let port: number;

beforeAll(async () => {
  broker = await startTestBroker();
  ingest = await startIngestApp(broker.brokers);
  port = Number(new URL(ingest.url).port);
});

let brokerStopped = false;

afterAll(async () => {
  await ingest?.stop();
  if (!brokerStopped) await broker?.stop();
});

// ---- generators -------------------------------------------------------------------------------

const CONTROL_CHARS =
  Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join('') + '\x7f';

/** Header values: ordinary, huge, unicode, and bytes HTTP forbids. */
const headerValue = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom(
    '',
    ' ',
    'x'.repeat(1025),
    'x'.repeat(60_000),
    '1.0',
    '2.0',
    'order.created',
    '2025-03-14T12:00:00Z',
    '2025-02-30T25:61:00Z',
    'not-a-time',
    '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    '00-zz-zz-zz',
    '__proto__',
    'constructor',
    '../../etc/passwd',
    '%00',
    'ümlaut-ключ-🔑',
  ),
  fc.string({ unit: fc.constantFrom(...CONTROL_CHARS, 'a', ' '), minLength: 1, maxLength: 5 }),
);

const ceHeaderName = fc.oneof(
  fc.constantFrom(
    'ce-id',
    'ce-specversion',
    'ce-type',
    'ce-source',
    'ce-time',
    'ce-subject',
    'ce-datacontenttype',
    'ce-dataschema',
    'ce-traceparent',
    'ce-myext',
    'ce-UPPER',
    'ce-',
    'ce-__proto__',
    'ce-' + 'x'.repeat(30),
    'idempotency-key',
    'herald-key',
    'traceparent',
  ),
  fc.stringMatching(/^ce-[a-z0-9_-]{0,24}$/),
);

const authorization = fc.oneof(
  fc.constant(`Bearer ${ADMIN_KEY}`),
  fc.constant(`Bearer ${ADMIN_KEY}`),
  fc.constantFrom(
    `bearer ${ADMIN_KEY}`,
    `Bearer  ${ADMIN_KEY}`,
    `Bearer ${ADMIN_KEY} extra`,
    'Bearer ',
    'Bearer',
    `Basic ${Buffer.from(`admin:${ADMIN_KEY}`).toString('base64')}`,
    `Bearer ${'k'.repeat(10_000)}`,
    'Bearer hk_live_0000000000000000',
    'Bearer ключ',
    '',
  ),
  headerValue.map((value) => `Bearer ${value}`),
);

const contentType = fc.oneof(
  fc.constantFrom(
    'application/json',
    'application/json',
    'application/cloudevents+json',
    'application/cloudevents-batch+json',
    'application/json; charset=utf-8',
    'application/JSON',
    'application/vnd.acme+json',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/octet-stream',
    'application/cloudevents+json; charset=latin1',
    '',
  ),
  headerValue,
);

/** A payload of the contract, untouched or with one field replaced by something arbitrary. */
const payload = fc
  .oneof(
    fc.constant(undefined),
    fc.jsonValue({ maxDepth: 3 }),
    fc.tuple(fc.nat(), fc.jsonValue({ maxDepth: 2 })),
  )
  .map((choice) => ({ choice }));

function payloadFor(type: string, choice: unknown): { type: string; data: unknown } {
  const example = ingest.contract.get(type)?.example as Record<string, unknown> | undefined;
  if (choice === undefined) return { type, data: { ...example } };
  if (Array.isArray(choice) && choice.length === 2 && typeof choice[0] === 'number' && example) {
    const keys = Object.keys(example);
    const key = keys[choice[0] % keys.length]!;
    return { type, data: { ...example, [key]: choice[1] as unknown } };
  }
  return { type, data: choice };
}

const eventType = fc.oneof(
  fc.constantFrom('order.created', 'order.cancelled', 'payment.failed', 'kitchen.order.ready'),
  fc.constantFrom(
    'herald.ping',
    'herald.subscription.disabled',
    'nope.unknown',
    '',
    '__proto__',
    'constructor',
    'toString',
    'order.*',
    'x'.repeat(2000),
  ),
  fc.string({ maxLength: 16 }),
);

/** A structured CloudEvent, mostly right, sometimes with a hostile attribute. */
const structuredEvent = fc
  .record({
    type: eventType,
    payload,
    id: fc.oneof(fc.uuid(), headerValue, fc.jsonValue({ maxDepth: 1 })),
    extra: fc.dictionary(
      fc.oneof(
        fc.constantFrom(
          'specversion',
          'source',
          'time',
          'datacontenttype',
          'data_base64',
          'traceparent',
          'myext',
          '__proto__',
          'constructor',
          'UPPER',
        ),
        fc.string({ maxLength: 8 }),
      ),
      fc.oneof(headerValue, fc.jsonValue({ maxDepth: 2 })),
      { maxKeys: 2 },
    ),
    dropData: fc.boolean(),
  })
  .map(({ type, payload: { choice }, id, extra, dropData }) => {
    const { data } = payloadFor(type, choice);
    const event: Record<string, unknown> = {
      specversion: '1.0',
      id,
      source: '/fuzz',
      type,
      ...(dropData ? {} : { data }),
    };
    for (const [name, value] of Object.entries(extra))
      Object.defineProperty(event, name, { value, enumerable: true, writable: true });
    return event;
  });

/** Bodies nested deeper than any schema walker should recurse. */
const deepBody = fc
  .constantFrom(1_000, 10_000, 100_000)
  .map((depth) => Buffer.from(`${'['.repeat(depth)}${']'.repeat(depth)}`));

const body = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
  fc.string({ unit: 'binary', maxLength: 200 }).map((text) => Buffer.from(text)),
  fc.jsonValue({ maxDepth: 4 }).map((value) => Buffer.from(JSON.stringify(value))),
  structuredEvent.map((event) => Buffer.from(JSON.stringify(event))),
  fc
    .array(fc.oneof(structuredEvent, fc.jsonValue({ maxDepth: 2 })), { maxLength: 6 })
    .map((events) => Buffer.from(JSON.stringify(events))),
  fc
    .tuple(eventType, payload)
    .map(([type, { choice }]) => Buffer.from(JSON.stringify(payloadFor(type, choice).data))),
  deepBody,
  fc.constantFrom(
    Buffer.from('{"a":'),
    Buffer.from('\ufeff{}'),
    Buffer.from(JSON.stringify({ big: 'x'.repeat(300 * 1024) })),
    Buffer.from(JSON.stringify(Array.from({ length: 1001 }, () => ({})))),
    Buffer.from('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}'),
    Buffer.from([0xff, 0xfe, 0x00, 0x7b]),
  ),
);

const path = fc.oneof(
  fc.constant('/v1/events'),
  eventType.map((type) => `/v1/events/${encodeURIComponent(type)}`),
  fc.constantFrom(
    '/v1/events/order.created?x=1',
    '/v1/events/%',
    '/v1/events/%ZZ',
    '/v1/events/order%2Ecreated',
    '/v1/events/..%2F..%2Fhealth',
    '/v1/events//',
  ),
);

const validType = fc.constantFrom('order.created', 'order.cancelled', 'payment.failed');

/** Requests a producer would send, most of them accepted, some with one hostile detail. */
const plausibleRequest = fc.oneof(
  fc.record({
    method: fc.constant('POST'),
    path: validType.map((type) => `/v1/events/${type}`),
    contentType: fc.constant('application/json'),
    authorization: fc.constant(`Bearer ${ADMIN_KEY}`),
    headers: fc.array(
      fc.oneof(
        fc.tuple(fc.constantFrom('ce-id', 'idempotency-key'), fc.oneof(fc.uuid(), headerValue)),
        fc.tuple(fc.constantFrom('ce-source', 'herald-key', 'ce-subject'), headerValue),
        fc.tuple(ceHeaderName, headerValue),
      ),
      { maxLength: 2 },
    ),
    body: fc.constant(Buffer.alloc(0)),
    payloadOf: fc.tuple(validType, payload),
  }),
  fc.record({
    method: fc.constant('POST'),
    path: fc.constant('/v1/events'),
    contentType: fc.constantFrom(
      'application/cloudevents+json',
      'application/cloudevents-batch+json',
    ),
    authorization: fc.constant(`Bearer ${ADMIN_KEY}`),
    headers: fc.constant([] as Array<[string, string]>),
    body: fc.constant(Buffer.alloc(0)),
    events: fc.array(
      fc.record({ type: validType, payload, id: fc.uuid() }).map(({ type, payload, id }) => ({
        specversion: '1.0',
        id,
        source: '/fuzz',
        type,
        data: payloadFor(type, payload.choice).data,
      })),
      { minLength: 1, maxLength: 4 },
    ),
  }),
);

/** A structured event or batch whose data nests far deeper than any payload schema. */
const deepDataRequest = fc
  .record({
    depth: fc.constantFrom(5_000, 20_000, 100_000),
    batch: fc.boolean(),
    id: fc.uuid(),
    array: fc.boolean(),
  })
  .map(({ depth, batch, id, array }) => {
    const [open, close] = array ? ['[', ']'] : ['{"a":', '}'];
    const data = `${open.repeat(depth)}1${close.repeat(depth)}`;
    const event = `{"specversion":"1.0","id":"${id}","source":"/fuzz","type":"order.created","data":${data}}`;
    return {
      method: 'POST',
      path: '/v1/events',
      contentType: batch ? 'application/cloudevents-batch+json' : 'application/cloudevents+json',
      authorization: `Bearer ${ADMIN_KEY}`,
      headers: [] as Array<[string, string]>,
      body: Buffer.from(batch ? `[${event}]` : event),
    };
  });

const request = fc.record({
  method: fc.constantFrom('POST', 'POST', 'POST', 'PUT', 'GET'),
  path,
  contentType: fc.option(contentType, { nil: undefined }),
  authorization: fc.option(authorization, { freq: 8, nil: undefined }),
  headers: fc.array(fc.tuple(ceHeaderName, headerValue), { maxLength: 6 }),
  body,
});

// ---- properties -------------------------------------------------------------------------------

/**
 * Header bytes HTTP forbids, or more than Node's 16 KiB of headers: the HTTP parser refuses
 * those (400, 431) before any handler runs, with Fastify's own JSON error.
 */
function refusedByHttpParser(headers: ReadonlyArray<readonly [string, string]>): boolean {
  const illegal = (text: string) => [...text].some((c) => c !== '\t' && (c < ' ' || c === '\x7f'));
  const size = headers.reduce((sum, [name, value]) => sum + Buffer.byteLength(name + value) + 4, 0);
  return headers.some(([name, value]) => illegal(name + value)) || size > 16 * 1024 - 200;
}

const anyRequest = fc.oneof(request, plausibleRequest, deepDataRequest);
type Drawn = typeof anyRequest extends fc.Arbitrary<infer T> ? T : never;

/** The bytes of a drawn request, with its content type and authorization as headers. */
function toRawRequest(drawn: Drawn): RawRequest {
  const generated = { ...drawn };
  if ('payloadOf' in drawn) {
    const [type, { choice }] = drawn.payloadOf;
    generated.body = Buffer.from(JSON.stringify(payloadFor(type, choice).data));
  }
  if ('events' in drawn) {
    const batch = drawn.contentType === 'application/cloudevents-batch+json';
    generated.body = Buffer.from(JSON.stringify(batch ? drawn.events : drawn.events[0]));
  }
  const headers: Array<[string, string]> = [...generated.headers];
  if (generated.contentType !== undefined) headers.push(['content-type', generated.contentType]);
  if (generated.authorization !== undefined)
    headers.push(['authorization', generated.authorization]);
  return { method: generated.method, path: generated.path, body: generated.body, headers };
}

/** A 2xx, or a 4xx (or with `unavailable`, a 503 with Retry-After) carrying a problem body. */
function expectAcceptableAnswer(
  response: RawResponse,
  sent: RawRequest,
  { unavailable = false } = {},
): void {
  expect(response.status).toBeGreaterThanOrEqual(200);
  if (unavailable && response.status === 503) {
    expect(response.headers['retry-after']).toMatch(/^\d+$/);
  } else {
    expect(response.status).toBeLessThan(500);
  }
  if (response.status < 400) return;
  if ((response.status === 400 || response.status === 431) && refusedByHttpParser(sent.headers))
    return;
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const problem = JSON.parse(response.body) as Record<string, unknown>;
  expect(problem).toMatchObject({ status: response.status, title: expect.any(String) });
  if (response.status === 429) expect(response.headers['retry-after']).toBeDefined();
}

describe('ingest under hostile requests', () => {
  it('answers 2xx or a 4xx problem, never a 5xx, and keeps serving', async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(anyRequest, async (drawn) => {
        const sent = toRawRequest(drawn);
        const response = await rawRequest(port, sent);
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        expectAcceptableAnswer(response, sent);
      }),
      { seed: 0x1d9e57, numRuns: 1000 },
    );
    // The run must reach the handlers both ways, or it proves little.
    const count = (low: number, high: number) =>
      [...statuses].filter(([s]) => s >= low && s < high).reduce((sum, [, n]) => sum + n, 0);
    expect(count(200, 300)).toBeGreaterThan(10);
    expect(count(400, 500)).toBeGreaterThan(100);

    const after = await post(`${ingest.url}/v1/events/order.created`, {
      ...(ingest.contract.get('order.created')!.example as object),
    });
    expect(after.status).toBe(202);
  });

  it('refuses data nested too deeply to re-serialize with a 400 naming it, in both forms', async () => {
    const data = `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`;
    const event = `{"specversion":"1.0","id":"deep-1","source":"/fuzz","type":"order.created","data":${data}}`;
    const single = await post(`${ingest.url}/v1/events`, event, {
      contentType: 'application/cloudevents+json',
    });
    expect(single).toMatchObject({
      status: 400,
      body: { errors: [{ pointer: '/data', message: 'nests too deeply to be carried' }] },
    });
    const batch = await post(`${ingest.url}/v1/events`, `[${event}]`, {
      contentType: 'application/cloudevents-batch+json',
    });
    expect(batch).toMatchObject({ status: 400, body: { errors: [{ pointer: '/0/data' }] } });
  });

  it('wrote nothing to Kafka that breaks the contract', async () => {
    const topics = new Set(
      ingest.contract
        .eventTypes()
        .map((type) => ingest.contract.get(type)!)
        .filter((type) => !type.internal)
        .map((type) => type.topic),
    );
    let total = 0;
    for (const topic of topics) {
      const end = await endOffsetSum(topic);
      if (end === 0) continue;
      const records = await collect(broker.brokers, topic, end, { timeoutMs: 20_000 });
      total += records.length;
      for (const record of records) {
        const header = (name: string) => record.headers[name]?.toString();
        const type = header('ce_type')!;
        expect(ingest.contract.get(type)?.topic).toBe(topic);
        expect(header('ce_specversion')).toBe('1.0');
        expect(header('ce_id')!.length).toBeGreaterThan(0);
        expect(header('ce_id')!.length).toBeLessThanOrEqual(1024);
        const verdict = ingest.contract.validate(type, JSON.parse(record.value!.toString()));
        expect(verdict.ok).toBe(true);
      }
    }
    expect(total).toBeGreaterThan(10);
    expect(await endOffsetSum('herald.operational')).toBe(0);
  });

  it('answers 503 with Retry-After, or a 4xx problem, while Kafka is down', async () => {
    await broker.stop();
    brokerStopped = true;
    let unavailable = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(plausibleRequest, request), async (drawn) => {
        const sent = toRawRequest(drawn);
        const response = await rawRequest(port, sent);
        if (response.status === 503) unavailable += 1;
        expectAcceptableAnswer(response, sent, { unavailable: true });
      }),
      { seed: 0x503, numRuns: 12 },
    );
    expect(unavailable).toBeGreaterThan(0);
  });
});

async function endOffsetSum(topic: string): Promise<number> {
  const admin = createTestConnection(broker.brokers, 'silent').kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic).catch(() => []);
    return offsets.reduce((sum, p) => sum + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}
