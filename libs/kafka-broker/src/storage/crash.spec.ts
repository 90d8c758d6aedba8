import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as path from 'node:path';
import { openStorage } from './broker-storage';
import {
  CRASH_GROUP,
  CRASH_PARTITIONS,
  CRASH_SEGMENT_BYTES,
  CRASH_TOPIC,
  parseValue,
} from './crash-append.fixture';
import { decodeRecords } from './record-batch.fixture';
import { makeTempDir } from './storage.fixture';

interface Ack {
  partition: number;
  firstBatch: number;
  lastBatch: number;
  baseOffset: bigint;
  lastOffset: bigint;
}

const CHILD = path.join(__dirname, 'crash-append.fixture.ts');
const ACK_DEADLINE_MS = 20_000;

/** Runs the appending child until it has acknowledged `acks` appends, then SIGKILLs it. */
async function runAndKill(
  dataDir: string,
  fsync: string,
  acks: number,
): Promise<{ acked: Ack[]; producerId: bigint }> {
  const child = spawn(
    process.execPath,
    ['-r', require.resolve('@swc-node/register'), CHILD, dataDir, fsync],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const acked: Ack[] = [];
  let producerId = -1n;
  let stderr = '';
  let pending = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const enough = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new Error(`only ${acked.length} acks within ${ACK_DEADLINE_MS} ms; stderr: ${stderr}`),
        ),
      ACK_DEADLINE_MS,
    );
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited early with ${String(code)}: ${stderr}`));
    });
    child.stdout.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        const [kind, ...fields] = line.split(' ');
        if (kind === 'ready') producerId = BigInt(fields[0]!);
        if (kind !== 'ack') continue;
        acked.push({
          partition: Number(fields[0]),
          firstBatch: Number(fields[1]),
          lastBatch: Number(fields[2]),
          baseOffset: BigInt(fields[3]!),
          lastOffset: BigInt(fields[4]!),
        });
        if (acked.length >= acks) {
          clearTimeout(timer);
          resolve();
        }
      }
    });
  });
  try {
    await enough;
  } finally {
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }
  return { acked, producerId };
}

describe('crash safety', () => {
  it('keeps every acknowledged batch exactly once and in order through repeated SIGKILLs', async () => {
    const temp = makeTempDir('crash');
    try {
      const allAcked: Ack[] = [];
      for (const fsync of ['never', 'interval', 'always', 'never']) {
        const { acked, producerId } = await runAndKill(
          temp.dir,
          fsync,
          100 + Math.floor(Math.random() * 400),
        );
        allAcked.push(...acked);
        const storage = await openStorage({ dataDir: temp.dir, segmentBytes: CRASH_SEGMENT_BYTES });
        try {
          for (let partition = 0; partition < CRASH_PARTITIONS; partition++) {
            const log = storage.partition(CRASH_TOPIC, partition)!;
            // Batch sequence numbers and record indexes found in the log, in offset order.
            const found: { batch: number; record: number; offset: number }[] = [];
            for (let offset = 0n; offset < log.nextOffset();) {
              const records = decodeRecords(log.read(offset, 64 * 1024));
              expect(records.length).toBeGreaterThan(0);
              for (const record of records)
                found.push({ ...parseValue(record.value!), offset: record.offset });
              offset = BigInt(records.at(-1)!.offset) + 1n;
            }
            found.forEach((entry, i) => expect(entry.offset).toBe(i));
            // Exactly once, in order: batches 0, 1, 2 … each with records r0 … rn, no gaps.
            let expectedBatch = 0;
            for (let i = 0; i < found.length; i++) {
              const entry = found[i]!;
              if (entry.record === 0) {
                expect(entry.batch).toBe(expectedBatch);
                expectedBatch++;
              } else {
                expect(entry).toMatchObject({
                  batch: expectedBatch - 1,
                  record: found[i - 1]!.record + 1,
                });
              }
            }
            const mine = allAcked.filter((ack) => ack.partition === partition);
            const lastAcked = mine.at(-1)!;
            expect(expectedBatch).toBeGreaterThan(lastAcked.lastBatch);
            for (const ack of mine) {
              expect(found[Number(ack.baseOffset)]).toMatchObject({
                batch: ack.firstBatch,
                record: 0,
              });
              expect(found[Number(ack.lastOffset)]!.batch).toBe(ack.lastBatch);
            }
            const committed = storage.committedOffset(CRASH_GROUP, CRASH_TOPIC, partition)!.offset;
            expect(committed).toBeGreaterThanOrEqual(lastAcked.lastOffset + 1n);
            expect(committed).toBeLessThanOrEqual(log.nextOffset());
            // The producer of this round wrote the partition's last batch: its state must say so.
            const state = log.producerStates().get(producerId);
            if (acked.some((ack) => ack.partition === partition)) {
              expect(state?.lastLastOffset).toBe(log.nextOffset() - 1n);
            }
          }
        } finally {
          await storage.close();
        }
      }
    } finally {
      temp.remove();
    }
  }, 120_000);
});
