import { CorruptRecordError } from './record-batch';
import {
  FIXTURE_BASE_TIMESTAMP,
  batchOf,
  decodeRecords,
  encodeBatch,
} from './record-batch.fixture';
import { storageHarness, type StorageMode } from './storage.fixture';
import type { PartitionLog, TopicConfig } from './storage.types';

const KEEP_FOREVER: TopicConfig = { retentionMs: -1, retentionBytes: -1, extra: {} };

/** Every record value from `from` to the end, fetched the way a consumer does. */
function readAll(log: PartitionLog, from: bigint, maxBytes = 4096): string[] {
  const values: string[] = [];
  let offset = from;
  while (offset < log.nextOffset()) {
    const data = log.read(offset, maxBytes);
    expect(data.length).toBeGreaterThan(0);
    for (const record of decodeRecords(data)) {
      if (BigInt(record.offset) < offset) continue;
      values.push(record.value ?? '');
      offset = BigInt(record.offset) + 1n;
    }
  }
  return values;
}

describe.each<StorageMode>(['memory', 'file'])('partition log (%s)', (mode) => {
  const harness = storageHarness(mode, { segmentBytes: 2048, indexIntervalBytes: 256 });
  afterEach(() => harness.cleanup());

  async function openLog(): Promise<PartitionLog> {
    const storage = await harness.open();
    storage.createTopic('events', 1);
    return storage.partition('events', 0)!;
  }

  it('assigns consecutive offsets, writing each base offset into the stored batch', async () => {
    const log = await openLog();
    expect(await log.append(batchOf(3))).toEqual({
      baseOffset: 0n,
      lastOffset: 2n,
      logStartOffset: 0n,
    });
    expect(await log.append(batchOf(1))).toEqual({
      baseOffset: 3n,
      lastOffset: 3n,
      logStartOffset: 0n,
    });
    expect(log.nextOffset()).toBe(4n);
    const data = log.read(3n, 1_000_000);
    expect(data.readBigInt64BE(0)).toBe(3n);
    expect(decodeRecords(log.read(0n, 1_000_000)).map((r) => r.offset)).toEqual([0, 1, 2, 3]);
  });

  it('appends every batch of a multi-batch produce and reports the whole range', async () => {
    const log = await openLog();
    await log.append(batchOf(2, 'x'));
    const result = await log.append(
      Buffer.concat([batchOf(2, 'a'), batchOf(3, 'b'), batchOf(1, 'c')]),
    );
    expect(result).toEqual({ baseOffset: 2n, lastOffset: 7n, logStartOffset: 0n });
    expect(readAll(log, 0n)).toEqual(['x0', 'x1', 'a0', 'a1', 'b0', 'b1', 'b2', 'c0']);
  });

  it('keeps every record readable from every offset across segment rolls', async () => {
    const log = await openLog();
    const expected: string[] = [];
    for (let i = 0; i < 120; i++) {
      const count = 1 + (i % 4);
      await log.append(batchOf(count, `b${i}-`));
      for (let j = 0; j < count; j++) expected.push(`b${i}-${j}`);
    }
    expect((log as unknown as { segmentCount(): number }).segmentCount()).toBeGreaterThan(5);
    expect(readAll(log, 0n)).toEqual(expected);
    for (let offset = 0; offset < expected.length; offset += 7) {
      const records = decodeRecords(log.read(BigInt(offset), 1));
      expect(records.some((r) => r.offset === offset && r.value === expected[offset])).toBe(true);
    }
  });

  it('returns whole batches within maxBytes, but at least one even when larger', async () => {
    const log = await openLog();
    const big = batchOf(20, 'big-');
    await log.append(big);
    await log.append(batchOf(1));
    await log.append(batchOf(1));
    expect(log.read(0n, 10).length).toBe(big.length);
    const small = log.read(20n, 10_000);
    expect(decodeRecords(small).map((r) => r.offset)).toEqual([20, 21]);
    const one = log.read(20n, small.length - 1);
    expect(decodeRecords(one).map((r) => r.offset)).toEqual([20]);
  });

  it('reads nothing outside [logStartOffset, nextOffset)', async () => {
    const log = await openLog();
    expect(log.read(0n, 100).length).toBe(0);
    await log.append(batchOf(2));
    expect(log.read(2n, 100).length).toBe(0);
    expect(log.read(-1n, 100).length).toBe(0);
  });

  it('rejects a corrupt batch with CorruptRecordError and leaves the log untouched', async () => {
    const log = await openLog();
    await log.append(batchOf(2));
    const bad = batchOf(2);
    bad[bad.length - 1]! ^= 1;
    await expect(log.append(Buffer.concat([batchOf(1), bad]))).rejects.toBeInstanceOf(
      CorruptRecordError,
    );
    await expect(log.append(Buffer.alloc(0))).rejects.toBeInstanceOf(CorruptRecordError);
    await expect(log.append(batchOf(3).subarray(0, 50))).rejects.toBeInstanceOf(CorruptRecordError);
    expect(log.nextOffset()).toBe(2n);
    expect(await log.append(batchOf(1))).toMatchObject({ baseOffset: 2n });
    expect(readAll(log, 0n)).toEqual(['v0', 'v1', 'v0']);
  });

  it('finds the first record at or after a timestamp, inside batches and across segments', async () => {
    const log = await openLog();
    for (let i = 0; i < 60; i++) {
      // Batch i holds records at t = base + 10i .. base + 10i + 4.
      await log.append(
        encodeBatch({
          baseTimestamp: FIXTURE_BASE_TIMESTAMP + 10 * i,
          records: Array.from({ length: 5 }, (_, j) => ({ value: `${i}-${j}`, timestampDelta: j })),
        }),
      );
    }
    const at = (t: number) => log.offsetForTimestamp(BigInt(FIXTURE_BASE_TIMESTAMP + t));
    expect(at(-1000)).toEqual({ offset: 0n, timestamp: BigInt(FIXTURE_BASE_TIMESTAMP) });
    expect(at(0)).toEqual({ offset: 0n, timestamp: BigInt(FIXTURE_BASE_TIMESTAMP) });
    expect(at(3)).toEqual({ offset: 3n, timestamp: BigInt(FIXTURE_BASE_TIMESTAMP + 3) });
    expect(at(7)).toEqual({ offset: 5n, timestamp: BigInt(FIXTURE_BASE_TIMESTAMP + 10) });
    expect(at(452)).toEqual({ offset: 227n, timestamp: BigInt(FIXTURE_BASE_TIMESTAMP + 452) });
    expect(at(594)).toEqual({ offset: 299n, timestamp: BigInt(FIXTURE_BASE_TIMESTAMP + 594) });
    expect(at(595)).toBeNull();
  });

  it('finds a timestamp inside a gzip batch', async () => {
    const log = await openLog();
    await log.append(batchOf(3));
    await log.append(
      encodeBatch({
        compression: 'gzip',
        baseTimestamp: FIXTURE_BASE_TIMESTAMP + 100,
        records: [
          { value: 'a' },
          { value: 'b', timestampDelta: 5 },
          { value: 'c', timestampDelta: 9 },
        ],
      }),
    );
    expect(log.offsetForTimestamp(BigInt(FIXTURE_BASE_TIMESTAMP + 104))).toEqual({
      offset: 4n,
      timestamp: BigInt(FIXTURE_BASE_TIMESTAMP + 105),
    });
    expect(decodeRecords(log.read(4n, 1)).map((r) => r.value)).toEqual(['a', 'b', 'c']);
  });

  it('removes whole closed segments older than retention.ms and advances logStartOffset', async () => {
    const log = await openLog();
    for (let i = 0; i < 40; i++) {
      const value = `r${i}`.padEnd(200, '.');
      await log.append(
        encodeBatch({ baseTimestamp: 1000 * i, records: [{ value, timestampDelta: 0 }] }),
      );
    }
    const before = log.sizeBytes();
    const removed = log.applyRetention({ ...KEEP_FOREVER, retentionMs: 20_000 }, 40_000);
    expect(removed).toBeGreaterThan(0);
    const start = log.logStartOffset();
    expect(start).toBeGreaterThan(0n);
    expect(start).toBeLessThanOrEqual(20n);
    expect(log.sizeBytes()).toBeLessThan(before);
    expect(log.read(start - 1n, 100).length).toBe(0);
    const values = readAll(log, start).map((value) => value.replace(/\.+$/, ''));
    expect(values.at(-1)).toBe('r39');
    expect(values[0]).toBe(`r${start}`);
    // Everything but the active segment has expired: all closed ones go, the active one stays.
    log.applyRetention({ ...KEEP_FOREVER, retentionMs: 0 }, 10_000_000);
    expect(log.logStartOffset()).toBeGreaterThan(start);
    expect(readAll(log, log.logStartOffset()).at(-1)).toMatch(/^r39\./);
    expect(await log.append(batchOf(1))).toMatchObject({ baseOffset: 40n });
  });

  it('removes the oldest closed segments while the partition exceeds retention.bytes', async () => {
    const log = await openLog();
    for (let i = 0; i < 60; i++) await log.append(batchOf(2, `r${i}-`));
    expect(
      log.applyRetention({ ...KEEP_FOREVER, retentionBytes: 3000 }, Date.now()),
    ).toBeGreaterThan(0);
    // As Kafka: whole segments go only while what remains still holds retention.bytes.
    expect(log.sizeBytes()).toBeGreaterThanOrEqual(3000);
    expect(log.sizeBytes()).toBeLessThan(3000 + 2048);
    expect(readAll(log, log.logStartOffset()).at(-1)).toBe('r59-1');
    expect(log.applyRetention({ ...KEEP_FOREVER, retentionBytes: 3000 }, Date.now())).toBe(0);
  });

  it('rolls by time, so time retention reaches a quiet topic', async () => {
    const storage = await harness.open({ segmentMs: 60_000 });
    storage.createTopic('quiet', 1);
    const log = storage.partition('quiet', 0)!;
    const minute = 60_000;
    for (const t of [0, 30_000, minute + 1, 2 * minute + 5]) {
      await log.append(
        encodeBatch({ baseTimestamp: t, records: [{ value: `at${t}`, timestampDelta: 0 }] }),
      );
    }
    expect((log as unknown as { segmentCount(): number }).segmentCount()).toBe(3);
    expect(log.applyRetention({ ...KEEP_FOREVER, retentionMs: minute }, 2 * minute)).toBe(1);
    expect(log.logStartOffset()).toBe(2n);
    expect(readAll(log, 2n)).toEqual([`at${minute + 1}`, `at${2 * minute + 5}`]);
  });

  it('tracks idempotent producers per producer id, keeping their last five batches', async () => {
    const log = await openLog();
    await log.append(batchOf(1));
    for (let i = 0; i < 7; i++) {
      await log.append(batchOf(3, 'p', { producerId: 9n, producerEpoch: 0, baseSequence: 3 * i }));
    }
    await log.append(
      batchOf(2, 'q', { producerId: 11n, producerEpoch: 2, baseSequence: 2147483647 }),
    );
    const states = log.producerStates();
    expect([...states.keys()].sort((a, b) => Number(a - b))).toEqual([9n, 11n]);
    const nine = states.get(9n)!;
    expect(nine).toMatchObject({
      producerEpoch: 0,
      lastSequence: 20,
      lastBaseOffset: 19n,
      lastLastOffset: 21n,
    });
    expect(nine.batches.map((b) => b.firstSequence)).toEqual([6, 9, 12, 15, 18]);
    expect(states.get(11n)).toMatchObject({
      lastSequence: 0,
      lastBaseOffset: 22n,
      lastLastOffset: 23n,
    });
    await log.append(batchOf(1, 'p', { producerId: 9n, producerEpoch: 1, baseSequence: 0 }));
    expect(states.get(9n)).toMatchObject({ producerEpoch: 1, lastSequence: 0 });
    expect(states.get(9n)!.batches).toHaveLength(1);
  });
});
