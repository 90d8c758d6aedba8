// Sparse map from offset to byte position inside one segment. Entries are (offset relative to the
// segment base, position), both int32 big-endian on disk, 8 bytes each, ascending in both fields.

const ENTRY_BYTES = 8;

export class OffsetIndex {
  private relativeOffsets = new Int32Array(64);
  private positions = new Int32Array(64);
  private count = 0;

  get entries(): number {
    return this.count;
  }

  lastRelativeOffset(): number {
    return this.count === 0 ? -1 : this.relativeOffsets[this.count - 1]!;
  }

  add(relativeOffset: number, position: number): void {
    if (this.count === this.relativeOffsets.length) {
      const grownOffsets = new Int32Array(this.count * 2);
      grownOffsets.set(this.relativeOffsets);
      this.relativeOffsets = grownOffsets;
      const grownPositions = new Int32Array(this.count * 2);
      grownPositions.set(this.positions);
      this.positions = grownPositions;
    }
    this.relativeOffsets[this.count] = relativeOffset;
    this.positions[this.count] = position;
    this.count++;
  }

  /** Position of the last indexed batch starting at or before `relativeOffset`; 0 when none. */
  lookup(relativeOffset: number): number {
    let low = 0;
    let high = this.count - 1;
    let found = -1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      if (this.relativeOffsets[mid]! <= relativeOffset) {
        found = mid;
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    return found < 0 ? 0 : this.positions[found]!;
  }

  entryAt(i: number): { relativeOffset: number; position: number } {
    return { relativeOffset: this.relativeOffsets[i]!, position: this.positions[i]! };
  }

  serialize(): Buffer {
    const buf = Buffer.allocUnsafe(this.count * ENTRY_BYTES);
    for (let i = 0; i < this.count; i++) {
      buf.writeInt32BE(this.relativeOffsets[i]!, i * ENTRY_BYTES);
      buf.writeInt32BE(this.positions[i]!, i * ENTRY_BYTES + 4);
    }
    return buf;
  }

  /**
   * Parses an index file, or returns null when it cannot describe a segment of `segmentBytes`
   * bytes holding `offsetSpan` offsets (torn write, stale file): the caller then rebuilds it.
   */
  static parse(buf: Buffer, segmentBytes: number, offsetSpan: number): OffsetIndex | null {
    if (buf.length % ENTRY_BYTES !== 0) return null;
    const index = new OffsetIndex();
    let previousOffset = -1;
    let previousPosition = -1;
    for (let at = 0; at < buf.length; at += ENTRY_BYTES) {
      const relativeOffset = buf.readInt32BE(at);
      const position = buf.readInt32BE(at + 4);
      if (relativeOffset <= previousOffset || position <= previousPosition) return null;
      if (relativeOffset >= offsetSpan || position >= segmentBytes) return null;
      index.add(relativeOffset, position);
      previousOffset = relativeOffset;
      previousPosition = position;
    }
    return index;
  }
}
