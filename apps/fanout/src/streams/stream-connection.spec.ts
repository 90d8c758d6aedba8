import {
  type FetchedBatch,
  type PartitionFetcher,
  type PartitionPosition,
  decodeCursor,
  encodeCursor,
  topicPartitionKey,
  type CursorPositions,
} from '@herald/kafka';
import pino from 'pino';
import { fillMissing, type LiveTail, type TailEntry } from './live-tail';
import { RingBuffer } from './ring-buffer';
import {
  StreamConnection,
  gapOf,
  type EndReason,
  type StreamGap,
  type StreamSink,
} from './stream-connection';
import type { StreamEvent } from './stream-event';

const P0 = topicPartitionKey('t', 0);
const P1 = topicPartitionKey('t', 1);

/** A Kafka log of two partitions and a tail whose ring holds its last `ringSize` events. */
class FakeTail {
  readonly log: { partition: number; offset: bigint; type: string }[] = [];
  readonly ring: RingBuffer<TailEntry>;
  private readonly positions: CursorPositions = new Map([
    [P0, 0n],
    [P1, 0n],
  ]);
  private readonly held = new Map(this.positions);
  /** Partitions added while the tail ran, at the offset it began reading each from. */
  private readonly addedAt: CursorPositions = new Map();

  constructor(ringSize: number) {
    this.ring = new RingBuffer<TailEntry>(ringSize, Infinity, (entry) =>
      this.held.set(entry.key, entry.offset + 1n),
    );
  }

  append(partition: number, type = 'a'): void {
    const key = topicPartitionKey('t', partition);
    const offset = this.positions.get(key)!;
    this.log.push({ partition, offset, type });
    this.positions.set(key, offset + 1n);
    const cursor = encodeCursor(this.positions);
    this.ring.push({
      ...event(partition, offset, type),
      seq: this.ring.nextSeq,
      cursor,
      frames: {},
    });
  }

  /** A partition added to the topic; the tail reads it from offset 0. */
  addPartition(partition: number): void {
    const key = topicPartitionKey('t', partition);
    this.positions.set(key, 0n);
    this.held.set(key, 0n);
    this.addedAt.set(key, 0n);
  }

  fillAdded(positions: CursorPositions): boolean {
    return fillMissing(positions, this.addedAt);
  }

  covers(positions: ReadonlyMap<string, bigint>): boolean {
    return [...this.held].every(([key, offset]) => (positions.get(key) ?? -1n) >= offset);
  }

  isAt(positions: ReadonlyMap<string, bigint>): boolean {
    return [...this.positions].every(([key, offset]) => positions.get(key) === offset);
  }

  cursor(): string {
    return encodeCursor(this.positions);
  }

  position(): CursorPositions {
    return new Map(this.positions);
  }

  /**
   * A fetcher over the log, one partition's next record per read. Like the real one it knows the
   * partitions there were when it was made, and skips any other it is assigned.
   */
  fetcher(): PartitionFetcher {
    let at: PartitionPosition[] = [];
    const log = this.log;
    const known = new Set(this.positions.keys());
    const fake = {
      assign: (positions: PartitionPosition[]) => (at = positions.map((p) => ({ ...p }))),
      read: () => {
        const batches: FetchedBatch[] = [];
        for (const position of at) {
          if (!known.has(topicPartitionKey('t', position.partition))) continue;
          const record = log.find(
            (r) => r.partition === position.partition && r.offset === BigInt(position.offset),
          );
          if (!record) continue;
          batches.push({
            topic: 't',
            partition: record.partition,
            records: [
              {
                topic: 't',
                partition: record.partition,
                offset: String(record.offset),
                key: null,
                value: Buffer.from('{}'),
                headers: {
                  ce_specversion: Buffer.from('1.0'),
                  ce_id: Buffer.from(`${record.partition}/${record.offset}`),
                  ce_source: Buffer.from('/test'),
                  ce_type: Buffer.from(record.type),
                  ce_time: Buffer.from('2026-01-01T00:00:00Z'),
                },
                timestamp: '0',
              },
            ],
            highWatermark: '0',
            nextOffset: String(record.offset + 1n),
          });
          position.offset = String(record.offset + 1n);
        }
        // With nothing to read the real one waits at the broker (maxWaitMs) before answering.
        if (batches.length === 0)
          return new Promise<FetchedBatch[]>((done) => setTimeout(() => done(batches), 1));
        return Promise.resolve(batches);
      },
      close: () => Promise.resolve(),
    };
    return fake as unknown as PartitionFetcher;
  }
}

function event(partition: number, offset: bigint, type: string): StreamEvent {
  // Herald's own events say which tenant they are about: acme on partition 0, globex on 1.
  const body = {
    id: `${partition}/${offset}`,
    type,
    ...(type.startsWith('herald.')
      ? { data: { tenant: partition === 0 ? 'acme' : 'globex' } }
      : {}),
  };
  return {
    topic: 't',
    partition,
    offset,
    key: topicPartitionKey('t', partition),
    type,
    event: body,
    json: JSON.stringify(body),
    timeMs: 0,
  };
}

class RecordingSink implements StreamSink {
  readonly transport = 'sse' as const;
  readonly dropWhenBehind = true;
  readonly sent: { id: string; cursor: string; shared: boolean }[] = [];
  readonly gaps: { gap: StreamGap; cursor: string }[] = [];
  ended: { reason: EndReason; cursor: string } | null = null;
  capacity = Infinity;
  fits?: (event: StreamEvent) => boolean;

  full(): boolean {
    return this.sent.length >= this.capacity;
  }
  send(e: StreamEvent, cursor: string, entry: TailEntry | null): void {
    this.sent.push({ id: e.event.id as string, cursor, shared: entry !== null });
  }
  heartbeat(): void {}
  gap(gap: StreamGap, cursor: string): void {
    this.gaps.push({ gap, cursor });
  }
  end(reason: EndReason, cursor: string): void {
    this.ended = { reason, cursor };
  }
}

function connect(
  tail: FakeTail,
  sink: RecordingSink,
  types = ['a'],
  tenant: string | null = null,
): StreamConnection {
  return new StreamConnection(
    'c',
    sink,
    { types: new Set(types), filter: null, tenant },
    {
      tail: tail as unknown as LiveTail,
      logger: pino({ level: 'silent' }),
      createFetcher: () => tail.fetcher(),
      sent: () => undefined,
      skipped: () => undefined,
      filterFailed: () => undefined,
      ended: () => undefined,
    },
  );
}

const ids = (sink: RecordingSink) => sink.sent.map((s) => s.id);

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((done) => setTimeout(done, 5));
}

describe('StreamConnection', () => {
  it('in step with the tail: shares the tail cursors and frames, skipping other types', () => {
    const tail = new FakeTail(10);
    const sink = new RecordingSink();
    const connection = connect(tail, sink);
    connection.start({ seq: tail.ring.nextSeq, cursor: tail.cursor() });
    tail.append(0);
    tail.append(1, 'b');
    tail.append(1);
    connection.pump();
    expect(ids(sink)).toEqual(['0/0', '1/1']);
    expect(sink.sent.every((s) => s.shared)).toBe(true);
    expect(connection.cursor()).toBe(tail.cursor());
  });

  it('treats an event its filter throws on as not matching, counts each, and throws nothing to the tail', () => {
    const tail = new FakeTail(10);
    const sink = new RecordingSink();
    let filterFailures = 0;
    const connection = new StreamConnection(
      'c',
      sink,
      {
        types: new Set(['a']),
        // As the query engine does for a path through __proto__ on some events.
        filter: (e) => {
          if (String(e.id).startsWith('1/'))
            throw new Error("Accessing __proto__ is not allowed in selector: 'x'.");
          return true;
        },
        tenant: null,
      },
      {
        tail: tail as unknown as LiveTail,
        logger: pino({ level: 'silent' }),
        createFetcher: () => tail.fetcher(),
        sent: () => undefined,
        skipped: () => undefined,
        filterFailed: () => (filterFailures += 1),
        ended: () => undefined,
      },
    );
    connection.start({ seq: tail.ring.nextSeq, cursor: tail.cursor() });
    tail.append(0);
    tail.append(1);
    tail.append(0);
    tail.append(1);
    expect(() => connection.pump()).not.toThrow();
    expect(ids(sink)).toEqual(['0/0', '0/1']);
    // Every event it threw on, not only the first (which alone is logged).
    expect(filterFailures).toBe(2);
    expect(connection.closed).toBe(false);
  });

  it('ends only its own stream (server_error) when sending fails, throwing nothing to the tail', () => {
    const tail = new FakeTail(10);
    const sink = new RecordingSink();
    sink.send = () => {
      throw new Error('socket exploded');
    };
    const connection = connect(tail, sink);
    connection.start({ seq: tail.ring.nextSeq, cursor: tail.cursor() });
    tail.append(0);
    expect(() => connection.pump()).not.toThrow();
    expect(connection.closed).toBe(true);
    expect(sink.ended).toEqual({ reason: 'server_error', cursor: expect.any(String) });
  });

  it("gives a tenant's stream only that tenant's herald.* events; an admin stream gets all", () => {
    const tail = new FakeTail(10);
    const acme = new RecordingSink();
    const admin = new RecordingSink();
    const streams = [
      connect(tail, acme, ['herald.delivery.exhausted', 'a'], 'acme'),
      connect(tail, admin, ['herald.delivery.exhausted', 'a'], null),
    ];
    for (const connection of streams)
      connection.start({ seq: tail.ring.nextSeq, cursor: tail.cursor() });
    tail.append(0, 'herald.delivery.exhausted');
    tail.append(1, 'herald.delivery.exhausted');
    tail.append(1, 'a');
    for (const connection of streams) connection.pump();
    expect(ids(acme)).toEqual(['0/0', '1/1']);
    expect(ids(admin)).toEqual(['0/0', '1/0', '1/1']);
  });

  it('resumed from positions inside the ring: sends each later offset once, then falls in step', () => {
    const tail = new FakeTail(10);
    for (const partition of [0, 1, 0, 1, 1, 0]) tail.append(partition);
    const sink = new RecordingSink();
    const connection = connect(tail, sink);
    connection.start({
      positions: new Map([
        [P0, 1n],
        [P1, 2n],
      ]),
    });
    expect(ids(sink)).toEqual(['0/1', '1/2', '0/2']);
    expect(decodeCursor(sink.sent[2]!.cursor)).toEqual(
      new Map([
        [P0, 3n],
        [P1, 3n],
      ]),
    );
    tail.append(1);
    connection.pump();
    expect(sink.sent[3]).toEqual({ id: '1/3', cursor: tail.cursor(), shared: true });
  });

  it('catches up from Kafka when the ring no longer holds its position, and hands over with no gap or repeat', async () => {
    const tail = new FakeTail(3);
    for (let i = 0; i < 12; i++) tail.append(i % 2);
    const sink = new RecordingSink();
    const connection = connect(tail, sink);
    connection.start({
      positions: new Map([
        [P0, 1n],
        [P1, 0n],
      ]),
    });
    await new Promise((done) => setTimeout(done, 20));
    tail.append(0);
    connection.pump();
    const expected = tail.log
      .filter((r) => r.offset >= (r.partition === 0 ? 1n : 0n))
      .map((r) => `${r.partition}/${r.offset}`);
    expect([...ids(sink)].sort()).toEqual(expected.sort());
    for (const partition of [0, 1]) {
      const offsets = ids(sink)
        .filter((id) => id.startsWith(`${partition}/`))
        .map((id) => Number(id.slice(2)));
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    }
    expect(connection.cursor()).toBe(tail.cursor());
  });

  it('catching up from Kafka, also reads a partition the tail began reading meanwhile, from its start', async () => {
    const tail = new FakeTail(3);
    for (let i = 0; i < 12; i++) tail.append(i % 2);
    const sink = new RecordingSink();
    const connection = connect(tail, sink);
    connection.start({
      positions: new Map([
        [P0, 1n],
        [P1, 0n],
      ]),
    });
    // Added while the client reads from Kafka; its positions do not name it.
    tail.addPartition(2);
    tail.append(2);
    tail.append(2);
    await waitFor(() => ids(sink).includes('2/1'));
    tail.append(2);
    connection.pump();
    const expected = tail.log
      .filter((r) => r.offset >= (r.partition === 0 ? 1n : 0n))
      .map((r) => `${r.partition}/${r.offset}`);
    expect([...ids(sink)].sort()).toEqual(expected.sort());
    expect(ids(sink).filter((id) => id.startsWith('2/'))).toEqual(['2/0', '2/1', '2/2']);
    expect(connection.cursor()).toBe(tail.cursor());
  });

  it('falling behind the ring in step with a cursor from before a partition was added, reads that partition from its start', async () => {
    const tail = new FakeTail(4);
    for (let i = 0; i < 4; i++) tail.append(0);
    const sink = new RecordingSink();
    sink.capacity = 1;
    const connection = connect(tail, sink);
    // In step from the cursor after the first event, written before partition 2 existed.
    connection.start({ seq: 1, cursor: tail.ring.get(0)!.cursor });
    expect(ids(sink)).toEqual(['0/1']);
    tail.addPartition(2);
    for (let i = 0; i < 4; i++) tail.append(2);
    // The ring has moved past what the client has not read: it reads on from Kafka.
    connection.pump();
    sink.capacity = Infinity;
    connection.drained();
    await waitFor(() => ids(sink).length === 7);
    // Order holds per partition (Kafka interleaves partitions).
    expect(ids(sink).filter((id) => id.startsWith('0/'))).toEqual(['0/1', '0/2', '0/3']);
    expect(ids(sink).filter((id) => id.startsWith('2/'))).toEqual(['2/0', '2/1', '2/2', '2/3']);
    expect(connection.cursor()).toBe(tail.cursor());
  });

  it('resumed from positions that do not name a partition the tail added, reads it from the ring from its start', () => {
    const tail = new FakeTail(10);
    tail.append(0);
    tail.addPartition(2);
    tail.append(2);
    tail.append(0);
    const sink = new RecordingSink();
    const connection = connect(tail, sink);
    connection.start({
      positions: new Map([
        [P0, 1n],
        [P1, 0n],
      ]),
    });
    expect(ids(sink)).toEqual(['2/0', '0/1']);
    expect(connection.cursor()).toBe(tail.cursor());
  });

  it('pauses on a full buffer and resumes on drain without losing events', () => {
    const tail = new FakeTail(10);
    const sink = new RecordingSink();
    sink.capacity = 2;
    const connection = connect(tail, sink);
    connection.start({ seq: tail.ring.nextSeq, cursor: tail.cursor() });
    for (let i = 0; i < 5; i++) tail.append(0);
    connection.pump();
    expect(ids(sink)).toEqual(['0/0', '0/1']);
    sink.capacity = Infinity;
    connection.drained();
    expect(ids(sink)).toEqual(['0/0', '0/1', '0/2', '0/3', '0/4']);
    expect(sink.ended).toBeNull();
  });

  it('drops a live client the ring leaves behind, telling it the cursor after what it got', () => {
    const tail = new FakeTail(3);
    const sink = new RecordingSink();
    sink.capacity = 1;
    const connection = connect(tail, sink);
    connection.start({ seq: tail.ring.nextSeq, cursor: tail.cursor() });
    tail.append(0);
    connection.pump();
    for (let i = 0; i < 5; i++) tail.append(1);
    connection.pump();
    expect(sink.ended).toEqual({ reason: 'slow_consumer', cursor: sink.sent[0]!.cursor });
    expect(connection.closed).toBe(true);
  });

  it('reads on from Kafka, not dropped as slow, when one read of the tail turns the ring over under a live client with room', async () => {
    const tail = new FakeTail(3);
    const sink = new RecordingSink();
    const connection = connect(tail, sink);
    connection.start({ seq: tail.ring.nextSeq, cursor: tail.cursor() });
    tail.append(0);
    connection.pump();
    // Live, at the ring's end, its buffer empty: then more than the ring holds arrives at once.
    for (let i = 0; i < 5; i++) tail.append(0);
    connection.pump();
    expect(sink.ended).toBeNull();
    await waitFor(() => ids(sink).length === 6);
    expect(ids(sink)).toEqual(['0/0', '0/1', '0/2', '0/3', '0/4', '0/5']);
    expect(connection.cursor()).toBe(tail.cursor());
  });

  it('reads on from Kafka, not dropped as slow, when the ring evicts a client still catching up on it', async () => {
    const tail = new FakeTail(4);
    for (let i = 0; i < 4; i++) tail.append(0);
    // Resumed in step from the cursor after the first event: three behind the end of the ring.
    const sink = new RecordingSink();
    sink.capacity = 1;
    const connection = connect(tail, sink);
    connection.start({ seq: 1, cursor: tail.ring.get(0)!.cursor });
    expect(ids(sink)).toEqual(['0/1']);
    // The ring moves on past it before its buffer drains.
    for (let i = 0; i < 4; i++) tail.append(0);
    connection.pump();
    expect(sink.ended).toBeNull();
    sink.capacity = Infinity;
    connection.drained();
    await waitFor(() => ids(sink).length === 7);
    expect(ids(sink)).toEqual(['0/1', '0/2', '0/3', '0/4', '0/5', '0/6', '0/7']);
    expect(connection.cursor()).toBe(tail.cursor());
    // Caught up, it is live again: the next time the ring leaves it behind, it is dropped.
    tail.append(0);
    connection.pump();
    sink.capacity = ids(sink).length;
    for (let i = 0; i < 5; i++) tail.append(0);
    connection.pump();
    expect(sink.ended?.reason).toBe('slow_consumer');
  });

  it('leaves an event the sink has no room for, and its cursor, for later (ring and Kafka alike)', async () => {
    const tail = new FakeTail(3);
    for (let i = 0; i < 6; i++) tail.append(0);
    for (const start of [
      {
        positions: new Map([
          [P0, 0n],
          [P1, 0n],
        ]),
      }, // behind the ring: read from Kafka
      { seq: tail.ring.oldestSeq, cursor: tail.ring.get(tail.ring.oldestSeq - 1)?.cursor ?? '' },
    ]) {
      const sink = new RecordingSink();
      // Room for two events: the third is refused.
      sink.fits = () => sink.sent.length < 2;
      const connection = connect(tail, sink);
      connection.start(start);
      await new Promise((done) => setTimeout(done, 20));
      expect(sink.sent).toHaveLength(2);
      expect(connection.cursor()).toBe(sink.sent[1]!.cursor);
      connection.end('done');
    }
  });

  it('drops any client whose buffer stays full past the slow timeout', () => {
    const tail = new FakeTail(10);
    const sink = new RecordingSink();
    sink.capacity = 0;
    const connection = connect(tail, sink);
    connection.start({ seq: tail.ring.nextSeq, cursor: tail.cursor() });
    tail.append(0);
    connection.pump();
    connection.tick(Date.now() + 10, 60_000, 1000);
    expect(sink.ended).toBeNull();
    connection.tick(Date.now() + 2000, 60_000, 1000);
    expect(sink.ended?.reason).toBe('slow_consumer');
  });
});

describe('gapOf', () => {
  const reset = (requested: string, resumed: string) => ({
    topic: 't',
    partition: 2,
    requested,
    resumed,
  });

  it('names the offsets skipped from where the client is to where the read resumed', () => {
    expect(gapOf(reset('3', '10'), 3n)).toEqual({
      topic: 't',
      partition: 2,
      requestedOffset: '3',
      resumedOffset: '10',
      skipped: 7,
    });
  });

  it('is no gap when the read moved back (past the end) or not past the client', () => {
    expect(gapOf(reset('50', '1'), 50n)).toBeNull();
    expect(gapOf(reset('3', '10'), 10n)).toBeNull();
  });
});
