// Record batch v2 framing, read straight from the bytes a producer sent. Storage never decodes the
// records themselves on the hot path; it needs only the fixed-size header.
import type { BatchHeader } from './storage.types';
import { CorruptRecordError, type CorruptRecordReason } from './storage.errors';
import { crc32c } from './crc32c';

export { crc32c } from './crc32c';
export { CorruptRecordError } from './storage.errors';
export type { CorruptRecordReason } from './storage.errors';

/** Byte positions of the v2 batch header fields, from the start of the batch. */
export const BATCH = {
  baseOffset: 0,
  batchLength: 8,
  partitionLeaderEpoch: 12,
  magic: 16,
  crc: 17,
  attributes: 21,
  lastOffsetDelta: 23,
  baseTimestamp: 27,
  maxTimestamp: 35,
  producerId: 43,
  producerEpoch: 51,
  baseSequence: 53,
  recordCount: 57,
  records: 61,
} as const;

/** Bytes before `batchLength` counts: the base offset and the length field itself. */
export const BATCH_LOG_OVERHEAD = 12;
/** Size of a batch with no records. */
export const BATCH_HEADER_SIZE = BATCH.records;
export const CURRENT_MAGIC = 2;

export const COMPRESSION_MASK = 0x07;
export const TIMESTAMP_TYPE_LOG_APPEND = 0x08;

/** Reads a 64-bit big-endian integer as a number; offsets and millisecond timestamps fit in 2^53. */
export function readInt64(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * 4294967296 + buf.readUInt32BE(at + 4);
}

export function writeInt64(buf: Buffer, at: number, value: number): void {
  const high = Math.floor(value / 4294967296);
  buf.writeInt32BE(high, at);
  buf.writeUInt32BE(value - high * 4294967296, at + 4);
}

/** Decodes the fixed header of the batch starting at `offset`; does not check it. */
export function readBatchHeader(buf: Buffer, offset: number): BatchHeader {
  if (offset < 0 || offset + BATCH_HEADER_SIZE > buf.length) {
    throw new CorruptRecordError('framing', 'buffer too short for a batch header', offset);
  }
  return {
    baseOffset: buf.readBigInt64BE(offset + BATCH.baseOffset),
    batchLength: buf.readInt32BE(offset + BATCH.batchLength),
    partitionLeaderEpoch: buf.readInt32BE(offset + BATCH.partitionLeaderEpoch),
    magic: buf.readInt8(offset + BATCH.magic),
    crc: buf.readUInt32BE(offset + BATCH.crc),
    attributes: buf.readInt16BE(offset + BATCH.attributes),
    lastOffsetDelta: buf.readInt32BE(offset + BATCH.lastOffsetDelta),
    baseTimestamp: buf.readBigInt64BE(offset + BATCH.baseTimestamp),
    maxTimestamp: buf.readBigInt64BE(offset + BATCH.maxTimestamp),
    producerId: buf.readBigInt64BE(offset + BATCH.producerId),
    producerEpoch: buf.readInt16BE(offset + BATCH.producerEpoch),
    baseSequence: buf.readInt32BE(offset + BATCH.baseSequence),
    recordCount: buf.readInt32BE(offset + BATCH.recordCount),
  };
}

/** True when the stored CRC matches the bytes from `attributes` to the end of the batch. */
export function verifyBatchCrc(buf: Buffer, offset: number, size: number): boolean {
  return (
    buf.readUInt32BE(offset + BATCH.crc) === crc32c(buf, offset + BATCH.attributes, offset + size)
  );
}

/**
 * Writes `maxTimestamp` (the greatest of its records' timestamps) into the header of the batch at
 * `offset` when it says otherwise, and the CRC with it, as Kafka's log validator does; the time
 * index and ListOffsets by time go by this field. Leaves alone a batch stamped with log-append
 * time (there the field is every record's timestamp) and one whose CRC is already wrong, for the
 * append to refuse. Returns whether it changed the batch.
 */
export function correctMaxTimestamp(buf: Buffer, offset: number, maxTimestamp: number): boolean {
  if (readInt64(buf, offset + BATCH.maxTimestamp) === maxTimestamp) return false;
  if ((buf.readInt16BE(offset + BATCH.attributes) & TIMESTAMP_TYPE_LOG_APPEND) !== 0) return false;
  const size = BATCH_LOG_OVERHEAD + buf.readInt32BE(offset + BATCH.batchLength);
  if (offset + size > buf.length || !verifyBatchCrc(buf, offset, size)) return false;
  writeInt64(buf, offset + BATCH.maxTimestamp, maxTimestamp);
  buf.writeUInt32BE(crc32c(buf, offset + BATCH.attributes, offset + size), offset + BATCH.crc);
  return true;
}

/** What is wrong with a batch, as found by `findBatchProblem`. */
export interface BatchProblem {
  reason: CorruptRecordReason;
  message: string;
}

/**
 * Checks the batch at `offset` (framing, magic 2, record count, CRC) without throwing: its size
 * when sound, else what is wrong. `limit` is where the enclosing data ends.
 */
export function findBatchProblem(
  buf: Buffer,
  offset: number,
  limit = buf.length,
): number | BatchProblem {
  if (offset + BATCH_LOG_OVERHEAD > limit) {
    return { reason: 'framing', message: 'truncated batch length' };
  }
  const batchLength = buf.readInt32BE(offset + BATCH.batchLength);
  const size = BATCH_LOG_OVERHEAD + batchLength;
  if (batchLength < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD) {
    return { reason: 'framing', message: `batch length ${batchLength} is too small` };
  }
  if (offset + size > limit) {
    return { reason: 'framing', message: `batch of ${size} bytes runs past the data` };
  }
  const magic = buf[offset + BATCH.magic];
  if (magic !== CURRENT_MAGIC) {
    return { reason: 'magic', message: `unsupported record batch magic ${String(magic)}` };
  }
  const recordCount = buf.readInt32BE(offset + BATCH.recordCount);
  const lastOffsetDelta = buf.readInt32BE(offset + BATCH.lastOffsetDelta);
  if (recordCount < 1 || lastOffsetDelta !== recordCount - 1) {
    return {
      reason: 'record-count',
      message: `batch holds ${recordCount} records with last offset delta ${lastOffsetDelta}`,
    };
  }
  if (!verifyBatchCrc(buf, offset, size)) {
    return { reason: 'crc', message: 'record batch CRC-32C mismatch' };
  }
  return size;
}

/** As `findBatchProblem`, but throws `CorruptRecordError`; returns the batch size. */
export function validateBatch(buf: Buffer, offset: number, limit = buf.length): number {
  const result = findBatchProblem(buf, offset, limit);
  if (typeof result === 'number') return result;
  throw new CorruptRecordError(result.reason, result.message, offset);
}

/** Where one batch sits inside a buffer. */
export interface BatchSpan {
  position: number;
  size: number;
}

/**
 * Walks the batches laid end to end in `buf[start, end)` by their length fields. Stops before a
 * batch whose length does not fit; it checks nothing else (see `validateBatch`).
 */
export function* iterateBatches(buf: Buffer, start = 0, end = buf.length): Generator<BatchSpan> {
  let position = start;
  while (position + BATCH_LOG_OVERHEAD <= end) {
    const size = BATCH_LOG_OVERHEAD + buf.readInt32BE(position + BATCH.batchLength);
    if (size < BATCH_HEADER_SIZE || position + size > end) return;
    yield { position, size };
    position += size;
  }
}
