// The log of one partition: a run of segments, the last one taking appends. Offsets are plain
// numbers inside (exact up to 2^53, far beyond any offset this broker will reach) and bigint only
// at the PartitionLog boundary.
import { OffsetIndex } from './offset-index';
import { ProducerStateTable } from './producer-state';
import {
  BATCH,
  BATCH_LOG_OVERHEAD,
  CorruptRecordError,
  readInt64,
  validateBatch,
  writeInt64,
} from './record-batch';
import { Segment } from './segment';
import type { PartitionStore } from './segment.store';
import { CorruptStateError, StorageClosedError } from './storage.errors';
import type { FsyncScheduler } from './fsync.scheduler';
import type { AppendResult, PartitionLog, ProducerState, TopicConfig } from './storage.types';
import { TimeIndex } from './time-index';

const EMPTY = Buffer.alloc(0);
/** Relative offsets are int32 in the index, so a segment may span at most this many offsets. */
const MAX_SEGMENT_OFFSET_SPAN = 2147483647;

export interface PartitionLogSettings {
  /** Roll the active segment when an append would take it past this many bytes. */
  segmentBytes: number;
  /** Roll the active segment once a new batch is this many ms newer than its first one. */
  segmentMs: number;
  /** One sparse index entry per this many bytes of batches. */
  indexIntervalBytes: number;
  /** Stamped into every appended batch when set. */
  leaderEpoch: number | undefined;
  fsync: FsyncScheduler;
}

/** A tail cut off at open because it was torn or failed its CRC. */
export interface RecoveredTail {
  segmentBaseOffset: number;
  truncatedBytes: number;
}

export class SegmentedPartitionLog implements PartitionLog {
  private readonly segments: Segment[] = [];
  private producers = new ProducerStateTable();
  private closed = false;
  /** Tails cut off while opening this log. */
  readonly recoveredTails: RecoveredTail[] = [];

  private constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly store: PartitionStore,
    private readonly settings: PartitionLogSettings,
  ) {}

  /** Opens (recovering) the partition found in `store`, or starts an empty one. */
  static open(
    topic: string,
    partition: number,
    store: PartitionStore,
    settings: PartitionLogSettings,
  ): SegmentedPartitionLog {
    const log = new SegmentedPartitionLog(topic, partition, store, settings);
    log.load();
    return log;
  }

  logStartOffset(): bigint {
    return BigInt(this.firstSegment().baseOffset);
  }

  nextOffset(): bigint {
    return BigInt(this.activeSegment().nextOffset);
  }

  sizeBytes(): number {
    let total = 0;
    for (const segment of this.segments) total += segment.size();
    return total;
  }

  /** Number of segments held, active one included. */
  segmentCount(): number {
    return this.segments.length;
  }

  append(batches: Buffer): Promise<AppendResult> {
    try {
      const result = this.appendNow(batches);
      const pending = this.settings.fsync.afterWrite(this.activeSegment().store);
      return pending === null ? Promise.resolve(result) : pending.then(() => result);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  read(offset: bigint, maxBytes: number): Buffer {
    if (this.closed) return EMPTY;
    const target = Number(offset);
    const start = this.firstSegment().baseOffset;
    if (target < start || target >= this.activeSegment().nextOffset) return EMPTY;
    for (let i = this.segmentIndexFor(target); i < this.segments.length; i++) {
      const data = this.segments[i]!.read(target, maxBytes);
      if (data.length > 0) return data;
    }
    return EMPTY;
  }

  offsetForTimestamp(timestampMs: bigint): { offset: bigint; timestamp: bigint } | null {
    if (this.closed) return null;
    const target = Number(timestampMs);
    for (const segment of this.segments) {
      const found = segment.findTimestamp(target);
      if (found !== null)
        return { offset: BigInt(found.offset), timestamp: BigInt(found.timestamp) };
    }
    return null;
  }

  /** The live table (not a copy): read it, do not change it. */
  producerStates(): Map<bigint, ProducerState> {
    return this.producers.states;
  }

  applyRetention(config: TopicConfig, nowMs: number): number {
    if (this.closed) return 0;
    let removed = 0;
    if (config.retentionMs >= 0) {
      while (this.segments.length > 1) {
        const oldest = this.firstSegment();
        const newest = oldest.maxTimestamp >= 0 ? oldest.maxTimestamp : oldest.store.modifiedMs();
        if (nowMs - newest <= config.retentionMs) break;
        this.removeOldestSegment();
        removed++;
      }
    }
    if (config.retentionBytes >= 0) {
      let excess = this.sizeBytes() - config.retentionBytes;
      while (this.segments.length > 1 && excess >= this.firstSegment().size()) {
        excess -= this.firstSegment().size();
        this.removeOldestSegment();
        removed++;
      }
    }
    return removed;
  }

  /** Forces the active segment's appended bytes to disk. */
  sync(): Promise<void> {
    return this.closed ? Promise.resolve() : this.activeSegment().store.sync();
  }

  /** Releases the segment files; appends fail and reads come back empty from now on. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const segment of this.segments) {
      this.settings.fsync.forget(segment.store);
      segment.store.close();
    }
  }

  /** Closes the log and deletes its folder. */
  remove(): void {
    this.close();
    this.store.removeAll();
  }

  private appendNow(batches: Buffer): AppendResult {
    if (this.closed) throw new StorageClosedError(`partition ${this.topic}-${this.partition}`);
    if (batches.length === 0)
      throw new CorruptRecordError('framing', 'no record batch to append', 0);
    let offsets = 0;
    for (let position = 0; position < batches.length;) {
      const size = validateBatch(batches, position);
      offsets += batches.readInt32BE(position + BATCH.lastOffsetDelta) + 1;
      position += size;
    }

    let active = this.activeSegment();
    if (this.shouldRoll(active, batches, offsets)) active = this.roll();

    const baseOffset = active.nextOffset;
    let offset = baseOffset;
    const leaderEpoch = this.settings.leaderEpoch;
    for (let position = 0; position < batches.length;) {
      writeInt64(batches, position + BATCH.baseOffset, offset);
      if (leaderEpoch !== undefined) {
        batches.writeInt32BE(leaderEpoch, position + BATCH.partitionLeaderEpoch);
      }
      offset += batches.readInt32BE(position + BATCH.lastOffsetDelta) + 1;
      position += BATCH_LOG_OVERHEAD + batches.readInt32BE(position + BATCH.batchLength);
    }

    const startPosition = active.size();
    active.store.append(batches);

    for (let position = 0; position < batches.length;) {
      const batchSize = BATCH_LOG_OVERHEAD + batches.readInt32BE(position + BATCH.batchLength);
      this.trackAppended(active, batches, position, startPosition + position, batchSize);
      position += batchSize;
    }
    return {
      baseOffset: BigInt(baseOffset),
      lastOffset: BigInt(offset - 1),
      logStartOffset: BigInt(this.firstSegment().baseOffset),
    };
  }

  /** Indexes a batch now in `segment` at `position` and feeds its producer to the state table. */
  private trackAppended(
    segment: Segment,
    buf: Buffer,
    at: number,
    position: number,
    size: number,
  ): void {
    const baseOffset = readInt64(buf, at + BATCH.baseOffset);
    const lastOffsetDelta = buf.readInt32BE(at + BATCH.lastOffsetDelta);
    segment.trackBatch(
      baseOffset,
      baseOffset + lastOffsetDelta,
      position,
      size,
      readInt64(buf, at + BATCH.maxTimestamp),
    );
    this.trackProducer(buf, at);
  }

  private trackProducer(buf: Buffer, at: number): void {
    // Producer id -1 (all bits set) marks a non-idempotent batch; test it without a bigint.
    if (
      buf.readInt32BE(at + BATCH.producerId) === -1 &&
      buf.readInt32BE(at + BATCH.producerId + 4) === -1
    )
      return;
    const producerId = buf.readBigInt64BE(at + BATCH.producerId);
    if (producerId < 0n) return;
    this.producers.apply(
      producerId,
      buf.readInt16BE(at + BATCH.producerEpoch),
      buf.readInt32BE(at + BATCH.baseSequence),
      buf.readInt32BE(at + BATCH.lastOffsetDelta),
      readInt64(buf, at + BATCH.baseOffset),
    );
  }

  private shouldRoll(active: Segment, batches: Buffer, offsets: number): boolean {
    const size = active.size();
    if (size === 0) return false;
    if (size + batches.length > this.settings.segmentBytes) return true;
    if (active.nextOffset + offsets - active.baseOffset > MAX_SEGMENT_OFFSET_SPAN) return true;
    // Without rolling by time a quiet topic would keep one segment for ever, out of retention's reach.
    const timestamp = readInt64(batches, BATCH.maxTimestamp);
    const age = (timestamp >= 0 ? timestamp : Date.now()) - active.rollBaseTimestamp;
    return age > this.settings.segmentMs;
  }

  /** Closes the active segment for appends and starts the next at the next offset. */
  private roll(): Segment {
    const old = this.activeSegment();
    old.sealTimeIndex();
    this.store.writeSidecar(old.baseOffset, 'index', old.offsetIndex.serialize());
    this.store.writeSidecar(old.baseOffset, 'timeindex', old.timeIndex.serialize());
    // The snapshot goes before the segment it belongs to exists, so a crash in between leaves
    // only a snapshot nobody reads.
    this.store.writeSidecar(old.nextOffset, 'snapshot', this.producers.serialize());
    const segment = new Segment(
      old.nextOffset,
      this.store.openSegment(old.nextOffset),
      this.settings.indexIntervalBytes,
    );
    this.segments.push(segment);
    return segment;
  }

  private removeOldestSegment(): void {
    const oldest = this.segments.shift();
    if (oldest === undefined) return;
    this.settings.fsync.forget(oldest.store);
    oldest.store.close();
    this.store.removeSegment(oldest.baseOffset);
  }

  private load(): void {
    const baseOffsets = this.store.segmentBaseOffsets();
    if (baseOffsets.length === 0) baseOffsets.push(0);
    for (const baseOffset of baseOffsets) {
      this.segments.push(
        new Segment(
          baseOffset,
          this.store.openSegment(baseOffset),
          this.settings.indexIntervalBytes,
        ),
      );
    }
    // Only the last segment can hold a torn tail: a roll happens after the previous append
    // completed. If the crash came right after a roll, the last is empty: check the one before too.
    let firstToRecover = this.segments.length - 1;
    if (firstToRecover > 0 && this.segments[firstToRecover]!.size() === 0) firstToRecover--;

    for (let i = 0; i < firstToRecover; i++)
      this.loadClosedSegment(this.segments[i]!, this.segments[i + 1]!.baseOffset);
    this.loadProducerStates(firstToRecover);

    for (let i = firstToRecover; i < this.segments.length; i++) {
      const segment = this.segments[i]!;
      this.recoverSegment(segment);
      const following = this.segments[i + 1];
      if (following === undefined) break;
      if (following.baseOffset !== segment.nextOffset) {
        // The segments after a cut tail cannot follow on from it; they are empty by construction.
        for (const orphan of this.segments.splice(i + 1)) {
          orphan.store.close();
          this.store.removeSegment(orphan.baseOffset);
        }
        break;
      }
      segment.sealTimeIndex();
      this.store.writeSidecar(segment.baseOffset, 'index', segment.offsetIndex.serialize());
      this.store.writeSidecar(segment.baseOffset, 'timeindex', segment.timeIndex.serialize());
    }
  }

  /** Reads a closed segment's indexes back, rebuilding them by a walk when missing or stale. */
  private loadClosedSegment(segment: Segment, nextOffset: number): void {
    const span = nextOffset - segment.baseOffset;
    const offsetData = this.store.readSidecar(segment.baseOffset, 'index');
    const timeData = this.store.readSidecar(segment.baseOffset, 'timeindex');
    const offsetIndex =
      offsetData === null ? null : OffsetIndex.parse(offsetData, segment.size(), span);
    // The seal entry points one past the last offset.
    const timeIndex = timeData === null ? null : TimeIndex.parse(timeData, span + 1);
    if (
      offsetIndex !== null &&
      timeIndex !== null &&
      (timeIndex.entries > 0 || segment.size() === 0)
    ) {
      segment.adoptIndexes(offsetIndex, timeIndex, nextOffset);
      if (segment.offsetIndexMatchesLog()) return;
    }
    segment.resetIndexes();
    segment.walk(0, false, (buf, at, size, position) => {
      const baseOffset = readInt64(buf, at + BATCH.baseOffset);
      const last = baseOffset + buf.readInt32BE(at + BATCH.lastOffsetDelta);
      segment.trackBatch(baseOffset, last, position, size, readInt64(buf, at + BATCH.maxTimestamp));
      return false;
    });
    segment.nextOffset = nextOffset;
    segment.sealTimeIndex();
    this.store.writeSidecar(segment.baseOffset, 'index', segment.offsetIndex.serialize());
    this.store.writeSidecar(segment.baseOffset, 'timeindex', segment.timeIndex.serialize());
  }

  /**
   * Producer state as of the start of segment `index`: its snapshot when present and readable,
   * else rebuilt from every batch header before it.
   */
  private loadProducerStates(index: number): void {
    const segment = this.segments[index]!;
    const data = this.store.readSidecar(segment.baseOffset, 'snapshot');
    if (data !== null) {
      try {
        this.producers = ProducerStateTable.parse(
          data,
          `${this.topic}-${this.partition} snapshot ${segment.baseOffset}`,
        );
        return;
      } catch (error) {
        // A damaged snapshot is only a cache of the log: fall through and rebuild it from there.
        if (!(error instanceof CorruptStateError)) throw error;
      }
    }
    this.producers = new ProducerStateTable();
    for (let i = 0; i < index; i++) {
      this.segments[i]!.walk(0, false, (buf, at) => {
        this.trackProducer(buf, at);
        return false;
      });
    }
  }

  /** Walks a segment verifying every batch, rebuilding its indexes; cuts off what does not check. */
  private recoverSegment(segment: Segment): void {
    segment.resetIndexes();
    const end = segment.walk(0, true, (buf, at, size, position) => {
      const baseOffset = readInt64(buf, at + BATCH.baseOffset);
      if (baseOffset !== segment.nextOffset) return true;
      this.trackAppended(segment, buf, at, position, size);
      return false;
    });
    const size = segment.size();
    if (end < size) {
      segment.store.truncate(end);
      this.recoveredTails.push({
        segmentBaseOffset: segment.baseOffset,
        truncatedBytes: size - end,
      });
    }
  }

  private firstSegment(): Segment {
    return this.segments[0]!;
  }

  private activeSegment(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  /** Index of the last segment whose base offset is <= `offset`. */
  private segmentIndexFor(offset: number): number {
    let low = 0;
    let high = this.segments.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >>> 1;
      if (this.segments[mid]!.baseOffset <= offset) low = mid;
      else high = mid - 1;
    }
    return low;
  }
}
