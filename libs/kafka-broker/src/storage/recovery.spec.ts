import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LogBrokerStorage } from './broker-storage';
import {
  FIXTURE_BASE_TIMESTAMP,
  batchOf,
  decodeRecords,
  encodeBatch,
} from './record-batch.fixture';
import { partitionDir, storageHarness } from './storage.fixture';
import type { PartitionLog } from './storage.types';

const SEGMENT_BYTES = 4096;

function values(log: PartitionLog): string[] {
  const out: string[] = [];
  let offset = log.logStartOffset();
  while (offset < log.nextOffset()) {
    const records = decodeRecords(log.read(offset, 1 << 20));
    expect(records.length).toBeGreaterThan(0);
    for (const record of records) out.push(record.value ?? '');
    offset = BigInt(records.at(-1)!.offset) + 1n;
  }
  return out;
}

function segmentFiles(dir: string, suffix: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith(suffix))
    .sort()
    .map((name) => path.join(dir, name));
}

describe('recovery at open', () => {
  const harness = storageHarness('file', { segmentBytes: SEGMENT_BYTES, indexIntervalBytes: 300 });
  afterEach(() => harness.cleanup());

  /** A topic with `batches` batches of 3 records ("b<i>-<j>") at timestamps 10 ms apart. */
  async function seeded(batches: number): Promise<{ storage: LogBrokerStorage; dir: string }> {
    const storage = await harness.open();
    const topic = storage.createTopic('orders', 1);
    const log = storage.partition('orders', 0)!;
    for (let i = 0; i < batches; i++) {
      await log.append(
        encodeBatch({
          baseTimestamp: FIXTURE_BASE_TIMESTAMP + 10 * i,
          records: [0, 1, 2].map((j) => ({ value: `b${i}-${j}`, timestampDelta: j })),
        }),
      );
    }
    await storage.close();
    return { storage, dir: partitionDir(harness.dir(), topic.topicId, 0) };
  }

  function expected(batches: number): string[] {
    return Array.from({ length: batches }, (_, i) => [0, 1, 2].map((j) => `b${i}-${j}`)).flat();
  }

  it('cuts garbage off the end of the active segment and goes on appending after it', async () => {
    const { dir } = await seeded(10);
    const active = segmentFiles(dir, '.log').at(-1)!;
    const size = fs.statSync(active).size;
    fs.appendFileSync(active, Buffer.from('this is not a record batch, just noise'));
    const storage = await harness.reopen();
    const log = storage.partition('orders', 0)!;
    expect(log.nextOffset()).toBe(30n);
    expect(values(log)).toEqual(expected(10));
    expect(fs.statSync(active).size).toBe(size);
    expect(storage.recoveredTails()).toEqual([
      {
        topic: 'orders',
        partition: 0,
        segmentBaseOffset: Number(path.basename(active, '.log')),
        truncatedBytes: 38,
      },
    ]);
    expect(await log.append(batchOf(1, 'after'))).toMatchObject({ baseOffset: 30n });
    expect(values(await harness.reopen().then((s) => s.partition('orders', 0)!)).at(-1)).toBe(
      'after0',
    );
  });

  it('cuts half a batch torn by a crash mid-write', async () => {
    const { dir } = await seeded(5);
    const active = segmentFiles(dir, '.log').at(-1)!;
    const torn = batchOf(10, 'torn');
    torn.writeBigInt64BE(15n, 0);
    fs.appendFileSync(active, torn.subarray(0, Math.floor(torn.length / 2)));
    const log = (await harness.reopen()).partition('orders', 0)!;
    expect(log.nextOffset()).toBe(15n);
    expect(values(log)).toEqual(expected(5));
  });

  it('cuts the log at the first batch failing its CRC', async () => {
    const { dir } = await seeded(8);
    const active = segmentFiles(dir, '.log').at(-1)!;
    const data = fs.readFileSync(active);
    // Corrupt the last byte of the third batch of the active segment.
    const sizes: number[] = [];
    for (let at = 0; at < data.length; at += 12 + data.readInt32BE(at + 8)) sizes.push(at);
    const third = sizes[2]!;
    const thirdEnd = third + 12 + data.readInt32BE(third + 8);
    data[thirdEnd - 1]! ^= 0xff;
    fs.writeFileSync(active, data);
    const log = (await harness.reopen()).partition('orders', 0)!;
    const kept = Number(data.readBigInt64BE(third)) / 3;
    expect(log.nextOffset()).toBe(BigInt(kept * 3));
    expect(values(log)).toEqual(expected(kept));
  });

  it('rebuilds missing or damaged indexes of closed segments', async () => {
    const { dir } = await seeded(200);
    const indexes = segmentFiles(dir, '.index');
    const timeIndexes = segmentFiles(dir, '.timeindex');
    expect(indexes.length).toBeGreaterThan(2);
    fs.rmSync(indexes[0]!);
    fs.writeFileSync(indexes[1]!, Buffer.from([0, 0, 0, 5, 0, 0, 0, 1, 9, 9]));
    fs.rmSync(timeIndexes[0]!);
    fs.appendFileSync(timeIndexes[1]!, Buffer.alloc(5));
    const log = (await harness.reopen()).partition('orders', 0)!;
    expect(values(log)).toEqual(expected(200));
    for (const i of [0, 7, 20, 33, 59, 120, 199]) {
      expect(log.offsetForTimestamp(BigInt(FIXTURE_BASE_TIMESTAMP + 10 * i + 1))).toEqual({
        offset: BigInt(3 * i + 1),
        timestamp: BigInt(FIXTURE_BASE_TIMESTAMP + 10 * i + 1),
      });
    }
    expect(fs.existsSync(indexes[0]!)).toBe(true);
    expect(fs.statSync(indexes[1]!).size % 8).toBe(0);
  });

  it('recovers from a crash right after a roll: empty last segment, torn tail before it', async () => {
    const { dir } = await seeded(100);
    const logs = segmentFiles(dir, '.log');
    const previous = logs.at(-2)!;
    const previousSize = fs.statSync(previous).size;
    fs.truncateSync(logs.at(-1)!, 0);
    fs.appendFileSync(previous, Buffer.alloc(17, 1));
    const log = (await harness.reopen()).partition('orders', 0)!;
    expect(fs.statSync(previous).size).toBe(previousSize);
    const lastBase = BigInt(Number(path.basename(logs.at(-1)!, '.log')));
    expect(log.nextOffset()).toBe(lastBase);
    expect(values(log)).toEqual(expected(Number(lastBase) / 3));
    expect(await log.append(batchOf(1))).toMatchObject({ baseOffset: lastBase });
  });

  it('restores idempotent producer state after a restart, from snapshots or from the log alone', async () => {
    const storage = await harness.open();
    storage.createTopic('idem', 1);
    const log = storage.partition('idem', 0)!;
    for (let i = 0; i < 40; i++) {
      const producerId = BigInt(100 + (i % 3));
      await log.append(
        batchOf(4, 'p', { producerId, producerEpoch: 1, baseSequence: 4 * Math.floor(i / 3) }),
      );
    }
    const before = structuredClone([...log.producerStates()]);
    expect(before).toHaveLength(3);
    const topicId = storage.topic('idem')!.topicId;
    await storage.close();

    const fromSnapshot = (await harness.reopen()).partition('idem', 0)!;
    expect([...fromSnapshot.producerStates()]).toEqual(before);

    const dir = partitionDir(harness.dir(), topicId, 0);
    const snapshots = segmentFiles(dir, '.snapshot');
    expect(snapshots.length).toBeGreaterThan(0);
    for (const file of snapshots) fs.rmSync(file);
    const fromLog = (await harness.reopen()).partition('idem', 0)!;
    expect([...fromLog.producerStates()]).toEqual(before);

    // The newest snapshot is the one read at open (it belongs to the active segment).
    fs.writeFileSync(snapshots.at(-1)!, '{ torn');
    const fromDamaged = (await harness.reopen()).partition('idem', 0)!;
    expect([...fromDamaged.producerStates()]).toEqual(before);
  });
});
