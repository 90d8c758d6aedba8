import WebSocket, { type WebSocketServer } from 'ws';
import { parseApiKeyToken, type Subscription } from '@herald/store';
import { decodeCursor, encodeCursor } from '@herald/kafka';
import { WsGateway } from '../src/streams/ws.gateway';
import {
  ADMIN_KEY,
  metricValue,
  openSse,
  startFanoutApp,
  startStreamWorld,
  testEvents,
  waitFor,
  type RunningFanout,
  type StreamWorld,
} from './stream-app.fixture';

interface PollBody {
  events: { id: string; type: string; data: { n: number; pad?: string } }[];
  cursor: string;
}

const POLL_MAX_BYTES = 4096;
const SEND_BUFFER_BYTES = 16 * 1024;

/**
 * What happens to streams from the outside while they are open: their key deleted, their
 * durable subscription paused, changed or deleted; sockets that never subscribe; answers and
 * replies kept within their bounds; cursors past the end of the log.
 */
describe('stream lifecycle: revoked keys and subscriptions, idle sockets, bounds, far cursors', () => {
  let world: StreamWorld;
  let fanout: RunningFanout & { app: Awaited<ReturnType<typeof startFanoutApp>>['app'] };

  beforeAll(async () => {
    world = await startStreamWorld();
    fanout = await startFanoutApp(world, {
      STREAM_MAX_CONNECTIONS_PER_KEY: '3',
      STREAM_KEY_CHECK_MS: '200',
      STREAM_WS_SUBSCRIBE_TIMEOUT_MS: '1500',
      STREAM_POLL_MAX_BYTES: String(POLL_MAX_BYTES),
      STREAM_SEND_BUFFER_BYTES: String(SEND_BUFFER_BYTES),
    });
  });

  afterAll(async () => {
    await fanout?.stop();
    await world?.stop();
  });

  async function get(path: string, key: string = ADMIN_KEY) {
    const response = await fetch(`${fanout.url}${path}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    const text = await response.text();
    return { status: response.status, body: JSON.parse(text) as Record<string, unknown> };
  }

  async function poll(query: string, key = ADMIN_KEY): Promise<PollBody> {
    const { status, body } = await get(`/v1/streams/poll?${query}`, key);
    expect({ status, body }).toMatchObject({ status: 200 });
    return body as unknown as PollBody;
  }

  function wsOpen(query = '', key: string = ADMIN_KEY) {
    const url = `${fanout.url.replace('http', 'ws')}/v1/streams/ws${query}`;
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${key}` } });
    const messages: Record<string, unknown>[] = [];
    socket.on('message', (data: Buffer) =>
      messages.push(JSON.parse(data.toString('utf8')) as Record<string, unknown>),
    );
    const closed = new Promise<{ code: number; reason: string }>((done) =>
      socket.once('close', (code, reason) => done({ code, reason: reason.toString('utf8') })),
    );
    const opened = new Promise<void>((done, failed) => {
      socket.once('open', () => done());
      socket.once('unexpected-response', (_request, response) =>
        failed(new Error(`HTTP ${response.statusCode}`)),
      );
      socket.once('error', failed);
    });
    const send = (message: unknown) => socket.send(JSON.stringify(message));
    return { socket, messages, opened, closed, send };
  }

  const keyId = (key: string) => parseApiKeyToken(key)!.id;

  async function setSubscription(
    id: string,
    change: (subscription: Subscription) => Partial<Subscription>,
  ): Promise<void> {
    await world.subscriptions.update(id, (current) => ({
      ...current,
      subscription: { ...current.subscription, ...change(current.subscription) },
    }));
  }

  it('ends SSE, WebSocket (subscribed or not) and waiting polls when their API key is deleted', async () => {
    const key = await world.createKey(['streams:read']);
    const sse = openSse(`${fanout.url}/v1/streams/sse?types=order.*`, { key });
    await sse.opened;
    const ws = wsOpen('', key);
    await ws.opened;
    ws.send({ op: 'subscribe', types: ['kitchen.step'] });
    await waitFor(() => ws.messages.some((m) => m.op === 'subscribed'));
    const waiting = get('/v1/streams/poll?types=order.created&wait=25', key);
    // A socket of the same key that has not subscribed yet, from a second key's limit.
    const other = await world.createKey(['streams:read']);
    const idle = wsOpen('', other);
    await idle.opened;

    await world.apiKeys.delete(keyId(key));
    await world.apiKeys.delete(keyId(other));

    await waitFor(() => sse.messages.some((m) => m.type === 'herald.stream.end'), {
      what: 'the SSE end event',
    });
    expect(sse.messages.at(-1)!.data).toMatchObject({
      reason: 'key_deleted',
      cursor: expect.any(String),
      message: expect.stringContaining('deleted'),
    });
    expect(await ws.closed).toEqual({ code: 1008, reason: 'key_deleted' });
    expect(ws.messages.at(-1)).toMatchObject({ op: 'end', reason: 'key_deleted' });
    expect(await idle.closed).toEqual({ code: 1008, reason: 'key_deleted' });
    expect(idle.messages.at(-1)).toMatchObject({ op: 'error', code: 'auth.unauthenticated' });
    const answer = await waiting;
    expect(answer).toMatchObject({ status: 401, body: { code: 'auth.unauthenticated' } });
    // The process forgot the key at once: no stream opens with it any more.
    expect((await get('/v1/streams/poll?wait=0', key)).status).toBe(401);
    for (const transport of ['sse', 'ws', 'poll'])
      expect(
        await metricValue(
          fanout.url,
          'herald_stream_disconnects_total',
          `transport="${transport}",reason="key_deleted"`,
        ),
      ).toBeGreaterThanOrEqual(1);
  });

  it('ends durable streams when their subscription is paused, changed or deleted, not when its description changes', async () => {
    const key = await world.createKey(['streams:read'], 'acme');
    const id = await world.createStreamSubscription({
      tenant: 'acme',
      types: ['kitchen.step'],
      from: 'latest',
    });
    const open = async () => {
      const sse = openSse(`${fanout.url}/v1/streams/sse?subscription=${id}`, { key });
      await sse.opened;
      const ws = wsOpen(`?subscription=${id}`, key);
      await ws.opened;
      await waitFor(() => ws.messages.some((m) => m.op === 'subscribed'));
      const start = await poll(`subscription=${id}&wait=0`, key);
      const waiting = get(
        `/v1/streams/poll?subscription=${id}&cursor=${start.cursor}&wait=25`,
        key,
      );
      return { sse, ws, waiting };
    };
    const endOf = async ({ sse, ws }: Awaited<ReturnType<typeof open>>) => {
      await waitFor(() => sse.messages.some((m) => m.type === 'herald.stream.end'), {
        what: 'the SSE end event',
      });
      const closed = await ws.closed;
      return {
        sse: sse.messages.at(-1)!.data.reason,
        ws: { ...closed, message: ws.messages.at(-1)?.reason },
      };
    };

    // A new description changes nothing the stream reads; pausing it ends the stream.
    let streams = await open();
    await setSubscription(id, () => ({ description: 'renamed' }));
    await setSubscription(id, () => ({ status: 'paused' }));
    expect(await endOf(streams)).toEqual({
      sse: 'subscription_paused',
      ws: { code: 1008, reason: 'subscription_paused', message: 'subscription_paused' },
    });
    expect(await streams.waiting).toMatchObject({
      status: 409,
      body: { code: 'streams.subscription_conflict' },
    });

    // A new filter ends it, and the stream the client opens again reads with the new filter.
    await setSubscription(id, () => ({ status: 'active' }));
    streams = await open();
    await setSubscription(id, () => ({
      filter: { 'data.n': { $gte: 1 }, id: { $regex: '^refiltered-' } },
    }));
    expect(await endOf(streams)).toEqual({
      sse: 'subscription_changed',
      ws: { code: 1012, reason: 'subscription_changed', message: 'subscription_changed' },
    });
    expect(await streams.waiting).toMatchObject({ status: 200, body: { events: [] } });
    const again = openSse(`${fanout.url}/v1/streams/sse?subscription=${id}`, { key });
    await again.opened;
    await world.publish(testEvents('refiltered', 3, ['kitchen.step']));
    await waitFor(() => again.messages.length >= 2, { what: 'the events the new filter passes' });
    again.close();
    expect(again.messages.map((m) => m.data.id)).toEqual(['refiltered-1', 'refiltered-2']);

    streams = await open();
    await world.subscriptions.delete(id);
    expect(await endOf(streams)).toEqual({
      sse: 'subscription_deleted',
      ws: { code: 1008, reason: 'subscription_deleted', message: 'subscription_deleted' },
    });
    expect(await streams.waiting).toMatchObject({
      status: 404,
      body: { code: 'streams.subscription_not_found' },
    });
    expect(
      await metricValue(
        fanout.url,
        'herald_stream_disconnects_total',
        'transport="sse",reason="subscription_changed"',
      ),
    ).toBeGreaterThanOrEqual(1);
  });

  it('counts sockets that never subscribe against the key, and closes them after the subscribe timeout', async () => {
    const key = await world.createKey(['streams:read']);
    const sockets = [wsOpen('', key), wsOpen('', key), wsOpen('', key)];
    await Promise.all(sockets.map((s) => s.opened));
    await expect(wsOpen('', key).opened).rejects.toThrow('HTTP 429');
    expect((await get('/v1/streams/poll?wait=0', key)).status).toBe(429);
    for (const socket of sockets) {
      expect(await socket.closed).toEqual({ code: 1008, reason: 'subscribe_timeout' });
      expect(socket.messages.at(-1)).toMatchObject({
        op: 'error',
        code: 'streams.subscribe_timeout',
      });
    }
    expect(
      await metricValue(
        fanout.url,
        'herald_stream_disconnects_total',
        'transport="ws",reason="subscribe_timeout"',
      ),
    ).toBeGreaterThanOrEqual(3);
    // Their places are free again; one that subscribes in time stays open past the timeout.
    const subscribed = wsOpen('', key);
    await subscribed.opened;
    subscribed.send({ op: 'subscribe', types: ['order.paid'] });
    await waitFor(() => subscribed.messages.some((m) => m.op === 'subscribed'));
    await new Promise((done) => setTimeout(done, 2000));
    await world.publish(testEvents('after-timeout', 1, ['order.paid']));
    await waitFor(() => subscribed.messages.some((m) => m.op === 'event'));
    subscribed.socket.close();
  });

  it('stops reading a WebSocket client that does not read its replies, and drops it past twice the send buffer', async () => {
    const key = await world.createKey(['streams:read']);
    const client = wsOpen('', key);
    await client.opened;
    // Reads nothing from here on, while each of its messages asks for a 16 KiB error reply
    // (an unknown op is named in the reply): far more than the socket buffers hold.
    client.socket.pause();
    const message = JSON.stringify({ op: 'x'.repeat(16 * 1024) });
    for (let sent = 0; sent < 4000 && client.socket.readyState === WebSocket.OPEN; sent++) {
      client.socket.send(message);
      if (sent % 50 === 49) await new Promise((done) => setImmediate(done));
    }
    // The server's side of this socket: it stops reading (so the replies it owes stay few),
    // or, when the messages it had read already took its buffer past twice the bound, drops it.
    const gateway = fanout.app.get<WsGateway, { server: WebSocketServer }>(WsGateway, {
      strict: false,
    });
    const [server] = [...gateway.server.clients];
    const dropped = async () =>
      (await metricValue(
        fanout.url,
        'herald_stream_disconnects_total',
        'transport="ws",reason="slow_consumer"',
      )) >= 1;
    await waitFor(async () => server!.isPaused || (await dropped()), {
      what: 'the server to stop reading the client',
      timeoutMs: 20_000,
    });
    expect(server!.bufferedAmount).toBeLessThanOrEqual(2 * SEND_BUFFER_BYTES + 64 * 1024);
    // Reading again, the client gets its replies, then the server reads on or says why it closed.
    client.socket.resume();
    if (await dropped())
      expect(await client.closed).toEqual({ code: 1008, reason: 'slow_consumer' });
    else await waitFor(() => !server!.isPaused || server!.readyState !== WebSocket.OPEN);
    client.socket.terminate();
  });

  it('keeps a poll answer within the byte budget, always with one event, and the cursor continues', async () => {
    const filter = encodeURIComponent('{"id":{"$regex":"^budget-"}}');
    const start = await poll(`types=kitchen.step&filter=${filter}&wait=0`);
    // One key: one partition, so the answers come in publish order.
    const events = testEvents('budget', 7, ['kitchen.step']).map((e, i) => ({
      ...e,
      key: 'budget',
      pad: 'x'.repeat(i === 3 ? 3 * POLL_MAX_BYTES : 1200),
    }));
    await world.publish(events);
    const got: string[] = [];
    let cursor = start.cursor;
    while (got.length < events.length) {
      const answer = await poll(
        `types=kitchen.step&filter=${filter}&cursor=${cursor}&wait=5&limit=100`,
      );
      expect(answer.events.length).toBeGreaterThan(0);
      const bytes = answer.events.reduce((sum, e) => sum + JSON.stringify(e).length, 0);
      // Within the budget, or one event that alone is larger.
      if (answer.events.length > 1) expect(bytes).toBeLessThanOrEqual(POLL_MAX_BYTES);
      got.push(...answer.events.map((e) => e.id));
      cursor = answer.cursor;
    }
    expect(got).toEqual(events.map((e) => e.id));
  });

  it('resumes a cursor past the end of the log at the end, losing nothing written after', async () => {
    const filter = encodeURIComponent('{"id":{"$regex":"^farcursor-"}}');
    const { cursor } = await poll(`types=order.created&filter=${filter}&wait=0`);
    const far = new Map([...decodeCursor(cursor)].map(([key, offset]) => [key, offset + 1000n]));
    const waiting = poll(
      `types=order.created&filter=${filter}&cursor=${encodeCursor(far)}&wait=10`,
    );
    await new Promise((done) => setTimeout(done, 300));
    const events = testEvents('farcursor', 3, ['order.created']).map((e) => ({ ...e, key: 'far' }));
    await world.publish(events);
    const answer = await waiting;
    const got = answer.events.map((e) => e.id);
    let next = answer.cursor;
    while (got.length < events.length) {
      const more = await poll(`types=order.created&filter=${filter}&cursor=${next}&wait=5`);
      if (more.events.length === 0) break;
      got.push(...more.events.map((e) => e.id));
      next = more.cursor;
    }
    expect(got).toEqual(events.map((e) => e.id));
  });
});
