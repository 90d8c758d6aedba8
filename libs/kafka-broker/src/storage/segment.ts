// One segment of a partition log: its bytes, its sparse offset and time indexes, and the walks
// over its batches that reads, timestamp lookups and recovery need.
import { OffsetIndex } from './offset-index';
import {
  BATCH,
  BATCH_HEADER_SIZE,
  BATCH_LOG_OVERHEAD,
  findBatchProblem,
  readInt64,
} from './record-batch';
import { findRecordAtOrAfter, type RecordPosition } from './record-timestamp.lookup';
import type { SegmentStore } from './segment.store';
import { TimeIndex } from './time-index';

const EMPTY = Buffer.alloc(0);
/** Bytes read at a time when walking a segment file. */
const SCAN_CHUNK_BYTES = 1024 * 1024;
/** Header bytes needed to know a batch's offsets and size. */
const OFFSETS_HEADER_BYTES = BATCH.lastOffsetDelta + 4;
/** Header bytes needed to also know its max timestamp. */
const TIMESTAMP_HEADER_BYTES = BATCH.maxTimestamp + 8;

/** Keeps a window of a segment in memory so walking batch headers costs few reads. */
class SegmentWindow {
  buffer: Buffer = EMPTY;
  private start = 0;

  constructor(
    private readonly store: SegmentStore,
    private readonly end: number,
    private readonly chunkBytes: number,
  ) {}

  /** Index in `buffer` of `position`, after making `length` bytes there readable; -1 past the end. */
  ensure(position: number, length: number): number {
    if (position >= this.start && position + length <= this.start + this.buffer.length) {
      return position - this.start;
    }
    if (position + length > this.end) return -1;
    this.buffer = this.store.read(
      position,
      Math.max(length, Math.min(this.chunkBytes, this.end - position)),
    );
    this.start = position;
    return this.buffer.length >= length ? 0 : -1;
  }
}

/** Called for each batch of a walk; return true to stop at this batch. */
export type BatchVisitor = (buf: Buffer, at: number, size: number, position: number) => boolean;

export class Segment {
  offsetIndex = new OffsetIndex();
  timeIndex = new TimeIndex();
  /** Offset after the last batch held. */
  nextOffset: number;
  /** Greatest batch max timestamp held, -1 when none. */
  maxTimestamp = -1;
  /**
   * What the segment's age is measured from when rolling by time: its first batch's max
   * timestamp, or the wall clock when that batch carries none. -1 while empty.
   */
  rollBaseTimestamp = -1;
  private bytesSinceIndexEntry = 0;

  constructor(
    readonly baseOffset: number,
    readonly store: SegmentStore,
    private readonly indexIntervalBytes: number,
  ) {
    this.nextOffset = baseOffset;
  }

  size(): number {
    return this.store.size();
  }

  /** Accounts for a batch just written at `position`: indexes, max timestamp, next offset. */
  trackBatch(
    baseOffset: number,
    lastOffset: number,
    position: number,
    size: number,
    maxTimestamp: number,
  ): void {
    if (this.bytesSinceIndexEntry >= this.indexIntervalBytes) {
      const relativeOffset = baseOffset - this.baseOffset;
      this.offsetIndex.add(relativeOffset, position);
      this.timeIndex.maybeAdd(this.maxTimestamp, relativeOffset);
      this.bytesSinceIndexEntry = 0;
    }
    this.bytesSinceIndexEntry += size;
    if (this.rollBaseTimestamp < 0)
      this.rollBaseTimestamp = maxTimestamp >= 0 ? maxTimestamp : Date.now();
    if (maxTimestamp > this.maxTimestamp) this.maxTimestamp = maxTimestamp;
    this.nextOffset = lastOffset + 1;
  }

  /**
   * Seals the time index when the segment stops taking appends: a last entry pointing one past the
   * end records the segment's max timestamp, which is all retention needs after a reopen.
   */
  sealTimeIndex(): void {
    this.timeIndex.maybeAdd(this.maxTimestamp, this.nextOffset - this.baseOffset);
  }

  /** Adopts indexes read back from disk for a closed segment that ends before `nextOffset`. */
  adoptIndexes(offsetIndex: OffsetIndex, timeIndex: TimeIndex, nextOffset: number): void {
    this.offsetIndex = offsetIndex;
    this.timeIndex = timeIndex;
    this.nextOffset = nextOffset;
    this.maxTimestamp = timeIndex.lastTimestamp();
  }

  /** True when the last offset index entry points at the start of the batch it names. */
  offsetIndexMatchesLog(): boolean {
    const entries = this.offsetIndex.entries;
    if (entries === 0) return true;
    const { relativeOffset, position } = this.offsetIndex.entryAt(entries - 1);
    const header = this.store.read(position, OFFSETS_HEADER_BYTES);
    return (
      header.length === OFFSETS_HEADER_BYTES &&
      readInt64(header, 0) === this.baseOffset + relativeOffset
    );
  }

  /** Starts the indexes over; a walk with `trackBatch` fills them again. */
  resetIndexes(): void {
    this.offsetIndex = new OffsetIndex();
    this.timeIndex = new TimeIndex();
    this.maxTimestamp = -1;
    this.rollBaseTimestamp = -1;
    this.bytesSinceIndexEntry = 0;
    this.nextOffset = this.baseOffset;
  }

  /**
   * Walks whole batches from `position`. With `verify`, stops before the first batch that fails
   * its framing, magic or CRC check. Returns where the walk stopped: the position of the batch the
   * visitor stopped at, or just past the last sound batch.
   */
  walk(position: number, verify: boolean, visit: BatchVisitor): number {
    const end = this.store.size();
    const window = new SegmentWindow(this.store, end, SCAN_CHUNK_BYTES);
    while (position + BATCH_LOG_OVERHEAD <= end) {
      let at = window.ensure(position, BATCH_LOG_OVERHEAD);
      if (at < 0) break;
      const size = BATCH_LOG_OVERHEAD + window.buffer.readInt32BE(at + BATCH.batchLength);
      if (size < BATCH_HEADER_SIZE || position + size > end) break;
      at = window.ensure(position, size);
      if (at < 0) break;
      if (verify && typeof findBatchProblem(window.buffer, at, at + size) !== 'number') break;
      if (visit(window.buffer, at, size, position)) break;
      position += size;
    }
    return position;
  }

  /**
   * Whole batches from the one holding `offset`, up to `maxBytes` but at least one. Empty when the
   * segment holds nothing at or after `offset`.
   */
  read(offset: number, maxBytes: number): Buffer {
    const end = this.store.size();
    const window = new SegmentWindow(
      this.store,
      end,
      Math.max(maxBytes, 0) + this.indexIntervalBytes,
    );
    let position = this.offsetIndex.lookup(offset - this.baseOffset);
    for (;;) {
      const at = window.ensure(position, OFFSETS_HEADER_BYTES);
      if (at < 0) return EMPTY;
      const buf = window.buffer;
      const lastOffset = readInt64(buf, at) + buf.readInt32BE(at + BATCH.lastOffsetDelta);
      if (lastOffset >= offset) break;
      position += BATCH_LOG_OVERHEAD + buf.readInt32BE(at + BATCH.batchLength);
    }
    let total = 0;
    while (position + total < end) {
      const at = window.ensure(position + total, BATCH_LOG_OVERHEAD);
      if (at < 0) break;
      const size = BATCH_LOG_OVERHEAD + window.buffer.readInt32BE(at + BATCH.batchLength);
      if (total > 0 && total + size > maxBytes) break;
      total += size;
    }
    const at = window.ensure(position, total);
    return at < 0 ? EMPTY : window.buffer.subarray(at, at + total);
  }

  /** The first record at or after `timestampMs`, or null when this segment holds none. */
  findTimestamp(timestampMs: number): RecordPosition | null {
    if (this.maxTimestamp < timestampMs) return null;
    const end = this.store.size();
    const window = new SegmentWindow(this.store, end, SCAN_CHUNK_BYTES);
    let position = this.offsetIndex.lookup(this.timeIndex.lookup(timestampMs));
    for (;;) {
      const at = window.ensure(position, TIMESTAMP_HEADER_BYTES);
      if (at < 0) return null;
      const size = BATCH_LOG_OVERHEAD + window.buffer.readInt32BE(at + BATCH.batchLength);
      if (readInt64(window.buffer, at + BATCH.maxTimestamp) >= timestampMs) {
        const batchAt = window.ensure(position, size);
        return batchAt < 0
          ? null
          : findRecordAtOrAfter(window.buffer.subarray(batchAt, batchAt + size), timestampMs);
      }
      position += size;
    }
  }
}
