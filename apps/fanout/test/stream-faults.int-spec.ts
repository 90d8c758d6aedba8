import { request } from 'node:http';
import WebSocket from 'ws';
import {
  ADMIN_KEY,
  metricValue,
  openSse,
  spawnFanout,
  startStreamWorld,
  testEvents,
  waitFor,
  type FanoutProcess,
  type StreamWorld,
} from './stream-app.fixture';

// fanout runs as its own process here, so it can be stopped, killed and started again.
describe('streams across restarts, crashes and slow clients', () => {
  let world: StreamWorld;
  const running: FanoutProcess[] = [];

  async function spawn(extra: Record<string, string> = {}): Promise<FanoutProcess> {
    const fanout = await spawnFanout(world, extra);
    running.push(fanout);
    return fanout;
  }

  beforeAll(async () => {
    world = await startStreamWorld();
  });

  afterAll(async () => {
    await Promise.all(running.map((f) => f.kill('SIGKILL')));
    await world?.stop();
  });

  it('ends SSE streams with their cursor on SIGTERM and resumes them on the next process without loss or repeats', async () => {
    const first = await spawn();
    const url = (base: string) => `${base}/v1/streams/sse?types=order.*`;
    const client = openSse(url(first.url));
    await client.opened;
    const before = testEvents('restart', 10, ['order.created', 'order.paid']);
    await world.publish(before);
    await waitFor(() => client.messages.length >= 10);
    expect(await first.kill('SIGTERM')).toBe(0);
    await waitFor(() => client.messages.some((m) => m.type === 'herald.stream.end'));
    const end = client.messages[client.messages.length - 1]!;
    expect(end.data).toMatchObject({ reason: 'shutdown', cursor: end.id });

    // Written while no fanout runs: the next one starts its tail after them.
    const during = testEvents('restart', 7, ['order.created', 'order.paid'], 10);
    await world.publish(during);
    const second = await spawn();
    const resumed = openSse(url(second.url), { lastEventId: end.id });
    await resumed.opened;
    const after = testEvents('restart', 5, ['order.created', 'order.paid'], 17);
    await world.publish(after);
    await waitFor(() => resumed.messages.length >= 12, {
      what: `12 events after the restart (got ${resumed.messages.length})`,
    });
    await new Promise((done) => setTimeout(done, 300));
    resumed.close();
    const ids = [...client.messages, ...resumed.messages]
      .filter((m) => m.type !== 'herald.stream.end')
      .map((m) => m.data.id as string);
    expect(ids.sort()).toEqual([...before, ...during, ...after].map((e) => e.id).sort());
    await second.kill('SIGTERM');
  });

  it('answers a waiting long-poll with its cursor on SIGTERM and exits cleanly', async () => {
    const fanout = await spawn();
    const polled = fetch(`${fanout.url}/v1/streams/poll?types=order.*&wait=30`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    // The poll is waiting (nothing new) when the process is told to stop.
    await waitFor(async () => (await metricValue(fanout.url, 'herald_stream_connections')) >= 1, {
      what: 'the poll to be waiting',
    });
    const stopping = fanout.kill('SIGTERM');
    const response = await polled;
    expect(response.status).toBe(200);
    const body = (await response.json()) as { events: unknown[]; cursor: string };
    expect(body.events).toEqual([]);
    expect(body.cursor).toEqual(expect.any(String));
    // Not held until the shutdown timeout (10 s, exit code 1): a clean exit.
    expect(await stopping).toBe(0);
  });

  it('answers wait=0 with what Kafka holds when the cursor is behind what the process has seen', async () => {
    // Written before the process starts: its live tail starts after them, so reading them
    // means catching up from Kafka.
    const earlier = testEvents('zero-wait', 12, ['order.created']);
    await world.publish(earlier);
    const fanout = await spawn();
    const ids: string[] = [];
    let cursor: string | undefined;
    // Chained polls reach every event, the first one already carrying some.
    for (let round = 0; round < 5 && ids.length < earlier.length; round++) {
      const query = cursor === undefined ? 'from=earliest' : `cursor=${encodeURIComponent(cursor)}`;
      const response = await fetch(
        `${fanout.url}/v1/streams/poll?types=order.created&${query}&wait=0&limit=100`,
        { headers: { authorization: `Bearer ${ADMIN_KEY}` } },
      );
      expect(response.status).toBe(200);
      const body = (await response.json()) as {
        events: { data: { id: string } }[];
        cursor: string;
      };
      if (round === 0) expect(body.events.length).toBeGreaterThan(0);
      ids.push(...body.events.map((e) => e.data.id));
      cursor = body.cursor;
    }
    for (const event of earlier) expect(ids).toContain(event.id);
    await fanout.kill('SIGTERM');
  });

  it('resumes a durable WebSocket subscription after SIGKILL right after the last acknowledged event', async () => {
    const id = await world.createStreamSubscription({
      tenant: 'acme',
      types: ['kitchen.step'],
      filter: { id: { $regex: '^durable-' } },
      from: 'earliest',
    });
    const key = await world.createKey(['streams:read'], 'acme');
    const events = testEvents('durable', 10, ['kitchen.step']).map((e) => ({
      ...e,
      key: 'one-partition',
    }));
    await world.publish(events);
    const first = await spawn();
    const connect = (base: string) => {
      const socket = new WebSocket(
        `${base.replace('http', 'ws')}/v1/streams/ws?subscription=${id}`,
        {
          headers: { authorization: `Bearer ${key}` },
        },
      );
      const messages: Record<string, unknown>[] = [];
      socket.on('message', (data: Buffer) =>
        messages.push(JSON.parse(data.toString('utf8')) as Record<string, unknown>),
      );
      const received = () =>
        messages
          .filter((m) => m.op === 'event')
          .map((m) => m as { cursor: string; event: { id: string } });
      return { socket, messages, received };
    };
    const a = connect(first.url);
    await waitFor(() => a.received().length >= 10);
    expect(a.received().map((m) => m.event.id)).toEqual(events.map((e) => e.id));
    const n = 3 + Math.floor(Math.random() * 5);
    const acked = a.received()[n - 1]!;
    a.socket.send(JSON.stringify({ op: 'ack', cursor: acked.cursor }));
    await waitFor(() => a.messages.some((m) => m.op === 'acked' && m.cursor === acked.cursor));
    await first.kill('SIGKILL');

    const second = await spawn();
    const b = connect(second.url);
    await waitFor(() => b.received().length >= 10 - n);
    expect(b.received()[0]!.event.id).toBe(`durable-${n}`);
    expect(b.received().map((m) => m.event.id)).toEqual(events.slice(n).map((e) => e.id));
    b.socket.close();
    await second.kill('SIGTERM');
  });

  it('keeps running and streaming to others when a client filter fails on an event (a __proto__ path)', async () => {
    const fanout = await spawn();
    const fast = openSse(`${fanout.url}/v1/streams/sse?types=order.created`);
    await fast.opened;
    // Passes the filter checks but makes the query engine throw when it meets an event.
    const filter = encodeURIComponent('{"data.__proto__.x":{"$exists":false}}');
    const bad = `types=order.created&filter=${filter}&access_token=${ADMIN_KEY}`;
    const badSse = await new Promise<{ status: number; body: string; close(): void }>(
      (done, failed) => {
        const req = request(`${fanout.url}/v1/streams/sse?${bad}`, (response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => (body += chunk.toString()));
          done({
            status: response.statusCode ?? 0,
            get body() {
              return body;
            },
            close: () => req.destroy(),
          });
        });
        req.on('error', failed).end();
      },
    );
    // Refused (400) or open: either way the stream must not take the process down.
    expect([200, 400]).toContain(badSse.status);

    const events = testEvents('bad-filter', 3, ['order.created']);
    await world.publish(events);
    await waitFor(() => fast.messages.length >= 3, {
      what: `the other client to get its events (got ${fast.messages.length})`,
    });
    const answer = await fetch(`${fanout.url}/v1/streams/poll?${bad}&from=earliest&wait=0`);
    expect(answer.status).toBeLessThan(500);
    // Still the same process, still streaming.
    await world.publish(testEvents('bad-filter', 2, ['order.created'], 3));
    await waitFor(() => fast.messages.length >= 5, { what: 'events after the bad filter' });
    expect(fanout.child.exitCode).toBeNull();
    // Each event once (their keys spread them over partitions: no order across them).
    expect(fast.messages.map((m) => m.data.id as string).sort()).toEqual(
      testEvents('bad-filter', 5, ['order.created']).map((e) => e.id),
    );
    badSse.close();
    fast.close();
    await fanout.kill('SIGTERM');
  });

  it('disconnects a client that stops reading, with its cursor, while others keep up and memory stays bounded', async () => {
    const fanout = await spawn({
      STREAM_SEND_BUFFER_BYTES: String(64 * 1024),
      STREAM_RING_MAX_BYTES: String(8 * 1024 * 1024),
    });
    const filter = encodeURIComponent('{"id":{"$regex":"^slow-"}}');
    const path = `/v1/streams/sse?types=order.created&filter=${filter}&access_token=${ADMIN_KEY}`;
    // A client that reads its headers and then nothing more.
    const chunks: Buffer[] = [];
    let stalled: import('node:http').IncomingMessage | undefined;
    await new Promise<void>((done, failed) => {
      request(`${fanout.url}${path}`, (response) => {
        stalled = response;
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.pause();
        done();
      })
        .on('error', failed)
        .end();
    });
    const fast = openSse(`${fanout.url}${path}`);
    await fast.opened;
    const heapBefore = await metricValue(fanout.url, 'nodejs_heap_size_used_bytes');

    const pad = 'x'.repeat(16 * 1024);
    const published: string[] = [];
    const lag: number[] = [];
    for (
      let round = 0;
      round < 40 && (await metricValue(fanout.url, 'herald_stream_slow_disconnects_total')) === 0;
      round++
    ) {
      // One key: one partition, so arrival order is publish order.
      const batch = testEvents('slow', 25, ['order.created'], round * 25).map((e) => ({
        ...e,
        key: 'slow',
        pad,
      }));
      const sentAt = Date.now();
      await world.publish(batch);
      published.push(...batch.map((e) => e.id));
      await waitFor(() => fast.messages.length >= published.length, {
        what: 'the fast client to keep up',
      });
      lag.push(Date.now() - sentAt);
    }
    expect(await metricValue(fanout.url, 'herald_stream_slow_disconnects_total')).toBe(1);
    // The fast client got every event, each round within seconds, while the slow one was stuck.
    expect(fast.messages.map((m) => m.data.id)).toEqual(published);
    expect(Math.max(...lag)).toBeLessThan(5000);
    const heapAfter = await metricValue(fanout.url, 'nodejs_heap_size_used_bytes');
    expect(heapAfter - heapBefore).toBeLessThan(48 * 1024 * 1024);

    // Reading again, the slow client finds what was queued for it and then its final message.
    stalled!.resume();
    await new Promise((done) => stalled!.once('end', done));
    const text = Buffer.concat(chunks).toString('utf8');
    const frames = text.split('\n\n').filter((f) => f.startsWith('id: '));
    const last = frames[frames.length - 1]!;
    expect(last).toContain('event: herald.stream.end');
    const end = JSON.parse(last.slice(last.indexOf('data: ') + 6)) as {
      reason: string;
      cursor: string;
    };
    expect(end.reason).toBe('slow_consumer');
    const got = frames
      .slice(0, -1)
      .map((f) => (JSON.parse(f.slice(f.indexOf('data: ') + 6)) as { id: string }).id);
    expect(got.length).toBeLessThan(published.length);
    // Its cursor resumes right after what it had: the rest, exactly.
    const rest: string[] = [];
    let cursor = end.cursor;
    while (got.length + rest.length < published.length) {
      const response = await fetch(
        `${fanout.url}/v1/streams/poll?types=order.created&filter=${filter}&cursor=${cursor}&wait=2&limit=1000&access_token=${ADMIN_KEY}`,
      );
      const body = (await response.json()) as { events: { id: string }[]; cursor: string };
      if (body.events.length === 0) break;
      rest.push(...body.events.map((e) => e.id));
      cursor = body.cursor;
    }
    expect([...got, ...rest]).toEqual(published);
    fast.close();
    await fanout.kill('SIGTERM');
  });
});
