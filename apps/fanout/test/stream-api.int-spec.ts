import { request as httpRequest } from 'node:http';
import WebSocket from 'ws';
import { DeliveryLogRepository, RedisConnection, storeKeys } from '@herald/store';
import {
  ADMIN_KEY,
  openSse,
  startFanoutApp,
  startStreamWorld,
  testEvents,
  waitFor,
  type RunningFanout,
  type StreamWorld,
} from './stream-app.fixture';

interface PollBody {
  events: { id: string; type: string; data: { n: number } }[];
  cursor: string;
}

describe('stream API: selection, positions, durable subscriptions, bad input', () => {
  let world: StreamWorld;
  let fanout: RunningFanout;

  beforeAll(async () => {
    world = await startStreamWorld();
    fanout = await startFanoutApp(world, { STREAM_MAX_CONNECTIONS_PER_KEY: '4' });
  });

  afterAll(async () => {
    await fanout?.stop();
    await world?.stop();
  });

  async function get(path: string, key: string | null = ADMIN_KEY) {
    const response = await fetch(`${fanout.url}${path}`, {
      headers: key === null ? {} : { authorization: `Bearer ${key}` },
    });
    const text = await response.text();
    return { status: response.status, body: JSON.parse(text) as Record<string, unknown> };
  }

  async function poll(query: string, key = ADMIN_KEY): Promise<PollBody> {
    const { status, body } = await get(`/v1/streams/poll?${query}`, key);
    expect({ status, body }).toMatchObject({ status: 200 });
    return body as unknown as PollBody;
  }

  function wsOpen(query = '', key: string | null = ADMIN_KEY) {
    const url = `${fanout.url.replace('http', 'ws')}/v1/streams/ws${query}`;
    const socket = new WebSocket(url, {
      headers: key === null ? {} : { authorization: `Bearer ${key}` },
    });
    const messages: Record<string, unknown>[] = [];
    socket.on('message', (data: Buffer) =>
      messages.push(JSON.parse(data.toString('utf8')) as Record<string, unknown>),
    );
    const opened = new Promise<void>((done, failed) => {
      socket.once('open', () => done());
      socket.once('unexpected-response', (_request, response) =>
        failed(new Error(`HTTP ${response.statusCode}`)),
      );
      socket.once('error', failed);
    });
    const send = (message: unknown) =>
      socket.send(typeof message === 'string' ? message : JSON.stringify(message));
    return { socket, messages, opened, send };
  }

  it('sends only the types asked for that pass the filter', async () => {
    const client = openSse(
      `${fanout.url}/v1/streams/sse?types=order.*&filter=${encodeURIComponent('{"data.total":{"$gte":50}}')}`,
    );
    await client.opened;
    const events = testEvents('filter', 12);
    await world.publish(events);
    const expected = events
      .filter((e) => e.type.startsWith('order.') && e.total! >= 50)
      .map((e) => e.id);
    await waitFor(() => client.messages.length >= expected.length);
    await new Promise((done) => setTimeout(done, 200));
    client.close();
    expect(client.messages.map((m) => m.data.id).sort()).toEqual(expected.sort());
  });

  it('holds a key to its streams:read type patterns (403 outside them, its own types by default)', async () => {
    const key = await world.createKey([{ scope: 'streams:read', types: ['order.*'] }]);
    const refused = await get('/v1/streams/poll?types=kitchen.step&wait=0', key);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ code: 'streams.types_forbidden' });
    expect((await get('/v1/streams/poll?types=**&wait=0', key)).status).toBe(403);

    const start = await poll('wait=0', key);
    await world.publish(testEvents('scoped', 6));
    const got = await poll(`cursor=${start.cursor}&wait=5&limit=100`, key);
    await waitFor(async () => {
      const more = await poll(`cursor=${got.cursor}&wait=0`, key);
      got.events.push(...more.events);
      got.cursor = more.cursor;
      return got.events.length >= 4;
    });
    expect(got.events.map((e) => e.type).sort()).toEqual([
      'order.created',
      'order.created',
      'order.paid',
      'order.paid',
    ]);
  });

  it('starts from a time at the first event written at or after it', async () => {
    const filter = encodeURIComponent('{"id":{"$regex":"^fromtime-"}}');
    await world.publish(testEvents('fromtime-a', 6));
    await new Promise((done) => setTimeout(done, 30));
    const at = new Date().toISOString();
    await new Promise((done) => setTimeout(done, 30));
    const later = testEvents('fromtime-b', 6);
    await world.publish(later);
    const body = await poll(`from=${at}&filter=${filter}&wait=0&limit=100`);
    expect(body.events.map((e) => e.id).sort()).toEqual(later.map((e) => e.id).sort());
    const earliest = await poll(`from=earliest&filter=${filter}&wait=0&limit=100`);
    expect(earliest.events.map((e) => e.id).sort()).toEqual(
      [...testEvents('fromtime-a', 6), ...later].map((e) => e.id).sort(),
    );
  });

  it('long-polls: waits for new events, honours limit, and chains cursors without loss or repeats', async () => {
    const first = await poll('types=kitchen.step&wait=0');
    expect(first.events).toEqual([]);
    const waiting = poll(`types=kitchen.step&cursor=${first.cursor}&wait=10`);
    await new Promise((done) => setTimeout(done, 100));
    const events = testEvents('poll', 9, ['kitchen.step']);
    await world.publish(events);
    const got = (await waiting).events;
    let cursor = (await waiting).cursor;
    while (got.length < 9) {
      const next = await poll(`types=kitchen.step&cursor=${cursor}&wait=5&limit=2`);
      expect(next.events.length).toBeLessThanOrEqual(2);
      got.push(...next.events);
      cursor = next.cursor;
    }
    expect(got.map((e) => e.id).sort()).toEqual(events.map((e) => e.id).sort());
    const started = Date.now();
    const empty = await poll(`types=kitchen.step&cursor=${cursor}&wait=1`);
    expect(empty.events).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('speaks the WebSocket protocol: subscribe, events with cursors, resume from a cursor', async () => {
    const client = wsOpen();
    await client.opened;
    client.send({ op: 'subscribe', types: ['order.created'] });
    await waitFor(() => client.messages.some((m) => m.op === 'subscribed'));
    const events = testEvents('ws', 4, ['order.created']);
    await world.publish(events);
    await waitFor(() => client.messages.filter((m) => m.op === 'event').length >= 4);
    const received = client.messages.filter((m) => m.op === 'event');
    expect(received[0]).toMatchObject({
      op: 'event',
      cursor: expect.any(String),
      event: { type: 'order.created', specversion: '1.0' },
    });
    client.socket.close();

    const resumed = wsOpen();
    await resumed.opened;
    resumed.send({ op: 'subscribe', types: ['order.created'], cursor: received[1]!.cursor });
    await waitFor(() => resumed.messages.filter((m) => m.op === 'event').length >= 2);
    await new Promise((done) => setTimeout(done, 100));
    const ids = resumed.messages
      .filter((m) => m.op === 'event')
      .map((m) => (m.event as { id: string }).id);
    expect(ids.sort()).toEqual(
      received
        .slice(2)
        .map((m) => (m.event as { id: string }).id)
        .sort(),
    );
    resumed.socket.close();
  });

  it("serves a durable subscription from its acknowledged cursor and hides another tenant's", async () => {
    const id = await world.createStreamSubscription({
      tenant: 'acme',
      types: ['kitchen.step'],
      from: 'latest',
    });
    const key = await world.createKey(['streams:read'], 'acme');
    const stranger = await world.createKey(['streams:read'], 'globex');
    expect((await get(`/v1/streams/poll?subscription=${id}&wait=0`, stranger)).status).toBe(404);
    expect(
      (await get(`/v1/streams/poll?subscription=${id}&types=order.*&wait=0`, key)).status,
    ).toBe(400);
    // It resumes where its client acknowledged: a start of its own is refused, not ignored.
    expect(
      (await get(`/v1/streams/poll?subscription=${id}&from=earliest&wait=0`, key)).status,
    ).toBe(400);
    // A WebSocket connecting for it is held to the same rules, and to one value a parameter.
    for (const query of [
      `?subscription=${id}&types=order.*`,
      `?subscription=${id}&from=earliest`,
      `?subscription=${id}&subscription=${id}`,
    ])
      await expect(wsOpen(query, key).opened).rejects.toThrow('HTTP 400');

    const start = await poll(`subscription=${id}&wait=0`, key);
    await world.publish(testEvents('durable-poll', 3, ['kitchen.step']));
    const first = await poll(`subscription=${id}&cursor=${start.cursor}&wait=5`, key);
    expect(first.events.length).toBeGreaterThan(0);
    // The next poll with the answer's cursor acknowledges what the answer held.
    await poll(`subscription=${id}&cursor=${first.cursor}&wait=0`, key);
    expect((await world.cursors.get(id))?.cursor).toBe(first.cursor);
    // An id that names one of a subscription's other keys (a delivery log, which is no hash),
    // or is no id at all, is a subscription that does not exist: 404, not a Redis error's 500.
    const redis = new RedisConnection(
      { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', prefix: world.prefix },
      'stream-api-test',
    );
    await redis.connect();
    await new DeliveryLogRepository(redis, storeKeys(world.prefix)).appendMany(id, [
      {
        eventId: 'e1',
        type: 'kitchen.step',
        attempt: 1,
        at: new Date().toISOString(),
        status: 'succeeded',
        statusCode: 204,
        durationMs: 1,
        error: null,
        responseBody: null,
        replay: false,
        test: false,
      },
    ]);
    await redis.close();
    for (const other of [`${id}:deliveries`, `${id}:stream-cursor`, 'sub_{x}', '../x'])
      expect([
        other,
        (await get(`/v1/streams/poll?subscription=${encodeURIComponent(other)}&wait=0`, key))
          .status,
      ]).toEqual([other, 404]);
    const again = await poll(`subscription=${id}&wait=5`, key);
    expect(again.events.map((e) => e.id)).toEqual(
      ['durable-poll-0', 'durable-poll-1', 'durable-poll-2'].filter(
        (eventId) => !first.events.some((e) => e.id === eventId),
      ),
    );
  });

  it.each([
    ['a malformed cursor', '/v1/streams/poll?cursor=not-a-cursor!', 400, 'streams.cursor_invalid'],
    [
      'a tampered cursor',
      '/v1/streams/poll?cursor=AQEJb3JkZXJzLnYxAQAFAAAAAA',
      400,
      'streams.cursor_invalid',
    ],
    ['a filter that is not JSON', '/v1/streams/sse?filter=%7Bnope', 400, 'streams.filter_invalid'],
    [
      'an unknown filter operator',
      `/v1/streams/sse?filter=${encodeURIComponent('{"data.n":{"$where":"1"}}')}`,
      400,
      'streams.filter_invalid',
    ],
    ['types that match nothing', '/v1/streams/sse?types=invoice.*', 400, 'streams.types_invalid'],
    ['a malformed type pattern', '/v1/streams/sse?types=order.x*', 400, 'streams.request_invalid'],
    ['a bad from', '/v1/streams/poll?from=yesterday', 400, 'streams.request_invalid'],
    ['a wait too long', '/v1/streams/poll?wait=3600', 400, 'streams.request_invalid'],
    [
      'an unknown subscription',
      '/v1/streams/poll?subscription=sub_nope',
      404,
      'streams.subscription_not_found',
    ],
  ])('refuses %s with a clear problem', async (_, path, status, code) => {
    const { status: got, body } = await get(path);
    expect(got).toBe(status);
    expect(body).toMatchObject({ status, code, detail: expect.any(String) });
  });

  it('refuses a missing key (401) and a key without streams:read (403), on every transport', async () => {
    const publisher = await world.createKey(['events:publish']);
    for (const path of ['/v1/streams/sse', '/v1/streams/poll?wait=0']) {
      expect((await get(path, null)).status).toBe(401);
      expect((await get(path, publisher)).status).toBe(403);
    }
    await expect(wsOpen('', null).opened).rejects.toThrow('HTTP 401');
    await expect(wsOpen('', publisher).opened).rejects.toThrow('HTTP 403');
    await expect(wsOpen('?subscription=sub_nope').opened).rejects.toThrow('HTTP 404');
  });

  it('answers bad WebSocket messages with errors and keeps the socket usable', async () => {
    const client = wsOpen();
    await client.opened;
    const errors = () => client.messages.filter((m) => m.op === 'error');
    const bad: unknown[] = [
      'not json',
      '[1,2]',
      { op: 'dance' },
      { op: 'ack', cursor: 'x' },
      { op: 'subscribe', types: ['order.*'], filter: { 'data.n': { $gtt: 1 } } },
      { op: 'subscribe', types: ['nothing.here'] },
      { op: 'subscribe', cursor: 'garbage!' },
    ];
    for (const [i, message] of bad.entries()) {
      client.send(message);
      await waitFor(() => errors().length > i, { what: `an error for message ${i}` });
    }
    client.socket.send(Buffer.from([1, 2, 3]), { binary: true });
    await waitFor(() => errors().length > bad.length);
    expect(errors().map((e) => e.code)).toEqual([
      'streams.request_invalid',
      'streams.request_invalid',
      'streams.request_invalid',
      'streams.request_invalid',
      'streams.filter_invalid',
      'streams.types_invalid',
      'streams.cursor_invalid',
      'streams.request_invalid',
    ]);
    expect(errors()[4]).toMatchObject({
      errors: [expect.objectContaining({ pointer: '/data.n/$gtt' })],
    });
    client.send({ op: 'subscribe', types: ['order.paid'] });
    await waitFor(() => client.messages.some((m) => m.op === 'subscribed'));
    await world.publish(testEvents('after-errors', 1, ['order.paid']));
    await waitFor(() => client.messages.some((m) => m.op === 'event'));
    client.socket.close();
  });

  it('reads an empty ?subscription= on a WebSocket as none: the socket waits for its subscribe', async () => {
    const client = wsOpen('?subscription=');
    await client.opened;
    client.send({ op: 'subscribe', types: ['kitchen.step'] });
    await waitFor(() => client.messages.length > 0, { what: 'an answer to subscribe' });
    expect(client.messages[0]).toEqual({ op: 'subscribed', subscription: null });
    await world.publish([
      ...testEvents('empty-subscription', 1, ['order.created']),
      ...testEvents('empty-subscription', 1, ['kitchen.step'], 1),
    ]);
    await waitFor(() => client.messages.some((m) => m.op === 'event'));
    await new Promise((done) => setTimeout(done, 200));
    expect(client.messages.slice(1)).toEqual([
      expect.objectContaining({
        op: 'event',
        event: expect.objectContaining({ id: 'empty-subscription-1', type: 'kitchen.step' }),
      }),
    ]);
    client.socket.close();
  });

  it('limits open streams per key', async () => {
    const key = await world.createKey(['streams:read']);
    const clients = Array.from({ length: 4 }, () =>
      openSse(`${fanout.url}/v1/streams/sse`, { key }),
    );
    await Promise.all(clients.map((c) => c.opened));
    const over = await get('/v1/streams/poll?wait=0', key);
    expect(over.status).toBe(429);
    expect(over.body).toMatchObject({ code: 'streams.connections_rate_limited' });
    for (const client of clients) client.close();
    await waitFor(async () => (await get('/v1/streams/poll?wait=0', key)).status === 200);
  });

  it('holds no stream for a client that leaves while its stream is being set up (SSE and WebSocket)', async () => {
    const key = await world.createKey(['streams:read']);
    // Each asks for the earliest events (Kafka lookups to set up) and is gone at once.
    await Promise.all(
      Array.from(
        { length: 6 },
        () =>
          new Promise<void>((done) => {
            const request = httpRequest(`${fanout.url}/v1/streams/sse?from=earliest`, {
              headers: { authorization: `Bearer ${key}` },
            });
            request.on('error', () => done());
            request.on('close', () => done());
            request.end(() => request.destroy());
          }),
      ),
    );
    // A stream being set up holds one of the key's places until it opens or finds its client
    // gone, so a socket may be refused (429) while earlier ones are still being set up.
    for (let i = 0; i < 6; i++) {
      const client = await waitFor(
        async () => {
          const candidate = wsOpen('', key);
          return candidate.opened.then(
            () => candidate,
            () => false as const,
          );
        },
        { what: 'a WebSocket to be admitted', timeoutMs: 10_000 },
      );
      client.send({ op: 'subscribe', from: 'earliest' });
      client.socket.terminate();
    }
    // None of them keeps one of the key's four streams: four at once are admitted (each poll
    // waits, so they overlap), and with four open a fifth is refused.
    await waitFor(
      async () => {
        const polls = await Promise.all(
          Array.from({ length: 4 }, () => get('/v1/streams/poll?wait=1', key)),
        );
        return polls.every((p) => p.status === 200);
      },
      { what: 'the key to have all its streams free', timeoutMs: 10_000 },
    );
    const clients = Array.from({ length: 4 }, () =>
      openSse(`${fanout.url}/v1/streams/sse`, { key }),
    );
    await Promise.all(clients.map((c) => c.opened));
    expect((await get('/v1/streams/poll?wait=0', key)).status).toBe(429);
    for (const client of clients) client.close();
  });
});
