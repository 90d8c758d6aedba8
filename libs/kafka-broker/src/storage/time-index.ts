// Sparse map from timestamp to offset inside one segment. An entry (t, o) says: every batch before
// the batch starting at relative offset o has a max timestamp <= t, and that batch reached t. On
// disk: int64 timestamp + int32 relative offset, big-endian, 12 bytes, timestamps strictly rising.
import { readInt64, writeInt64 } from './record-batch';

const ENTRY_BYTES = 12;

export class TimeIndex {
  private timestamps = new Float64Array(32);
  private relativeOffsets = new Int32Array(32);
  private count = 0;

  get entries(): number {
    return this.count;
  }

  /** Greatest timestamp indexed, -1 when empty. */
  lastTimestamp(): number {
    return this.count === 0 ? -1 : this.timestamps[this.count - 1]!;
  }

  /** Adds an entry unless it would not raise the greatest timestamp indexed. */
  maybeAdd(timestamp: number, relativeOffset: number): void {
    if (timestamp <= this.lastTimestamp()) return;
    if (this.count === this.timestamps.length) {
      const grownTimestamps = new Float64Array(this.count * 2);
      grownTimestamps.set(this.timestamps);
      this.timestamps = grownTimestamps;
      const grownOffsets = new Int32Array(this.count * 2);
      grownOffsets.set(this.relativeOffsets);
      this.relativeOffsets = grownOffsets;
    }
    this.timestamps[this.count] = timestamp;
    this.relativeOffsets[this.count] = relativeOffset;
    this.count++;
  }

  /**
   * Relative offset of a batch from which a forward scan finds the first batch reaching
   * `timestamp`: the entry with the greatest timestamp still below it, or 0 when none.
   */
  lookup(timestamp: number): number {
    let low = 0;
    let high = this.count - 1;
    let found = -1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      if (this.timestamps[mid]! < timestamp) {
        found = mid;
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    return found < 0 ? 0 : this.relativeOffsets[found]!;
  }

  serialize(): Buffer {
    const buf = Buffer.allocUnsafe(this.count * ENTRY_BYTES);
    for (let i = 0; i < this.count; i++) {
      writeInt64(buf, i * ENTRY_BYTES, this.timestamps[i]!);
      buf.writeInt32BE(this.relativeOffsets[i]!, i * ENTRY_BYTES + 8);
    }
    return buf;
  }

  /** Parses a time index file, or returns null when it is torn or does not fit `offsetSpan`. */
  static parse(buf: Buffer, offsetSpan: number): TimeIndex | null {
    if (buf.length % ENTRY_BYTES !== 0) return null;
    const index = new TimeIndex();
    let previousOffset = -1;
    for (let at = 0; at < buf.length; at += ENTRY_BYTES) {
      const timestamp = readInt64(buf, at);
      const relativeOffset = buf.readInt32BE(at + 8);
      if (timestamp <= index.lastTimestamp() || relativeOffset < previousOffset) return null;
      if (relativeOffset >= offsetSpan) return null;
      index.maybeAdd(timestamp, relativeOffset);
      previousOffset = relativeOffset;
    }
    return index;
  }
}
