import WebSocket from 'ws';
import { StreamsService } from '../src/streams/streams.service';
import {
  openSse,
  startFanoutApp,
  startStreamWorld,
  testEvents,
  waitFor,
  type RunningFanout,
  type StreamWorld,
} from './stream-app.fixture';

const LIMIT = 2;

describe('durable streams before the first ack, per-key limits under concurrency, shutdown', () => {
  let world: StreamWorld;
  let fanout: RunningFanout & { app: Awaited<ReturnType<typeof startFanoutApp>>['app'] };
  const extra = { STREAM_MAX_CONNECTIONS_PER_KEY: String(LIMIT) };

  beforeAll(async () => {
    world = await startStreamWorld();
    fanout = await startFanoutApp(world, extra);
  });

  afterAll(async () => {
    await fanout?.stop();
    await world?.stop();
  });

  /** A WebSocket client of `?subscription=id` that records events and never acknowledges on its own. */
  function connect(subscriptionId: string, key: string) {
    const socket = new WebSocket(
      `${fanout.url.replace('http', 'ws')}/v1/streams/ws?subscription=${subscriptionId}`,
      { headers: { authorization: `Bearer ${key}` } },
    );
    const messages: Record<string, unknown>[] = [];
    socket.on('message', (data: Buffer) =>
      messages.push(JSON.parse(data.toString('utf8')) as Record<string, unknown>),
    );
    const received = () =>
      messages
        .filter((m) => m.op === 'event')
        .map((m) => m as { cursor: string; event: { id: string } });
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    const close = async () => {
      socket.close();
      await closed;
    };
    return { socket, messages, received, close };
  }

  it('sends a `latest` subscription everything since its creation again until the client acknowledges, across reconnects and restarts', async () => {
    const id = await world.createStreamSubscription({
      tenant: 'acme',
      types: ['kitchen.step'],
      filter: { id: { $regex: '^unacked-' } },
      from: 'latest',
    });
    const key = await world.createKey(['streams:read'], 'acme');
    const events = testEvents('unacked', 4, ['kitchen.step']).map((e) => ({
      ...e,
      key: 'one-partition',
    }));
    const ids = (client: ReturnType<typeof connect>) => client.received().map((m) => m.event.id);

    // Published after the subscription was created but before its first connect.
    await world.publish(events.slice(0, 1));
    const first = connect(id, key);
    await waitFor(() => first.messages.some((m) => m.op === 'subscribed'));
    await world.publish(events.slice(1, 3));
    await waitFor(() => first.received().length >= 3, { what: 'e1..e3 on the first connect' });
    expect(ids(first)).toEqual(events.slice(0, 3).map((e) => e.id));
    await first.close();

    // Published while the client was away; nothing was acknowledged, so e1..e3 come again.
    await world.publish(events.slice(3));
    const second = connect(id, key);
    await waitFor(() => second.received().length >= 4, { what: 'e1..e4 after a reconnect' });
    expect(ids(second)).toEqual(events.map((e) => e.id));
    await second.close();

    await fanout.stop();
    fanout = await startFanoutApp(world, extra);
    const third = connect(id, key);
    await waitFor(() => third.received().length >= 4, { what: 'e1..e4 after a restart' });
    expect(ids(third)).toEqual(events.map((e) => e.id));
    // Once acknowledged, the next connect resumes right after the ack.
    const acked = third.received()[1]!.cursor;
    third.socket.send(JSON.stringify({ op: 'ack', cursor: acked }));
    await waitFor(() => third.messages.some((m) => m.op === 'acked' && m.cursor === acked));
    await third.close();
    const fourth = connect(id, key);
    await waitFor(() => fourth.received().length >= 2, { what: 'e3..e4 after the ack' });
    expect(ids(fourth)).toEqual(events.slice(2).map((e) => e.id));
    await fourth.close();
  });

  it('admits no more than the per-key limit of streams that connect at the same time', async () => {
    const key = await world.createKey(['streams:read']);
    // `from=earliest` makes each request wait on Kafka between its admission and its open.
    const clients = Array.from({ length: 6 }, () =>
      openSse(`${fanout.url}/v1/streams/sse?from=earliest`, { key }),
    );
    const results = await Promise.allSettled(clients.map((c) => c.opened));
    const refusals = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(LIMIT);
    for (const refusal of refusals) expect(refusal).toContain('429');
    for (const client of clients) client.close();

    // The refused requests took no place with them: the key gets exactly its limit again.
    const poll = async () =>
      (
        await fetch(`${fanout.url}/v1/streams/poll?wait=0`, {
          headers: { authorization: `Bearer ${key}` },
        })
      ).status;
    await waitFor(async () => (await poll()) === 200, { what: 'the key to have its places back' });
    const again = Array.from({ length: LIMIT }, () =>
      openSse(`${fanout.url}/v1/streams/sse`, { key }),
    );
    await Promise.all(again.map((c) => c.opened));
    expect(await poll()).toBe(429);
    for (const client of again) client.close();
  });

  it('refuses new streams, WebSocket upgrades included, with 503 once shutdown has begun', async () => {
    const key = await world.createKey(['streams:read']);
    // The first shutdown hook, as app.close() runs it, without the rest of the close.
    fanout.app.get(StreamsService).beforeApplicationShutdown();
    const sse = await fetch(`${fanout.url}/v1/streams/sse`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(sse.status).toBe(503);
    await sse.body?.cancel();
    const socket = new WebSocket(`${fanout.url.replace('http', 'ws')}/v1/streams/ws`, {
      headers: { authorization: `Bearer ${key}` },
    });
    const status = await new Promise<number>((done, failed) => {
      socket.once('unexpected-response', (_request, response) => done(response.statusCode ?? 0));
      socket.once('open', () => done(101));
      socket.once('error', failed);
    });
    socket.terminate();
    expect(status).toBe(503);
  });
});
