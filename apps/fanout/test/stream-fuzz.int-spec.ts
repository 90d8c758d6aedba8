// Property tests of the stream endpoints under hostile input: arbitrary and tampered cursors
// (including well-formed ones that point at topics, partitions and offsets that do not exist)
// through poll `cursor=`, SSE `?cursor=` and `Last-Event-ID`, and WebSocket `subscribe`; other
// query parameters; and arbitrary WebSocket frames (text, binary, bad JSON, wrong ops, huge).
// Every HTTP answer is a 2xx or a 4xx problem; every WebSocket message is answered or the socket
// is closed with a reason; and a client subscribed before the run still gets its events after.
import fc from 'fast-check';
import WebSocket from 'ws';
import { encodeCursor, topicPartitionKey } from '@herald/kafka';
import {
  ADMIN_KEY,
  startFanoutApp,
  startStreamWorld,
  testEvents,
  waitFor,
  type RunningFanout,
  type StreamWorld,
} from './stream-app.fixture';

jest.setTimeout(120_000);

let world: StreamWorld;
let fanout: RunningFanout;
let validCursor: string;

beforeAll(async () => {
  world = await startStreamWorld();
  fanout = await startFanoutApp(world);
  await world.publish(testEvents('fuzz-seed', 6));
  const response = await fetch(`${fanout.url}/v1/streams/poll?wait=0&from=earliest&limit=3`, {
    headers: { authorization: `Bearer ${ADMIN_KEY}` },
  });
  validCursor = ((await response.json()) as { cursor: string }).cursor;
}, 60_000);

afterAll(async () => {
  await fanout?.stop();
  await world?.stop();
});

// ---- cursors ----------------------------------------------------------------------------------

const BASE64URL = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'];

/** Cursors with a correct checksum whose contents are anything a client could encode. */
const wellFormedCursor = fc
  .array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom('orders.v1', 'kitchen.v1', 'herald.operational', 'herald.dlq.delivery'),
        fc.string({ minLength: 1, maxLength: 40 }),
      ),
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
    ),
    { maxLength: 5 },
  )
  .map((entries) =>
    encodeCursor(new Map(entries.map(([t, p, o]) => [topicPartitionKey(t, p), o]))),
  );

const cursor = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.string({ unit: fc.constantFrom(...BASE64URL), minLength: 1, maxLength: 80 }),
  wellFormedCursor,
  fc.tuple(fc.nat(), fc.constantFrom(...BASE64URL)).map(([at, c]) => {
    const i = at % validCursor.length;
    return `${validCursor.slice(0, i)}${c}${validCursor.slice(i + 1)}`;
  }),
  fc.nat().map((cut) => validCursor.slice(0, cut % validCursor.length)),
  fc.constantFrom('', 'A'.repeat(20_000), `${'A'.repeat(8)}==`, '__proto__', '0', '-1'),
  fc.constant('valid').map(() => validCursor),
);

/** Header values fetch can send: printable ASCII. */
const asHeader = (text: string) => text.replace(/[^\x20-\x7e]/g, '').slice(0, 8000);

const queryValue = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom(
    '',
    'order.*',
    '**',
    'order.[',
    'latest',
    'earliest',
    '2025-02-30T00:00:00Z',
    '1970-01-01T00:00:00Z',
    '9999-12-31T23:59:59Z',
    '-1',
    '1e9',
    'NaN',
    '{"data.total":{"$gt":1}}',
    '{"id":{"$regex":"^(a|a)*$"}}',
    '{"$where":"1"}',
    `${'{"$and":['.repeat(1500)}{}${']}'.repeat(1500)}`,
    '[]',
  ),
);

const streamQuery = fc.record(
  {
    cursor,
    types: queryValue,
    filter: queryValue,
    from: queryValue,
    limit: queryValue,
    wait: fc.constantFrom('0', '0', '-1', 'x', '1.5'),
    subscription: fc.oneof(fc.string({ maxLength: 20 }), fc.constant('sub_0000000000000000000000')),
  },
  { requiredKeys: [] },
);

/** Just a cursor: a valid one, or one well-formed but pointing anywhere. */
const cursorOnly = fc.record({
  cursor: fc.oneof(
    wellFormedCursor,
    fc.constant('valid').map(() => validCursor),
  ),
});

async function expectProblemOrSuccess(response: Response): Promise<void> {
  expect(response.status).toBeLessThan(500);
  if (response.status < 400) return;
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(await response.json()).toMatchObject({
    status: response.status,
    title: expect.any(String),
  });
}

describe('stream cursors and parameters under hostile input', () => {
  it('poll answers 200 or a 4xx problem', async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.oneof(streamQuery, cursorOnly), async (query: Record<string, string>) => {
        const params = new URLSearchParams({ wait: '0', ...query });
        const response = await fetch(`${fanout.url}/v1/streams/poll?${params.toString()}`, {
          headers: { authorization: `Bearer ${ADMIN_KEY}` },
        });
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        await expectProblemOrSuccess(response);
      }),
      { seed: 0x5e11, numRuns: 300 },
    );
    expect(statuses.get(200) ?? 0).toBeGreaterThan(5);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(50);
  });

  it('SSE answers an open stream or a 4xx problem, for ?cursor= and Last-Event-ID', async () => {
    await fc.assert(
      fc.asyncProperty(streamQuery, cursor, fc.boolean(), async (query, lastEventId, header) => {
        const params = new URLSearchParams(query);
        params.delete('wait');
        const abort = new AbortController();
        const response = await fetch(`${fanout.url}/v1/streams/sse?${params.toString()}`, {
          headers: {
            authorization: `Bearer ${ADMIN_KEY}`,
            ...(header ? { 'last-event-id': asHeader(lastEventId) } : {}),
          },
          signal: abort.signal,
        });
        try {
          await expectProblemOrSuccess(response);
          if (response.status === 200)
            expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
        } finally {
          abort.abort();
        }
      }),
      { seed: 0x55e, numRuns: 200 },
    );
  });
});

// ---- WebSocket ----------------------------------------------------------------------------------

interface Client {
  socket: WebSocket;
  messages: Record<string, unknown>[];
  closed: Promise<{ code: number; reason: string }>;
}

async function openWs(): Promise<Client> {
  const socket = new WebSocket(`${fanout.url.replace('http', 'ws')}/v1/streams/ws`, {
    headers: { authorization: `Bearer ${ADMIN_KEY}` },
  });
  const messages: Record<string, unknown>[] = [];
  socket.on('message', (data: Buffer) =>
    messages.push(JSON.parse(data.toString('utf8')) as Record<string, unknown>),
  );
  const closed = new Promise<{ code: number; reason: string }>((done) =>
    socket.once('close', (code, reason) => done({ code, reason: reason.toString() })),
  );
  socket.on('error', () => undefined);
  await new Promise<void>((done, failed) => {
    socket.once('open', () => done());
    socket.once('error', failed);
  });
  return { socket, messages, closed };
}

const jsonMessage = fc
  .record(
    {
      op: fc.oneof(
        fc.constantFrom('subscribe', 'ack', 'SUBSCRIBE', 'unsubscribe', '', '__proto__'),
        fc.jsonValue({ maxDepth: 1 }),
      ),
      types: fc.oneof(fc.array(queryValue, { maxLength: 3 }), fc.jsonValue({ maxDepth: 2 })),
      filter: fc.oneof(
        queryValue.map((text) => {
          try {
            return JSON.parse(text) as unknown;
          } catch {
            // Not JSON: sent as the string it is.
            return text;
          }
        }),
        fc.jsonValue({ maxDepth: 3 }),
      ),
      from: queryValue,
      cursor: fc.oneof(cursor, fc.jsonValue({ maxDepth: 1 })),
      subscription: fc.oneof(fc.string({ maxLength: 20 }), fc.jsonValue({ maxDepth: 1 })),
    },
    { requiredKeys: [] },
  )
  .map((message) => ({ kind: 'text' as const, data: JSON.stringify(message) }));

const frame = fc.oneof(
  { weight: 4, arbitrary: jsonMessage },
  fc.string({ maxLength: 60 }).map((data) => ({ kind: 'text' as const, data })),
  fc
    .uint8Array({ maxLength: 100 })
    .map((data) => ({ kind: 'binary' as const, data: Buffer.from(data) })),
  fc.constantFrom(
    { kind: 'text' as const, data: '{"op":"subscribe"' },
    { kind: 'text' as const, data: 'null' },
    { kind: 'text' as const, data: '[]' },
    { kind: 'text' as const, data: `{"op":"subscribe","types":["${'x'.repeat(70_000)}"]}` },
    { kind: 'text' as const, data: `${'['.repeat(30_000)}${']'.repeat(30_000)}` },
    { kind: 'text' as const, data: '{"op":"subscribe","types":["order.*"]}' },
  ),
);

describe('WebSocket messages under hostile input', () => {
  it('answers every frame or closes with a reason, while a subscribed client keeps receiving', async () => {
    const bystander = await openWs();
    bystander.socket.send(JSON.stringify({ op: 'subscribe', types: ['kitchen.step'] }));
    await waitFor(() => bystander.messages.some((m) => m.op === 'subscribed'), {
      what: 'the bystander to subscribe',
    });
    const closes = new Map<number, number>();

    await fc.assert(
      fc.asyncProperty(fc.array(frame, { minLength: 1, maxLength: 3 }), async (frames) => {
        const client = await openWs();
        let closedWith: { code: number; reason: string } | undefined;
        void client.closed.then((close) => (closedWith = close));
        for (const [index, sent] of frames.entries()) {
          if (closedWith) break;
          client.socket.send(sent.data, { binary: sent.kind === 'binary' });
          await waitFor(() => closedWith !== undefined || replies(client) > index, {
            what: `an answer to ${sent.kind} frame ${JSON.stringify(sent.data).slice(0, 200)}`,
            timeoutMs: 10_000,
          });
        }
        if (closedWith) {
          closes.set(closedWith.code, (closes.get(closedWith.code) ?? 0) + 1);
          expect(closedWith.code).not.toBe(1006);
          expect(closedWith.code).not.toBe(1011);
          expect(closedWith.reason.length + String(closedWith.code).length).toBeGreaterThan(0);
        }
        for (const message of client.messages.filter((m) => m.op === 'error')) {
          expect(message).toMatchObject({ code: expect.any(String), message: expect.any(String) });
          expect(message.status).toBeLessThan(500);
        }
        client.socket.close();
        await client.closed;
      }),
      { seed: 0x3e5, numRuns: 150 },
    );
    // A message over the 64 KiB limit closes the socket with 1009 (message too big).
    expect(closes.get(1009) ?? 0).toBeGreaterThan(0);

    const after = testEvents('after-ws-fuzz', 3, ['kitchen.step']);
    await world.publish(after);
    await waitFor(
      () =>
        after.every((e) =>
          bystander.messages.some(
            (m) => m.op === 'event' && (m.event as { id?: string } | undefined)?.id === e.id,
          ),
        ),
      { what: 'the bystander to receive the events published after the run' },
    );
    bystander.socket.close();
    await bystander.closed;
  });
});

/** Replies that answer a client message (events and heartbeats do not). */
function replies(client: Client): number {
  return client.messages.filter(
    (m) => m.op === 'error' || m.op === 'subscribed' || m.op === 'acked',
  ).length;
}
