// In-memory segments for tests and `dataDir`-less brokers: a doubling buffer per segment.
import type { PartitionStore, SegmentStore, SidecarKind } from './segment.store';

const INITIAL_CAPACITY = 64 * 1024;

export class MemorySegmentStore implements SegmentStore {
  private buffer = Buffer.allocUnsafe(INITIAL_CAPACITY);
  private length = 0;
  private lastWriteMs = Date.now();

  size(): number {
    return this.length;
  }

  append(data: Buffer): void {
    const needed = this.length + data.length;
    if (needed > this.buffer.length) {
      // Views handed out by read() keep pointing at the old buffer, whose bytes stay valid.
      const grown = Buffer.allocUnsafe(Math.max(needed, this.buffer.length * 2));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    data.copy(this.buffer, this.length);
    this.length = needed;
    this.lastWriteMs = Date.now();
  }

  read(position: number, length: number): Buffer {
    return this.buffer.subarray(position, Math.min(position + length, this.length));
  }

  truncate(size: number): void {
    this.length = Math.min(size, this.length);
  }

  sync(): Promise<void> {
    return Promise.resolve();
  }

  modifiedMs(): number {
    return this.lastWriteMs;
  }

  close(): void {
    this.buffer = Buffer.alloc(0);
    this.length = 0;
  }
}

/** Nothing survives the process: there are never segments to find or sidecars to read. */
export class MemoryPartitionStore implements PartitionStore {
  segmentBaseOffsets(): number[] {
    return [];
  }

  openSegment(): SegmentStore {
    return new MemorySegmentStore();
  }

  readSidecar(): Buffer | null {
    return null;
  }

  writeSidecar(_baseOffset: number, _kind: SidecarKind, _data: Buffer): void {
    // Sidecars only speed up a reopen, and a memory partition is never reopened.
  }

  removeSegment(): void {
    // The segment's memory goes with its SegmentStore, which the log closes itself.
  }

  removeAll(): void {
    // As above: nothing outside the SegmentStores.
  }
}
