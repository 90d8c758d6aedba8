// Hands out idempotent producer ids. The file records the end of the block of ids reserved so far;
// after a restart allocation resumes there, so an id is never handed out twice even if the process
// died halfway through a block.
import * as path from 'node:path';
import { readFileIfExists, writeFileAtomic } from './atomic-file';
import { CorruptStateError } from './storage.errors';

const FILE_NAME = 'producer-ids.json';
/** Ids reserved per write of the file; skipping the rest of a block on restart costs nothing. */
const BLOCK_SIZE = 1000n;

export class ProducerIdStore {
  private readonly file: string | null;
  private next = 0n;
  private reservedEnd = 0n;

  /** `dataDir` undefined keeps the counter in memory only. */
  constructor(dataDir: string | undefined) {
    this.file = dataDir === undefined ? null : path.join(dataDir, FILE_NAME);
    if (this.file === null) return;
    const data = readFileIfExists(this.file);
    if (data === null) return;
    try {
      const parsed = JSON.parse(data.toString('utf8')) as { reservedEnd: string };
      this.next = BigInt(parsed.reservedEnd);
      this.reservedEnd = this.next;
    } catch (error) {
      throw new CorruptStateError(this.file, { cause: error });
    }
  }

  allocate(): bigint {
    if (this.next >= this.reservedEnd) {
      const reservedEnd = this.next + BLOCK_SIZE;
      if (this.file !== null) {
        writeFileAtomic(this.file, JSON.stringify({ reservedEnd: String(reservedEnd) }), true);
      }
      this.reservedEnd = reservedEnd;
    }
    return this.next++;
  }
}
