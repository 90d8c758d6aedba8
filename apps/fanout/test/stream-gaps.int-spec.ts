import WebSocket from 'ws';
import {
  decodeCursor,
  encodeCursor,
  toKafkaHeaders,
  topicPartitionKey,
  type KafkaConnection,
  type PublishedRecord,
} from '@herald/kafka';
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
  type TestEvent,
} from './stream-app.fixture';

const TOPIC = 'orders.v1';
const KITCHEN = 'kitchen.v1';
/** The test contract gives orders.v1 three partitions: one for each transport. */
const PARTITIONS = 3;
const GAP_LOG = 'stream resumed past records Kafka no longer holds; client told of the gap';

interface Written {
  /** Written first, then removed by retention. */
  removed: TestEvent[];
  removedAt: PublishedRecord[];
  /** Written after them, still held. */
  held: TestEvent[];
  heldAt: PublishedRecord[];
}

/**
 * A client resuming from a cursor older than what Kafka still holds (retention removed the records
 * after it) cannot have them. The stream reads on from the oldest record held, and the client is
 * told, in its transport's shape, before the next event: which partition, the offset it was at,
 * the offset the stream resumed from and how many offsets were skipped. Everything still held
 * comes after it, once, and the cursors go on as before.
 *
 * The broker rolls a segment for every write (`segmentBytes: 1`) and orders.v1 keeps none but
 * the newest (`retention.bytes=0`): on each partition a first write is removed once a second one
 * lands. fanout starts only then, so its live tail (which starts at the ends) never held them.
 */
describe('streams: records no longer held are told as a gap', () => {
  let world: StreamWorld;
  let fanout: FanoutProcess;
  let admin: ReturnType<KafkaConnection['kafka']['admin']>;
  const written: Written[] = [];
  /** kitchen.v1 partition 0 (a durable stream's). */
  let kitchen: Written;

  beforeAll(async () => {
    world = await startStreamWorld({ broker: { segmentBytes: 1, retentionCheckIntervalMs: 20 } });
    admin = world.kafka.kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic: TOPIC,
          numPartitions: PARTITIONS,
          configEntries: [{ name: 'retention.bytes', value: '0' }],
        },
        {
          topic: KITCHEN,
          numPartitions: 2,
          configEntries: [{ name: 'retention.bytes', value: '0' }],
        },
      ],
    });
    for (let p = 0; p < PARTITIONS; p++) {
      const removed = testEvents(`gone-${p}`, 4, ['order.created', 'order.paid']);
      const held = testEvents(`held-${p}`, 3, ['order.created', 'order.paid']);
      // One write each: one record batch, one segment.
      const removedAt = await publishTo(p, removed);
      const heldAt = await publishTo(p, held);
      written.push({ removed, removedAt, held, heldAt });
    }
    {
      const removed = testEvents('gone-kitchen', 4, ['kitchen.step']);
      const held = testEvents('held-kitchen', 3, ['kitchen.step']);
      const removedAt = await publishTo(0, removed, KITCHEN);
      const heldAt = await publishTo(0, held, KITCHEN);
      kitchen = { removed, removedAt, held, heldAt };
    }
    await waitFor(
      async () =>
        (await admin.fetchTopicOffsets(TOPIC)).every(
          ({ partition, low }) => low === written[partition]!.heldAt[0]!.offset,
        ) && (await admin.fetchTopicOffsets(KITCHEN))[0]!.low === kitchen.heldAt[0]!.offset,
      { what: 'retention to remove the first write of every partition' },
    );
    fanout = await spawnFanout(world);
  });

  afterAll(async () => {
    await admin?.disconnect();
    await fanout?.stop();
    await world?.stop();
  });

  function publishTo(
    partition: number,
    events: TestEvent[],
    topic = TOPIC,
  ): Promise<PublishedRecord[]> {
    return world.publisher.publish(
      events.map((e) => ({
        topic,
        key: e.id,
        partition,
        value: JSON.stringify({ id: e.id, n: e.n, total: e.total }),
        headers: toKafkaHeaders({
          id: e.id,
          source: '/stream-tests',
          type: e.type,
          time: new Date().toISOString(),
        }),
      })),
    );
  }

  /**
   * A cursor after the second removed record of `partition` (so two are gone), at the end of
   * every other partition: what a client away while retention ran would hold.
   */
  async function staleCursor(partition: number, topic = TOPIC): Promise<string> {
    const positions = new Map<string, bigint>();
    for (const t of [TOPIC, KITCHEN])
      for (const { partition: p, high } of await admin.fetchTopicOffsets(t))
        positions.set(topicPartitionKey(t, p), BigInt(high));
    const stale = topic === TOPIC ? written[partition]! : kitchen;
    positions.set(topicPartitionKey(topic, partition), BigInt(stale.removedAt[1]!.offset) + 1n);
    return encodeCursor(positions);
  }

  /** The gap every transport reports for `partition`, with the numbers Kafka gives. */
  function expectedGap(partition: number, topic = TOPIC) {
    const stale = topic === TOPIC ? written[partition]! : kitchen;
    const requested = BigInt(stale.removedAt[1]!.offset) + 1n;
    const resumed = BigInt(stale.heldAt[0]!.offset);
    return {
      topic,
      partition,
      requestedOffset: requested.toString(),
      resumedOffset: resumed.toString(),
      skipped: Number(resumed - requested),
    };
  }

  async function expectGapCounted(transport: string, partition: number): Promise<void> {
    expect(
      await metricValue(fanout.url, 'herald_stream_gaps_total', `transport="${transport}"`),
    ).toBe(1);
    const line = await waitFor(
      () => fanout.logs.find((entry) => entry.msg === GAP_LOG && entry.transport === transport),
      { what: `the gap log line of ${transport}` },
    );
    expect(line).toMatchObject({ level: 'warn', ...expectedGap(partition) });
  }

  const heldIds = (partition: number) => written[partition]!.held.map((e) => e.id);
  const key = (partition: number) => topicPartitionKey(TOPIC, partition);

  it('SSE: an `event: herald.stream.gap` message before the events still held, then the stream goes on', async () => {
    const partition = 0;
    const client = openSse(`${fanout.url}/v1/streams/sse?types=order.*`, {
      lastEventId: await staleCursor(partition),
    });
    await client.opened;
    await waitFor(() => client.messages.length >= 4, {
      what: 'the gap and the held events',
    });
    // Written after: anything sent twice, or from elsewhere, would come before it.
    await publishTo(partition, [{ type: 'order.paid', id: 'sse-after', n: 99 }]);
    await waitFor(() => client.messages.some((m) => m.data.id === 'sse-after'), {
      what: 'the event written after',
    });
    client.close();

    const [gap, ...events] = client.messages;
    expect(gap).toEqual({
      type: 'herald.stream.gap',
      id: expect.any(String),
      data: { ...expectedGap(partition), cursor: gap!.id },
    });
    // The gap's cursor is past it: a client reconnecting from it is not told again.
    expect(decodeCursor(gap!.id).get(key(partition))).toBe(
      BigInt(expectedGap(partition).resumedOffset),
    );
    expect(events.map((m) => m.data.id)).toEqual([...heldIds(partition), 'sse-after']);
    // Each event's cursor is the position right after it, as always.
    const heldAt = written[partition]!.heldAt;
    expect(events.slice(0, 3).map((m) => decodeCursor(m.id).get(key(partition)))).toEqual(
      heldAt.map((r) => BigInt(r.offset) + 1n),
    );
    await expectGapCounted('sse', partition);
  });

  it('WebSocket: an {"op":"gap"} message before the events still held, then the stream goes on', async () => {
    const partition = 1;
    const socket = new WebSocket(`${fanout.url.replace('http', 'ws')}/v1/streams/ws`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    const messages: Record<string, unknown>[] = [];
    socket.on('message', (data: Buffer) =>
      messages.push(JSON.parse(data.toString('utf8')) as Record<string, unknown>),
    );
    await new Promise<void>((done, failed) => {
      socket.once('open', () => done());
      socket.once('error', failed);
    });
    socket.send(
      JSON.stringify({ op: 'subscribe', types: ['order.*'], cursor: await staleCursor(partition) }),
    );
    await waitFor(() => messages.length >= 5, {
      what: 'subscribed, the gap and the held events',
    });
    await publishTo(partition, [{ type: 'order.paid', id: 'ws-after', n: 99 }]);
    const eventId = (m: Record<string, unknown>) => (m.event as { id?: string } | undefined)?.id;
    await waitFor(() => messages.some((m) => eventId(m) === 'ws-after'), {
      what: 'the event written after',
    });
    socket.close();

    expect(messages.map((m) => m.op)).toEqual([
      'subscribed',
      'gap',
      'event',
      'event',
      'event',
      'event',
    ]);
    const gap = messages[1]!;
    expect(gap).toEqual({ op: 'gap', ...expectedGap(partition), cursor: expect.any(String) });
    expect(decodeCursor(gap.cursor as string).get(key(partition))).toBe(
      BigInt(expectedGap(partition).resumedOffset),
    );
    const events = messages.slice(2);
    expect(events.map(eventId)).toEqual([...heldIds(partition), 'ws-after']);
    expect(
      events.slice(0, 3).map((m) => decodeCursor(m.cursor as string).get(key(partition))),
    ).toEqual(written[partition]!.heldAt.map((r) => BigInt(r.offset) + 1n));
    await expectGapCounted('ws', partition);
  });

  it('long poll: a `gaps` array beside the events still held; the next poll goes on after them', async () => {
    const partition = 2;
    const poll = async (query: string) => {
      const response = await fetch(`${fanout.url}/v1/streams/poll?types=order.*&${query}`, {
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      });
      expect(response.status).toBe(200);
      return (await response.json()) as {
        events: { id: string }[];
        cursor: string;
        gaps?: unknown[];
      };
    };
    const answer = await poll(
      `cursor=${encodeURIComponent(await staleCursor(partition))}&wait=10&limit=100`,
    );
    // Before the first of the answer's events (the ones still held on that partition).
    expect(answer.gaps).toEqual([{ ...expectedGap(partition), beforeEvent: 0 }]);
    expect(answer.events.map((e) => e.id)).toEqual(heldIds(partition));
    expect(decodeCursor(answer.cursor).get(key(partition))).toBe(
      BigInt(written[partition]!.heldAt.at(-1)!.offset) + 1n,
    );

    // From the answer's cursor: no gap again, nothing repeated, the next event.
    await publishTo(partition, [{ type: 'order.paid', id: 'poll-after', n: 99 }]);
    const next = await poll(`cursor=${encodeURIComponent(answer.cursor)}&wait=10`);
    expect(next.gaps).toBeUndefined();
    expect(next.events.map((e) => e.id)).toEqual(['poll-after']);
    await expectGapCounted('poll', partition);
  });

  it('a durable stream resuming from its acknowledged cursor is told of the gap too', async () => {
    const subscriptionId = await world.createStreamSubscription({
      tenant: 'acme',
      types: ['kitchen.step'],
    });
    await world.cursors.acknowledge(subscriptionId, await staleCursor(0, KITCHEN));
    const client = openSse(`${fanout.url}/v1/streams/sse?subscription=${subscriptionId}`);
    await client.opened;
    await waitFor(() => client.messages.length >= 4, { what: 'the gap and the held events' });
    await publishTo(0, [{ type: 'kitchen.step', id: 'durable-after', n: 99 }], KITCHEN);
    await waitFor(() => client.messages.some((m) => m.data.id === 'durable-after'), {
      what: 'the event written after',
    });
    client.close();

    const [gap, ...events] = client.messages;
    expect(gap).toEqual({
      type: 'herald.stream.gap',
      id: expect.any(String),
      data: { ...expectedGap(0, KITCHEN), cursor: gap!.id },
    });
    expect(events.map((m) => m.data.id)).toEqual([
      ...kitchen.held.map((e) => e.id),
      'durable-after',
    ]);
    expect(await metricValue(fanout.url, 'herald_stream_gaps_total', 'transport="sse"')).toBe(2);
  });

  it('tells a client in step with the live tail of records retention removed before the tail read them', async () => {
    const partition = 1;
    const client = openSse(`${fanout.url}/v1/streams/sse?types=order.*`);
    await client.opened;
    await publishTo(partition, [{ type: 'order.paid', id: 'tail-before', n: 1 }]);
    await waitFor(() => client.messages.some((m) => m.data.id === 'tail-before'), {
      what: 'the client to be live',
    });
    const gapsBefore = await metricValue(fanout.url, 'herald_stream_gaps_total', 'transport="sse"');
    // fanout stops while retention runs. The tail's long poll in flight is answered with the
    // first write (read once fanout goes on); the next write is gone before the tail asks for it.
    fanout.child.kill('SIGSTOP');
    let answered: PublishedRecord[] = [];
    let kept: PublishedRecord[] = [];
    try {
      answered = await publishTo(partition, [{ type: 'order.paid', id: 'tail-answered', n: 2 }]);
      await new Promise((resolve) => setTimeout(resolve, 500));
      await publishTo(partition, testEvents('tail-gone', 3, ['order.created']));
      kept = await publishTo(partition, [{ type: 'order.paid', id: 'tail-kept', n: 3 }]);
      await waitFor(
        async () =>
          (await admin.fetchTopicOffsets(TOPIC)).find((p) => p.partition === partition)!.low ===
          kept[0]!.offset,
        { what: 'retention to remove the second write' },
      );
    } finally {
      fanout.child.kill('SIGCONT');
    }
    await waitFor(() => client.messages.some((m) => m.data.id === 'tail-kept'), {
      what: 'the event written last',
    });
    client.close();
    const after = client.messages
      .slice(client.messages.findIndex((m) => m.data.id === 'tail-before') + 1)
      .map((m) => (m.type === 'herald.stream.gap' ? 'gap' : m.data.id));
    // The tail was almost surely in a long poll, answered with the first write; had it been
    // between two, that write is gone too, and the gap starts there.
    const sawAnswered = after[0] === 'tail-answered';
    expect(after).toEqual([...(sawAnswered ? ['tail-answered'] : []), 'gap', 'tail-kept']);
    const gap = client.messages.find(
      (m) =>
        m.type === 'herald.stream.gap' &&
        m.data.partition === partition &&
        m.data.resumedOffset === kept[0]!.offset,
    );
    expect(gap?.data).toMatchObject({
      topic: TOPIC,
      partition,
      requestedOffset: (BigInt(answered[0]!.offset) + (sawAnswered ? 1n : 0n)).toString(),
      resumedOffset: kept[0]!.offset,
      skipped: sawAnswered ? 3 : 4,
    });
    expect(await metricValue(fanout.url, 'herald_stream_gaps_total', 'transport="sse"')).toBe(
      gapsBefore + 1,
    );
  });
});
