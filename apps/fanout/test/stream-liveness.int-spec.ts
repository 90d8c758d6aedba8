import WebSocket from 'ws';
import {
  ADMIN_KEY,
  metricValue,
  startFanoutApp,
  startStreamWorld,
  testEvents,
  waitFor,
  type RunningFanout,
  type StreamWorld,
} from './stream-app.fixture';

const HEARTBEAT_MS = 400;

/**
 * A WebSocket peer that vanished without closing (a phone that lost its network, a NAT that
 * dropped the mapping) answers no ping: it is ended as `unresponsive` once two pings a heartbeat apart went unanswered,
 * rather than holding its key's stream place until TCP gives up, while a client that answers
 * its pings stays.
 */
describe('stream liveness: heartbeats, and WebSocket clients that stop answering pings', () => {
  let world: StreamWorld;
  let fanout: RunningFanout;

  beforeAll(async () => {
    world = await startStreamWorld();
    fanout = await startFanoutApp(world, { STREAM_HEARTBEAT_MS: String(HEARTBEAT_MS) });
  });

  afterAll(async () => {
    await fanout?.stop();
    await world?.stop();
  });

  function subscribed(answersPings: boolean) {
    const socket = new WebSocket(`${fanout.url.replace('http', 'ws')}/v1/streams/ws`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
      // A peer gone dead answers nothing; ws answers pings by itself unless told not to.
      autoPong: answersPings,
    });
    const messages: Record<string, unknown>[] = [];
    socket.on('message', (data: Buffer) =>
      messages.push(JSON.parse(data.toString('utf8')) as Record<string, unknown>),
    );
    let closedWith: { code: number; reason: string } | undefined;
    socket.once('close', (code, reason) => {
      closedWith = { code, reason: reason.toString('utf8') };
    });
    socket.once('open', () => socket.send(JSON.stringify({ op: 'subscribe', types: ['order.*'] })));
    return { socket, messages, closed: () => closedWith };
  }

  it('ends a socket that leaves its pings unanswered, and keeps one that answers', async () => {
    const alive = subscribed(true);
    const dead = subscribed(false);
    await waitFor(() => [alive, dead].every((c) => c.messages.some((m) => m.op === 'subscribed')));

    await waitFor(() => dead.closed() !== undefined, {
      timeoutMs: 25 * HEARTBEAT_MS,
      what: 'the socket that answers no ping to be closed',
    });
    expect(dead.closed()).toEqual({ code: 1001, reason: 'unresponsive' });
    expect(dead.messages.at(-1)).toMatchObject({ op: 'end', reason: 'unresponsive' });
    expect(
      await metricValue(
        fanout.url,
        'herald_stream_disconnects_total',
        'transport="ws",reason="unresponsive"',
      ),
    ).toBe(1);

    // Several heartbeats later the one that answers is still open and streaming.
    await new Promise((done) => setTimeout(done, 5 * HEARTBEAT_MS));
    expect(alive.closed()).toBeUndefined();
    await world.publish(testEvents('alive', 1, ['order.created']));
    await waitFor(() => alive.messages.some((m) => m.op === 'event'));
    alive.socket.close();
  });

  // SPEC §7: heartbeat comments keep idle connections open (proxies close silent ones).
  it('sends an idle SSE stream heartbeat comments and nothing else', async () => {
    const aborted = new AbortController();
    // A type nothing here publishes: the stream stays idle.
    const response = await fetch(`${fanout.url}/v1/streams/sse?types=kitchen.step`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
      signal: aborted.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const heartbeats = () => text.split('\n').filter((line) => line === ': heartbeat').length;
    const deadline = Date.now() + 10 * HEARTBEAT_MS;
    try {
      while (heartbeats() < 2) {
        const left = deadline - Date.now();
        if (left <= 0) break;
        let timer: NodeJS.Timeout | undefined;
        const chunk = await Promise.race([
          reader.read(),
          new Promise<null>((done) => (timer = setTimeout(() => done(null), left))),
        ]);
        clearTimeout(timer);
        if (chunk === null || chunk.done) break;
        text += decoder.decode(chunk.value as Uint8Array, { stream: true });
      }
    } finally {
      aborted.abort();
    }
    expect(heartbeats()).toBeGreaterThanOrEqual(2);
    // Comments only: no event, id or data lines.
    expect(text.split('\n').filter((line) => line !== '' && !line.startsWith(':'))).toEqual([]);
  });
});
