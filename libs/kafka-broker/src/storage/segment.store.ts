// Where a segment's bytes and its sidecar files live: a folder on disk or process memory. The
// partition log is written once against these interfaces so both modes behave the same.

/** The bytes of one segment's `.log`. Appends go to the end; reads may return views. */
export interface SegmentStore {
  size(): number;
  /** Writes all of `data` at the end before returning (handed to the OS, not yet fsynced). */
  append(data: Buffer): void;
  /**
   * `length` bytes from `position` (clamped to the end). May be a view of internal memory, valid
   * until the segment is truncated; callers must not modify it.
   */
  read(position: number, length: number): Buffer;
  /** Cuts the segment to `size` bytes (recovery of a torn tail, undo of a failed append). */
  truncate(size: number): void;
  /** Forces appended bytes to stable storage; concurrent callers share one fsync. */
  sync(): Promise<void>;
  /** Wall-clock time of the last write in ms, for retention when batches carry no timestamps. */
  modifiedMs(): number;
  close(): void;
}

export type SidecarKind = 'index' | 'timeindex' | 'snapshot';

/** The folder of one partition: its segments by base offset and their sidecar files. */
export interface PartitionStore {
  /** Base offsets of the segments found, ascending. */
  segmentBaseOffsets(): number[];
  openSegment(baseOffset: number): SegmentStore;
  readSidecar(baseOffset: number, kind: SidecarKind): Buffer | null;
  writeSidecar(baseOffset: number, kind: SidecarKind, data: Buffer): void;
  /** Deletes a segment's log and sidecars; the log goes first so a crash leaves only orphans. */
  removeSegment(baseOffset: number): void;
  /** Deletes the whole partition folder. */
  removeAll(): void;
}
