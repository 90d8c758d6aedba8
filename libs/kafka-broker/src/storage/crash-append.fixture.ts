// Test-only child process for crash.spec.ts: appends numbered batches to two partitions for ever,
// commits after each, and prints an "ack" line once both are acknowledged. The parent SIGKILLs it
// at a random moment. Usage: node -r @swc-node/register crash-append.fixture.ts <dataDir> <fsync>
import { openStorage } from './broker-storage';
import { decodeRecords, encodeBatch } from './record-batch.fixture';
import type { FsyncPolicy } from './storage.types';

export const CRASH_TOPIC = 'crash';
export const CRASH_GROUP = 'crash-group';
export const CRASH_PARTITIONS = 2;
export const CRASH_SEGMENT_BYTES = 8 * 1024;

/** Record values are `s<batch sequence>-r<record index>`. */
export function parseValue(value: string): { batch: number; record: number } {
  const match = /^s(\d+)-r(\d+)$/.exec(value);
  if (match === null) throw new Error(`unexpected record value ${value}`);
  return { batch: Number(match[1]), record: Number(match[2]) };
}

async function main(dataDir: string, fsyncMode: string): Promise<void> {
  const fsync: FsyncPolicy =
    fsyncMode === 'interval'
      ? { mode: 'interval', intervalMs: 10 }
      : { mode: fsyncMode === 'always' ? 'always' : 'never' };
  const storage = await openStorage({
    dataDir,
    fsync,
    segmentBytes: CRASH_SEGMENT_BYTES,
    indexIntervalBytes: 512,
  });
  if (storage.topic(CRASH_TOPIC) === undefined) storage.createTopic(CRASH_TOPIC, CRASH_PARTITIONS);
  const producerId = storage.allocateProducerId();
  const nextBatch: number[] = [];
  const nextSequence: number[] = [];
  for (let partition = 0; partition < CRASH_PARTITIONS; partition++) {
    const log = storage.partition(CRASH_TOPIC, partition)!;
    const last =
      log.nextOffset() === 0n
        ? undefined
        : decodeRecords(log.read(log.nextOffset() - 1n, 1)).at(-1);
    nextBatch.push(last === undefined ? 0 : parseValue(last.value!).batch + 1);
    nextSequence.push(0);
  }
  process.stdout.write(`ready ${producerId}\n`);
  for (let round = 0; ; round++) {
    const partition = round % CRASH_PARTITIONS;
    const batches: Buffer[] = [];
    const first = nextBatch[partition]!;
    // One to three batches per append, so multi-batch produce requests get killed too.
    for (let b = 0; b < 1 + (round % 3); b++) {
      const batch = nextBatch[partition]!++;
      const count = 1 + ((round + b) % 5);
      batches.push(
        encodeBatch({
          producerId,
          producerEpoch: 0,
          baseSequence: nextSequence[partition]!,
          records: Array.from({ length: count }, (_, r) => ({ value: `s${batch}-r${r}` })),
        }),
      );
      nextSequence[partition]! += count;
    }
    const result = await storage.partition(CRASH_TOPIC, partition)!.append(Buffer.concat(batches));
    storage.commitOffsets(CRASH_GROUP, [
      {
        topic: CRASH_TOPIC,
        partition,
        value: {
          offset: result.lastOffset + 1n,
          leaderEpoch: 0,
          metadata: null,
          commitTimestampMs: Date.now(),
        },
      },
    ]);
    const last = nextBatch[partition]! - 1;
    process.stdout.write(
      `ack ${partition} ${first} ${last} ${result.baseOffset} ${result.lastOffset}\n`,
    );
  }
}

if (require.main === module) {
  const [dataDir, fsyncMode] = process.argv.slice(2);
  main(dataDir!, fsyncMode ?? 'never').catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  });
}
