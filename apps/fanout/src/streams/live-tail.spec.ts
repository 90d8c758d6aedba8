import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  topicPartitionKey,
  type FetchedBatch,
  type IncomingRecord,
  type KafkaConnection,
  type PartitionPosition,
} from '@herald/kafka';
import pino from 'pino';
import { entryBytes, LiveTail } from './live-tail';
import { sseFrame } from './sse.sink';
import { wsEventFrame } from './ws.sink';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** The tail's reading, without Kafka: its start position and one fetch round's batches. */
interface Fed {
  place(start: readonly PartitionPosition[]): void;
  append(batches: FetchedBatch[]): void;
}

function tailOver(partitions: number, ringEvents: number): LiveTail {
  const tail = new LiveTail({} as KafkaConnection, pino({ level: 'silent' }), {
    ringEvents,
    ringMaxBytes: Number.POSITIVE_INFINITY,
    fetchMaxWaitMs: 100,
    partitionCheckMs: 60_000,
  });
  (tail as unknown as Fed).place(
    Array.from({ length: partitions }, (_, partition) => ({
      topic: 'orders.v1',
      partition,
      offset: '1000000',
    })),
  );
  return tail;
}

/** An order with line items (many short fields and numbers) of about `bytes` of JSON. */
function orderJson(id: string, bytes: number): string {
  const items: unknown[] = [];
  const order = { id, customer: 'c-1234', total: 0, currency: 'EUR', items };
  while (JSON.stringify(order).length < bytes)
    items.push({ sku: `sku-${items.length}`, qty: items.length % 5, price: 12.5 + items.length });
  return JSON.stringify(order);
}

/**
 * `count` records per fetch round as kafkajs hands them over: value, key and header bytes are
 * slices of one fetch response, spread over the partitions.
 */
function rounds(total: number, bytes: number, partitions: number, from: number): FetchedBatch[][] {
  const out: FetchedBatch[][] = [];
  for (let first = 0; first < total; first += 50) {
    const count = Math.min(50, total - first);
    const partition = (first / 50) % partitions;
    const response = Buffer.alloc(count * (bytes + 200));
    let at = 0;
    const bytesOf = (text: string) => {
      const written = response.write(text, at);
      at += written;
      return response.subarray(at - written, at);
    };
    const records: IncomingRecord[] = [];
    for (let i = first; i < first + count; i++) {
      const id = `order-${i.toString().padStart(8, '0')}`;
      records.push({
        topic: 'orders.v1',
        partition,
        offset: String(from + i),
        key: bytesOf(id),
        value: bytesOf(orderJson(id, bytes)),
        headers: {
          ce_specversion: bytesOf('1.0'),
          ce_id: bytesOf(id),
          ce_source: bytesOf('/shop/checkout'),
          ce_type: bytesOf('order.created'),
          ce_time: bytesOf('2026-12-06T18:00:00.000Z'),
          'content-type': bytesOf('application/json'),
        },
        timestamp: '1796580000000',
      });
    }
    out.push([{ topic: 'orders.v1', partition, records, highWatermark: '0', nextOffset: '0' }]);
  }
  return out;
}

async function heapAndBuffers(): Promise<number> {
  for (let i = 0; i < 6; i++) {
    gc();
    // Array buffers are released after the collection, off the main thread.
    await new Promise((done) => setTimeout(done, 10));
  }
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

/**
 * Fills a ring with `n` entries, has an in-step SSE and WebSocket client read them all (parsed,
 * cursors encoded, frames built and flattened as writing them to a socket does), and returns
 * what that holds per entry, measured and estimated.
 */
async function perEntry(
  n: number,
  bytes: number,
  partitions: number,
): Promise<{ measured: number; estimated: number }> {
  const tail = tailOver(partitions, n);
  const before = await heapAndBuffers();
  for (const batches of rounds(n, bytes, partitions, 1_000_000))
    (tail as unknown as Fed).append(batches);
  for (let seq = tail.ring.oldestSeq; seq < tail.ring.nextSeq; seq++) {
    const entry = tail.ring.get(seq)!;
    entry.frames.sse ??= sseFrame(entry.cursor, entry.type, entry.json);
    entry.frames.ws ??= wsEventFrame(entry.cursor, entry.json);
    Buffer.byteLength(entry.frames.sse);
    Buffer.byteLength(entry.frames.ws);
  }
  const measured = ((await heapAndBuffers()) - before) / n;
  expect(tail.ring.length).toBe(n);
  return { measured, estimated: tail.ring.byteSize / n };
}

describe('LiveTail ring entry size', () => {
  // Measured on Node 20: 6.8 KB per 1 KB order over 5 partitions; 4.8 KB per 200-byte order
  // over 100 partitions (cursor and offsets dominate). The estimate may be somewhat above, never
  // well below: the ring's byte bound is what operators size fanout's memory by.
  it.each([
    [1000, 5],
    [200, 100],
  ])(
    'estimates what an entry of a %i-byte event over %i partitions holds once streamed',
    async (bytes, partitions) => {
      const { measured, estimated } = await perEntry(4000, bytes, partitions);
      expect(estimated / measured).toBeGreaterThan(0.9);
      expect(estimated / measured).toBeLessThan(1.4);
    },
    30_000,
  );

  it('charges the payload, the cursor and every partition of the tail', () => {
    const base = entryBytes(1000, 5, 40);
    expect(entryBytes(2000, 5, 40) - base).toBe(5000);
    expect(entryBytes(1000, 105, 40) - base).toBe(800);
    expect(entryBytes(1000, 5, 140) - base).toBe(300);
  });

  it('cuts its ring when it skipped records Kafka no longer held, so every reader reads on from Kafka', () => {
    const tail = tailOver(2, 100);
    const [batch] = rounds(50, 200, 1, 1_000_000)[0]!;
    (tail as unknown as Fed).append([{ ...batch!, nextOffset: '1000050' }]);
    const before = tail.position();
    const reader = tail.ring.oldestSeq;
    const gaps: string[] = [];
    tail.onGap((reset) => gaps.push(`${reset.partition}:${reset.resumed}`));
    // Moved back, or not past where the tail is: nothing skipped, nothing changes.
    tail.skipped({ topic: 'orders.v1', partition: 0, requested: '1000050', resumed: '1000010' });
    expect(tail.ring.length).toBe(50);
    expect(gaps).toEqual([]);
    tail.skipped({ topic: 'orders.v1', partition: 0, requested: '1000050', resumed: '1000080' });
    expect(gaps).toEqual(['0:1000080']);
    expect(tail.ring.length).toBe(0);
    expect(reader).toBeLessThan(tail.ring.oldestSeq);
    expect(tail.position().get(topicPartitionKey('orders.v1', 0))).toBe(1_000_080n);
    // Only a position past the gap is served from memory; one before it reads from Kafka.
    expect(tail.covers(before)).toBe(false);
    expect(tail.covers(tail.position())).toBe(true);
  });
});
