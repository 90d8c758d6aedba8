// Micro-benchmark of the storage hot path. Run from the repo root:
//   node -r @swc-node/register libs/kafka-broker/src/storage/partition-log.bench.ts
import { openStorage } from './broker-storage';
import { crc32c } from './crc32c';
import { encodeBatch } from './record-batch.fixture';
import { makeTempDir } from './storage.fixture';
import type { FsyncPolicy } from './storage.types';

const RECORD_BYTES = 200;
const TOTAL_RECORDS = 200_000;

function rate(count: number, startNs: bigint): string {
  const seconds = Number(process.hrtime.bigint() - startNs) / 1e9;
  return `${Math.round(count / seconds).toLocaleString('en')}/s`;
}

async function bench(
  label: string,
  dataDir: string | undefined,
  fsync: FsyncPolicy,
  recordsPerBatch: number,
): Promise<void> {
  const storage = await openStorage({ dataDir, fsync });
  storage.createTopic('bench', 1);
  const log = storage.partition('bench', 0)!;
  const value = Buffer.alloc(RECORD_BYTES, 'x');
  const template = encodeBatch({
    records: Array.from({ length: recordsPerBatch }, () => ({ value })),
  });
  const appends = TOTAL_RECORDS / recordsPerBatch;
  let start = process.hrtime.bigint();
  for (let i = 0; i < appends; i++) await log.append(Buffer.from(template));
  const appendRate = rate(TOTAL_RECORDS, start);
  const bytes = log.sizeBytes();

  start = process.hrtime.bigint();
  let offset = 0n;
  let read = 0;
  while (offset < log.nextOffset()) {
    const data = log.read(offset, 1024 * 1024);
    read += data.length;
    // Skip to the batch after the last one returned, as a consumer would.
    let at = 0;
    let last = offset;
    while (at < data.length) {
      last = data.readBigInt64BE(at) + BigInt(data.readInt32BE(at + 23));
      at += 12 + data.readInt32BE(at + 8);
    }
    offset = last + 1n;
  }
  const readRate = rate(TOTAL_RECORDS, start);
  console.log(
    `${label.padEnd(34)} ${recordsPerBatch.toString().padStart(5)} rec/batch  append ${appendRate.padStart(12)} records` +
      `  read ${readRate.padStart(12)} records  (${(bytes / 1e6).toFixed(1)} MB, read ${(read / 1e6).toFixed(1)} MB)`,
  );
  await storage.close();
}

async function main(): Promise<void> {
  const data = Buffer.alloc(16 * 1024 * 1024, 7);
  const start = process.hrtime.bigint();
  for (let i = 0; i < 4; i++) crc32c(data);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`crc32c ${Math.round((4 * 16) / seconds)} MB/s`);

  for (const recordsPerBatch of [1000, 100, 1]) {
    await bench('memory', undefined, { mode: 'never' }, recordsPerBatch);
    for (const fsync of [
      { mode: 'never' },
      { mode: 'interval', intervalMs: 1000 },
      { mode: 'always' },
    ] as FsyncPolicy[]) {
      if (fsync.mode === 'always' && recordsPerBatch === 1) continue;
      const temp = makeTempDir('bench');
      try {
        await bench(`file fsync=${fsync.mode}`, temp.dir, fsync, recordsPerBatch);
      } finally {
        temp.remove();
      }
    }
  }
}

void main();
