import {
  ADMIN_KEY,
  openSse,
  startFanoutApp,
  startStreamWorld,
  testEvents,
  waitFor,
  type RunningFanout,
  type SseMessage,
  type StreamWorld,
} from './stream-app.fixture';

/** Events grouped by Kafka partition (taken from the data's id → publish answer), in arrival order. */
function eventIds(messages: SseMessage[]): string[] {
  return messages.filter((m) => m.type !== 'herald.stream.end').map((m) => m.data.id as string);
}

describe('SSE streams', () => {
  let world: StreamWorld;
  let fanout: RunningFanout;

  beforeAll(async () => {
    world = await startStreamWorld();
    // A small ring, so resuming further back than it reaches must read Kafka.
    fanout = await startFanoutApp(world, { STREAM_RING_EVENTS: '16' });
  });

  afterAll(async () => {
    await fanout?.stop();
    await world?.stop();
  });

  /** Publishes `events` and returns, per partition, the ids in Kafka order. */
  async function publishInOrder(events: ReturnType<typeof testEvents>) {
    const at = await world.publish(events);
    return events.map((e, i) => ({
      id: e.id,
      where: `${at[i]!.topic}/${at[i]!.partition}`,
      offset: BigInt(at[i]!.offset),
    }));
  }

  function expectExactlyOnceInPartitionOrder(
    received: string[],
    published: { id: string; where: string; offset: bigint }[],
  ): void {
    expect(new Set(received).size).toBe(received.length);
    expect([...received].sort()).toEqual(published.map((p) => p.id).sort());
    const byId = new Map(published.map((p) => [p.id, p]));
    const last = new Map<string, bigint>();
    for (const id of received) {
      const { where, offset } = byId.get(id)!;
      expect(offset > (last.get(where) ?? -1n)).toBe(true);
      last.set(where, offset);
    }
  }

  it.each([
    ['within the ring', 6],
    ['older than the ring', 40],
  ])('resumes %s from the last cursor with every later event exactly once', async (_, later) => {
    const tag = `resume-${later}`;
    const url = `${fanout.url}/v1/streams/sse?types=order.*,kitchen.**`;
    const first = openSse(url);
    await first.opened;
    const before = await publishInOrder(testEvents(tag, 12));
    // Disconnect after a random event.
    const cut = 1 + Math.floor(Math.random() * 10);
    await waitFor(() => first.messages.length >= cut, { what: `${cut} events` });
    first.close();
    const kept = first.messages.slice(0, cut);
    const lastId = kept[kept.length - 1]!.id;
    const after = await publishInOrder(testEvents(tag, later, undefined, 12));

    const second = openSse(url, { lastEventId: lastId });
    await second.opened;
    const tail = await publishInOrder(testEvents(tag, 5, undefined, 12 + later));
    const published = [...before, ...after, ...tail];
    const expected = published.length - cut;
    await waitFor(() => second.messages.length >= expected, {
      what: `${expected} events after resuming (got ${second.messages.length})`,
    });
    // Nothing extra trickles in.
    await new Promise((done) => setTimeout(done, 200));
    second.close();
    expectExactlyOnceInPartitionOrder([...eventIds(kept), ...eventIds(second.messages)], published);
    expect(second.messages.every((m) => m.type === m.data.type)).toBe(true);
  });

  it('resumes with ?cursor= as well as Last-Event-ID', async () => {
    const url = `${fanout.url}/v1/streams/sse?types=kitchen.step`;
    const first = openSse(url);
    await first.opened;
    await world.publish(testEvents('qcursor', 3, ['kitchen.step']));
    await waitFor(() => first.messages.length >= 3);
    first.close();
    await world.publish(testEvents('qcursor', 2, ['kitchen.step'], 3));
    const second = openSse(`${url}&cursor=${first.messages[2]!.id}`);
    await waitFor(() => second.messages.length >= 2);
    second.close();
    // Two partitions: order between them is not defined, only within each.
    expect(eventIds(second.messages).sort()).toEqual(['qcursor-3', 'qcursor-4']);
  });

  it('sends structured CloudEvents with the cursor as id and the type as event name', async () => {
    const client = openSse(
      `${fanout.url}/v1/streams/sse?types=order.paid&access_token=${ADMIN_KEY}`,
    );
    await client.opened;
    await world.publish([{ type: 'order.paid', id: 'shape-1', n: 1, total: 5 }]);
    await waitFor(() => client.messages.length >= 1);
    client.close();
    const [message] = client.messages;
    expect(message!.type).toBe('order.paid');
    expect(message!.id).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(message!.data).toMatchObject({
      specversion: '1.0',
      id: 'shape-1',
      type: 'order.paid',
      source: '/stream-tests',
      datacontenttype: 'application/json',
      data: { id: 'shape-1', n: 1, total: 5 },
    });
  });
});
