// Finds the first record of a batch at or after a timestamp, for ListOffsets by time. Only this
// cold path looks inside records; a batch it cannot open answers with its first offset, which
// makes a consumer read a few earlier records rather than miss any.
import {
  BATCH,
  BATCH_HEADER_SIZE,
  COMPRESSION_MASK,
  TIMESTAMP_TYPE_LOG_APPEND,
  readInt64,
} from './record-batch';
import { Compression, MAX_DECOMPRESSED_BYTES, decompressRecords } from './record-compression';

export interface RecordPosition {
  offset: number;
  timestamp: number;
}

/** `batch` holds exactly one batch whose max timestamp is >= `timestampMs`. */
export function findRecordAtOrAfter(batch: Buffer, timestampMs: number): RecordPosition {
  const baseOffset = readInt64(batch, BATCH.baseOffset);
  const maxTimestamp = readInt64(batch, BATCH.maxTimestamp);
  const attributes = batch.readInt16BE(BATCH.attributes);
  const fallback = { offset: baseOffset, timestamp: maxTimestamp };
  if ((attributes & TIMESTAMP_TYPE_LOG_APPEND) !== 0) return fallback;
  const compression = attributes & COMPRESSION_MASK;
  let records: Buffer;
  if (compression === Compression.none) records = batch.subarray(BATCH_HEADER_SIZE);
  else {
    try {
      records = decompressRecords(
        compression,
        batch.subarray(BATCH_HEADER_SIZE),
        MAX_DECOMPRESSED_BYTES,
      );
    } catch {
      return fallback;
    }
  }

  const baseTimestamp = readInt64(batch, BATCH.baseTimestamp);
  const count = batch.readInt32BE(BATCH.recordCount);
  const cursor = { at: 0 };
  for (let i = 0; i < count && cursor.at < records.length; i++) {
    const length = readVarint(records, cursor);
    const next = cursor.at + length;
    cursor.at += 1;
    const timestamp = baseTimestamp + readVarint(records, cursor);
    const offsetDelta = readVarint(records, cursor);
    if (timestamp >= timestampMs) return { offset: baseOffset + offsetDelta, timestamp };
    cursor.at = next;
  }
  return fallback;
}

/** Zigzag varint (Kafka varint/varlong), kept in a double so 64-bit deltas do not wrap. */
function readVarint(buf: Buffer, cursor: { at: number }): number {
  let raw = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    const byte = buf[cursor.at++];
    if (byte === undefined) break;
    raw += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) break;
    scale *= 128;
  }
  return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
}
