import {
  metricValue,
  openSse,
  spawnFanout,
  startStreamWorld,
  testEvents,
  waitFor,
  type FanoutProcess,
  type StreamWorld,
} from './stream-app.fixture';

/**
 * The live tail reads every record a second time (the delivery consumer reads them too), so it
 * runs only while streams are used: it starts with the first stream, stops once none has been
 * open for STREAM_TAIL_IDLE_MS, and starts again with the next one; a client resuming across
 * the stop catches up from Kafka with nothing missed.
 */
describe('live tail: started by the first stream, stopped when streams are idle', () => {
  let world: StreamWorld;
  let fanout: FanoutProcess;

  beforeAll(async () => {
    world = await startStreamWorld();
    // The idle check runs on the heartbeat tick (a quarter of the heartbeat, at least 100 ms).
    fanout = await spawnFanout(world, { STREAM_TAIL_IDLE_MS: '1500', STREAM_HEARTBEAT_MS: '400' });
  });

  afterAll(async () => {
    await fanout?.stop();
    await world?.stop();
  });

  const logged = (msg: string) => fanout.logs.filter((entry) => entry.msg === msg).length;
  const url = (query = '') => `${fanout.url}/v1/streams/sse?types=order.*${query}`;

  it('stops when idle, starts again for the next stream, and a resumed cursor misses nothing', async () => {
    // Starting the process asked one poll (wait=0), which started the tail. Log lines come over
    // a pipe that can lag behind the HTTP answer, so they are waited for, not read at once.
    await waitFor(() => logged('stream live tail started') === 1, { what: 'the first start log' });

    const first = openSse(url());
    await first.opened;
    const before = testEvents('tail', 4, ['order.created']);
    await world.publish(before);
    await waitFor(() => first.messages.length >= 4, { what: 'the first 4 events' });
    first.close();
    const cursor = first.messages[3]!.id;

    await waitFor(() => logged('stream live tail stopped: no streams open') === 1, {
      timeoutMs: 15_000,
      what: 'the idle tail to stop',
    });
    expect(await metricValue(fanout.url, 'herald_stream_tail_running')).toBe(0);

    // Published while the tail is stopped: a client resuming from its cursor still gets them.
    const during = testEvents('tail', 3, ['order.created'], 4);
    await world.publish(during);
    const resumed = openSse(url(`&cursor=${encodeURIComponent(cursor)}`));
    await resumed.opened;
    await waitFor(() => logged('stream live tail started') === 2, { what: 'the second start log' });
    expect(await metricValue(fanout.url, 'herald_stream_tail_running')).toBe(1);
    const latest = openSse(url());
    await latest.opened;
    const after = testEvents('tail', 2, ['order.created'], 7);
    await world.publish(after);
    await waitFor(() => resumed.messages.length >= 5 && latest.messages.length >= 2, {
      what: `5 resumed and 2 live events (got ${resumed.messages.length} and ${latest.messages.length})`,
    });
    await new Promise((done) => setTimeout(done, 300));
    resumed.close();
    latest.close();
    // Each once (order holds per partition; these events are spread over partitions).
    const ids = (messages: { data: Record<string, unknown> }[]) =>
      messages.map((m) => String(m.data.id)).sort();
    expect(ids(resumed.messages)).toEqual([...during, ...after].map((event) => event.id).sort());
    // A new stream starts at the tail's position: what was published before it is not sent.
    expect(ids(latest.messages)).toEqual(after.map((event) => event.id).sort());
  });
});
