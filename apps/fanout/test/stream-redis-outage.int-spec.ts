import type { IncomingHttpHeaders } from 'node:http';
import WebSocket from 'ws';
import { RedisConnection, storeKeys } from '@herald/store';
import { queuedCommands } from '@herald/store/testing';
import { startRedisServer } from '@herald/test-harness';
import {
  ADMIN_KEY,
  metricValue,
  startFanoutApp,
  startStreamWorld,
  testEvents,
  waitFor,
  type StreamWorld,
} from './stream-app.fixture';

/** Far beyond the deadline: on a server that waits for Redis, the test fails instead of hanging. */
const NEVER_ANSWERED_MS = 10_000;
const REDIS_TIMEOUT_MS = 500;

interface Answer {
  status: number;
  headers: { get(name: string): string | null };
  body: Record<string, unknown>;
}

function expectRedisUnavailable(answer: Answer, what: string): void {
  expect([what, answer.status]).toEqual([what, 503]);
  expect([what, answer.headers.get('retry-after')]).toEqual([what, '5']);
  expect([what, answer.headers.get('content-type')]).toEqual([
    what,
    expect.stringContaining('application/problem+json'),
  ]);
  expect([what, answer.body]).toEqual([
    what,
    expect.objectContaining({
      status: 503,
      code: 'streams.unavailable',
      detail: expect.stringContaining('Redis'),
    }),
  ]);
}

describe('streams while Redis stops answering', () => {
  let redis: Awaited<ReturnType<typeof startRedisServer>>;
  let world: StreamWorld;
  let fanout: Awaited<ReturnType<typeof startFanoutApp>>;
  let subscriptionId: string;
  /** A key used before each outage (cached or not, its sockets are open already). */
  let socketKey: string;
  const cursors: string[] = [];

  const resume = () => redis?.resume();

  beforeAll(async () => {
    // Its own redis-server, so it can be stopped (SIGSTOP) and killed.
    redis = await startRedisServer();
    world = await startStreamWorld({ redisUrl: redis.url });
    fanout = await startFanoutApp(world, { STREAM_REDIS_TIMEOUT_MS: String(REDIS_TIMEOUT_MS) });
    subscriptionId = await world.createStreamSubscription({
      tenant: 'acme',
      types: ['kitchen.step'],
      filter: { id: { $regex: '^outage-' } },
      from: 'earliest',
    });
    socketKey = await world.createKey(['streams:read']);
    await world.publish(
      testEvents('outage', 3, ['kitchen.step']).map((e) => ({ ...e, key: 'one-partition' })),
    );
  }, 60_000);

  afterAll(async () => {
    resume();
    await fanout?.stop();
    await world?.stop();
    await redis?.stop();
  });

  /** A GET answered (headers read), or thrown at NEVER_ANSWERED_MS; a stream's body is dropped. */
  async function get(path: string, key: string): Promise<Answer> {
    const response = await fetch(`${fanout.url}${path}`, {
      headers: { authorization: `Bearer ${key}` },
      signal: AbortSignal.timeout(NEVER_ANSWERED_MS),
    });
    const json = response.headers.get('content-type')?.includes('json') ?? false;
    const body = json ? ((await response.json()) as Record<string, unknown>) : {};
    if (!json) await response.body?.cancel();
    return { status: response.status, headers: response.headers, body };
  }

  /** What a WebSocket upgrade was answered: opened (then closed again), or the refusal. */
  function upgrade(query: string, key: string): Promise<Answer | 'opened'> {
    return new Promise((done, failed) => {
      const socket = new WebSocket(`${fanout.url.replace('http', 'ws')}/v1/streams/ws${query}`, {
        headers: { authorization: `Bearer ${key}` },
        handshakeTimeout: NEVER_ANSWERED_MS,
      });
      socket.once('open', () => {
        socket.close();
        done('opened');
      });
      socket.once('unexpected-response', (_request, response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        response.on('end', () => {
          const headers: IncomingHttpHeaders = response.headers;
          done({
            status: response.statusCode ?? 0,
            headers: { get: (name) => (headers[name] as string | undefined) ?? null },
            body: JSON.parse(text) as Record<string, unknown>,
          });
        });
      });
      socket.once('error', failed);
    });
  }

  /** A durable WebSocket stream of the test's subscription, its events read. */
  async function connectDurable() {
    const socket = new WebSocket(
      `${fanout.url.replace('http', 'ws')}/v1/streams/ws?subscription=${subscriptionId}`,
      { headers: { authorization: `Bearer ${socketKey}` } },
    );
    const messages: Record<string, unknown>[] = [];
    socket.on('message', (data: Buffer) =>
      messages.push(JSON.parse(data.toString('utf8')) as Record<string, unknown>),
    );
    const replies = () => messages.filter((m) => m.op === 'acked' || m.op === 'error');
    const events = () => messages.filter((m) => m.op === 'event') as { cursor: string }[];
    await waitFor(() => messages.some((m) => m.op === 'subscribed'), { what: 'the stream' });
    // The first connect, before any ack: the events' cursors, for the acks of every test.
    if (cursors.length === 0) {
      await waitFor(() => events().length >= 3, { what: 'the durable stream to send its events' });
      cursors.push(...events().map((m) => m.cursor));
    }
    const ack = (cursor: string) => socket.send(JSON.stringify({ op: 'ack', cursor }));
    return { socket, messages, replies, ack };
  }

  const unavailable = (operation: string, reason?: string) =>
    metricValue(
      fanout.url,
      'herald_stream_redis_unavailable_total',
      reason === undefined
        ? `operation="${operation}"`
        : `operation="${operation}",reason="${reason}"`,
    );

  it('answers stream requests, upgrades and acks 503 with Retry-After while Redis hangs, and serves them once it answers', async () => {
    const client = await connectDurable();
    // Keys never used yet: neither the admin key nor cached, so they are looked up in Redis.
    const sseKey = await world.createKey(['streams:read']);
    const wsKey = await world.createKey(['streams:read']);

    // Stopped (SIGSTOP): the connection stays up and nothing answers, as in a network partition.
    redis.hang();
    let answers: [Answer, Answer, Answer, Answer | 'opened'];
    try {
      client.ack(cursors[1]!);
      answers = await Promise.all([
        get('/v1/streams/sse', sseKey),
        // The admin key needs no Redis: these wait for the durable subscription.
        get(`/v1/streams/sse?subscription=${subscriptionId}`, ADMIN_KEY),
        get(`/v1/streams/poll?subscription=${subscriptionId}&wait=0`, ADMIN_KEY),
        upgrade('', wsKey),
      ]);
      await waitFor(() => client.replies().length > 0, {
        timeoutMs: NEVER_ANSWERED_MS,
        what: 'an answer to the ack',
      });
    } finally {
      resume();
    }
    const [sse, durableSse, durablePoll, refused] = answers;
    expectRedisUnavailable(sse, 'an SSE request with an uncached key');
    expectRedisUnavailable(durableSse, 'a durable SSE stream');
    expectRedisUnavailable(durablePoll, 'a durable poll');
    expect(refused).not.toBe('opened');
    expectRedisUnavailable(refused as Answer, 'a WebSocket upgrade with an uncached key');
    expect(client.replies()).toEqual([
      expect.objectContaining({ op: 'error', code: 'streams.unavailable', status: 503 }),
    ]);
    expect(client.socket.readyState).toBe(WebSocket.OPEN);

    // Redis answers again: the same requests work, on the same socket too, once fanout has read
    // Redis's answer to its probe (the circuit may still refuse a request that arrives first).
    await waitFor(async () => (await get('/v1/streams/sse', sseKey)).status === 200, {
      what: 'an SSE request to be served again',
    });
    expect(
      (await get(`/v1/streams/poll?subscription=${subscriptionId}&wait=0`, ADMIN_KEY)).status,
    ).toBe(200);
    expect(await upgrade('', wsKey)).toBe('opened');
    client.ack(cursors[1]!);
    await waitFor(() => client.replies().length > 1, { what: 'the ack to be stored' });
    expect(client.replies()[1]).toEqual({ op: 'acked', cursor: cursors[1] });
    expect((await world.cursors.get(subscriptionId))?.cursor).toBe(cursors[1]);
    client.socket.close();

    // Those that waited out the deadline; refusals while the circuit closed are not counted here.
    expect([
      await unavailable('authenticate', 'timeout'),
      await unavailable('read', 'timeout'),
      await unavailable('ack', 'timeout'),
    ]).toEqual([2, 2, 1]);
  }, 60_000);

  it('writes one ack of a socket at a time however fast it acks, the newest one next', async () => {
    const client = await connectDurable();
    // Every command Redis runs, in order, to count the writes of this subscription's cursor.
    const watcher = new RedisConnection({ url: redis.url, prefix: world.prefix }, 'watcher');
    const monitor = await watcher.client.monitor();
    const cursorKey = storeKeys(world.prefix).streamCursor(subscriptionId);
    const writes: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args[0]?.toLowerCase() === 'hset' && args[1] === cursorKey) writes.push(args[3]!);
    });
    try {
      redis.hang();
      try {
        for (let i = 0; i < 200; i++) client.ack(cursors[i % 2]!);
        // Every ack is answered: past the deadline, the write in flight, the newest one waiting
        // and those it replaced before their writes started.
        await waitFor(() => client.replies().length >= 200, {
          timeoutMs: NEVER_ANSWERED_MS,
          what: 'answers to the acks',
        });
      } finally {
        resume();
      }
      // Written in order: once Redis has the last cursor, it has had every write before it.
      client.ack(cursors[2]!);
      await waitFor(() => writes.includes(cursors[2]!), {
        timeoutMs: NEVER_ANSWERED_MS,
        what: 'the last ack to reach Redis',
      });
      await waitFor(() => client.replies().some((m) => m.op === 'acked'), {
        what: 'the last ack to be answered',
      });
    } finally {
      monitor.disconnect();
      await watcher.close();
    }
    const flood = writes.slice(0, writes.indexOf(cursors[2]!));
    expect(flood.length).toBeLessThanOrEqual(2);
    const unavailableReply: unknown = expect.objectContaining({
      op: 'error',
      code: 'streams.unavailable',
      status: 503,
    });
    expect(client.replies()).toEqual([
      ...Array<unknown>(200).fill(unavailableReply),
      { op: 'acked', cursor: cursors[2] },
    ]);
    expect((await world.cursors.get(subscriptionId))?.cursor).toBe(cursors[2]);
    client.socket.close();
  }, 60_000);

  it('answers an ack replaced while a write waits for Redis with the write that took its place', async () => {
    const client = await connectDurable();
    redis.hang();
    try {
      client.ack(cursors[0]!); // written at once: its write waits for Redis
      client.ack(cursors[1]!); // waits for that write
      client.ack(cursors[2]!); // takes the waiting one's place
      // Nothing shows the server has read the acks while Redis is stopped, so this waits a
      // while well within the deadline; meanwhile nothing is answered.
      await new Promise((done) => setTimeout(done, REDIS_TIMEOUT_MS / 4));
      expect(client.replies()).toEqual([]);
    } finally {
      resume();
    }
    await waitFor(() => client.replies().length >= 3, { what: 'an answer to every ack' });
    await new Promise((done) => setTimeout(done, 100));
    expect(client.replies()).toEqual([
      { op: 'acked', cursor: cursors[0] },
      { op: 'acked', cursor: cursors[1], supersededBy: cursors[2] },
      { op: 'acked', cursor: cursors[2] },
    ]);
    expect((await world.cursors.get(subscriptionId))?.cursor).toBe(cursors[2]);
    client.socket.close();
  }, 60_000);

  it('refuses stream requests at once while Redis hangs, leaving a handful of commands queued rather than one a request, and serves them again once Redis answers', async () => {
    const flood = 200;
    const client = fanout.app.get(RedisConnection);
    const poll = () => get(`/v1/streams/poll?subscription=${subscriptionId}&wait=0`, ADMIN_KEY);
    const before = await unavailable('read');
    redis.hang();
    let first: Answer;
    let during: { statuses: number[]; ms: number; queuedBefore: number; queued: number };
    try {
      // Sent to Redis, its read misses the deadline.
      first = await poll();
      // What the delivery engine, which shares the client, keeps waiting meanwhile.
      const queuedBefore = queuedCommands(client);
      const started = Date.now();
      const answers = await Promise.all(Array.from({ length: flood }, () => poll()));
      // A key known without Redis still opens streams that need nothing else from it.
      expect(await upgrade('', ADMIN_KEY)).toBe('opened');
      expect((await get('/v1/streams/sse', ADMIN_KEY)).status).toBe(200);
      during = {
        statuses: [...new Set(answers.map((a) => a.status))],
        ms: Date.now() - started,
        queuedBefore,
        queued: queuedCommands(client),
      };
    } finally {
      resume();
    }
    const resumed = Date.now();
    await waitFor(async () => (await poll()).status === 200, {
      what: 'a durable poll to be served again',
    });
    const servedAfterMs = Date.now() - resumed;
    console.info(
      `fanout streams, Redis hung: ${flood} durable polls answered in ${during.ms} ms, commands queued in the client ${during.queuedBefore} before them and ${during.queued} after; served again ${servedAfterMs} ms after SIGCONT`,
    );
    expectRedisUnavailable(first, 'the durable poll sent to Redis');
    // At most the circuit's probe more (the old code: one a request).
    expect(during.queued - during.queuedBefore).toBeLessThanOrEqual(3);
    expect(during.statuses).toEqual([503]);
    expect(servedAfterMs).toBeLessThan(1000);
    expect(await unavailable('read')).toBeGreaterThanOrEqual(before + 1 + flood);
    expect(
      await metricValue(
        fanout.url,
        'herald_stream_redis_unavailable_total',
        'operation="read",reason="refused"',
      ),
    ).toBeGreaterThanOrEqual(flood);
  }, 60_000);

  it('answers them 503 while Redis is gone, an ack at once', async () => {
    const client = await connectDurable();
    const sseKey = await world.createKey(['streams:read']);
    const wsKey = await world.createKey(['streams:read']);
    const counts = async () =>
      Promise.all(['authenticate', 'read', 'ack'].map((operation) => unavailable(operation)));
    const before = await counts();
    const port = Number(new URL(redis.url).port);
    await redis.stop();
    // Told of the lost connection: a cursor write is refused without waiting.
    client.ack(cursors[0]!);
    const answers = await Promise.all([
      get('/v1/streams/sse', sseKey),
      get(`/v1/streams/sse?subscription=${subscriptionId}`, ADMIN_KEY),
      upgrade('', wsKey),
    ]);
    await waitFor(() => client.replies().length > 0, {
      timeoutMs: NEVER_ANSWERED_MS,
      what: 'an answer to the ack',
    });
    expectRedisUnavailable(answers[0], 'an SSE request with an uncached key');
    expectRedisUnavailable(answers[1], 'a durable SSE stream');
    expect(answers[2]).not.toBe('opened');
    expectRedisUnavailable(answers[2] as Answer, 'a WebSocket upgrade with an uncached key');
    expect(client.replies()).toEqual([
      expect.objectContaining({ op: 'error', code: 'streams.unavailable', status: 503 }),
    ]);
    expect(client.socket.readyState).toBe(WebSocket.OPEN);
    client.socket.close();

    // A Redis again (empty) on the same port, for the scrape and the clean-up.
    redis = await startRedisServer({ port });
    expect(await counts()).toEqual([before[0]! + 2, before[1]! + 1, before[2]! + 1]);
  }, 60_000);
});
