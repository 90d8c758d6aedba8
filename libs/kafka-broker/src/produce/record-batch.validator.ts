import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { KafkaErrorCode } from '../protocol/protocol.errors';
import {
  Compression,
  MAX_DECOMPRESSED_BYTES,
  RecordCompressionError,
  decompressRecords,
} from '../storage/record-compression';
import { readInt64 } from '../storage/record-batch';

const gunzipAsync = promisify(gunzip);

/** Byte offsets in a v2 record batch (implementation.html, "Record Batch"). */
const BATCH_LENGTH_AT = 8;
const MAGIC_AT = 16;
const ATTRIBUTES_AT = 21;
const BASE_TIMESTAMP_AT = 27;
const RECORD_COUNT_AT = 57;
const RECORDS_AT = 61;
const LOG_OVERHEAD = 12;

const TRANSACTIONAL_FLAG = 0x10;
const CONTROL_FLAG = 0x20;

export interface BatchCheck {
  errorCode: number;
  message?: string;
  /**
   * Of a sound batch: its records' greatest timestamp, which Kafka writes into the batch header in
   * place of the producer's (kafkajs sorts timestamps as text, so it can write one too low).
   * Undefined when no record's timestamp is an exact number (past 2^53 ms).
   */
  maxTimestamp?: number;
}

/**
 * Checks the records a producer sent for one partition: exactly one magic-2 batch (as Kafka
 * requires from Produce v3), not too large, a compression we can read, and records that add up to
 * the batch's count; finds their greatest timestamp on the way. The CRC is checked by storage when
 * it appends.
 */
export async function validateProducedBatch(
  records: Buffer,
  maxMessageBytes: number,
): Promise<BatchCheck> {
  if (records.length < RECORDS_AT)
    return { errorCode: KafkaErrorCode.CORRUPT_MESSAGE, message: 'record set too short' };
  const size = LOG_OVERHEAD + records.readInt32BE(BATCH_LENGTH_AT);
  if (records[MAGIC_AT] !== 2) {
    return {
      errorCode: KafkaErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT,
      message: 'only record batch v2 is supported',
    };
  }
  if (size !== records.length) {
    return {
      errorCode: KafkaErrorCode.INVALID_RECORD,
      message: 'exactly one record batch per partition expected',
    };
  }
  if (size > maxMessageBytes) return { errorCode: KafkaErrorCode.MESSAGE_TOO_LARGE };
  const attributes = records.readInt16BE(ATTRIBUTES_AT);
  if ((attributes & (TRANSACTIONAL_FLAG | CONTROL_FLAG)) !== 0) {
    return { errorCode: KafkaErrorCode.INVALID_RECORD, message: 'transactions are not supported' };
  }
  const count = records.readInt32BE(RECORD_COUNT_AT);
  const baseTimestamp = readInt64(records, BASE_TIMESTAMP_AT);
  const codec = attributes & 0x07;
  if (codec === Compression.none)
    return checkRecords(records, RECORDS_AT, records.length, count, baseTimestamp);
  if (codec === Compression.gzip) {
    // Off the event loop: gzip is the codec producers use most.
    let plain: Buffer;
    try {
      plain = await gunzipAsync(records.subarray(RECORDS_AT), {
        maxOutputLength: MAX_DECOMPRESSED_BYTES,
      });
    } catch (error) {
      return {
        errorCode: KafkaErrorCode.CORRUPT_MESSAGE,
        message: `gzip: ${(error as Error).message}`,
      };
    }
    return checkRecords(plain, 0, plain.length, count, baseTimestamp);
  }
  if (codec > Compression.zstd) return { errorCode: KafkaErrorCode.UNSUPPORTED_COMPRESSION_TYPE };
  // snappy, lz4 and zstd are opened too: a batch claiming a codec over bytes that are not
  // compressed records would otherwise be stored and break every consumer of the partition.
  let plain: Buffer;
  try {
    plain = decompressRecords(codec, records.subarray(RECORDS_AT), MAX_DECOMPRESSED_BYTES);
  } catch (error) {
    if (!(error instanceof RecordCompressionError)) throw error;
    return { errorCode: KafkaErrorCode.CORRUPT_MESSAGE, message: error.message };
  }
  return checkRecords(plain, 0, plain.length, count, baseTimestamp);
}

/**
 * Walks `count` records and checks each is well formed as Kafka's own broker does (DefaultRecord):
 * its fields (attributes, timestamp and offset deltas, key, value, headers) fill its length
 * exactly, no length but a key's or value's is negative, and offset deltas run 0, 1, 2, … A
 * record that fails would be stored and then break every consumer that reads it. Also finds the
 * greatest record timestamp (`baseTimestamp` plus the greatest delta).
 */
export function checkRecords(
  buf: Buffer,
  start: number,
  end: number,
  count: number,
  baseTimestamp: number,
): BatchCheck {
  const reader = { buf, pos: start, end };
  let maxTimestampDelta = -Infinity;
  for (let i = 0; i < count; i++) {
    const length = readVarint(reader, 5);
    if (length === undefined) return corrupt(`record ${i} length is truncated`);
    if (length < 0 || reader.pos + length > end) return corrupt(`record ${i} runs past the batch`);
    const record = { buf, pos: reader.pos, end: reader.pos + length, timestampDelta: 0 };
    const problem = recordProblem(record, i);
    if (problem !== undefined) return corrupt(`record ${i} ${problem}`);
    maxTimestampDelta = Math.max(maxTimestampDelta, record.timestampDelta);
    reader.pos += length;
  }
  if (reader.pos !== end) return corrupt('bytes left after the last record');
  const maxTimestamp = baseTimestamp + maxTimestampDelta;
  return Number.isSafeInteger(maxTimestamp)
    ? { errorCode: KafkaErrorCode.NONE, maxTimestamp }
    : { errorCode: KafkaErrorCode.NONE };
}

interface RecordReader {
  readonly buf: Buffer;
  pos: number;
  readonly end: number;
}

/**
 * What is wrong inside one record (the bytes after its length), or undefined; sets
 * `r.timestampDelta` on the way.
 */
function recordProblem(
  r: RecordReader & { timestampDelta: number },
  index: number,
): string | undefined {
  if (r.pos >= r.end) return 'has no attributes';
  r.pos += 1; // attributes: unused in v2 records
  const timestampDelta = readVarint(r, 10);
  if (timestampDelta === undefined) return 'has a broken timestamp delta';
  r.timestampDelta = timestampDelta;
  const offsetDelta = readVarint(r, 5);
  if (offsetDelta !== index) return `has offset delta ${String(offsetDelta)}, expected ${index}`;
  for (const field of ['key', 'value'] as const) {
    const size = readVarint(r, 5);
    if (size === undefined || size < -1 || r.pos + Math.max(size, 0) > r.end)
      return `has a broken ${field} length`;
    r.pos += Math.max(size, 0);
  }
  const headers = readVarint(r, 5);
  if (headers === undefined || headers < 0) return 'has a broken header count';
  for (let h = 0; h < headers; h++) {
    const keySize = readVarint(r, 5);
    if (keySize === undefined || keySize < 0 || r.pos + keySize > r.end)
      return `has a broken header ${h} key`;
    r.pos += keySize;
    const valueSize = readVarint(r, 5);
    if (valueSize === undefined || valueSize < -1 || r.pos + Math.max(valueSize, 0) > r.end)
      return `has a broken header ${h} value`;
    r.pos += Math.max(valueSize, 0);
  }
  return r.pos === r.end ? undefined : 'has bytes left over after its headers';
}

/**
 * A zigzag varint of at most `maxBytes` bytes, or undefined when cut short or too long. Values
 * past 2^53 (only a timestamp delta can be that large) come back imprecise, which is fine: only
 * lengths and offset deltas are compared.
 */
function readVarint(r: RecordReader, maxBytes: number): number | undefined {
  let raw = 0;
  let scale = 1;
  for (let n = 0; n < maxBytes; n++) {
    if (r.pos >= r.end) return undefined;
    const byte = r.buf[r.pos++]!;
    raw += (byte & 0x7f) * scale;
    scale *= 128;
    if ((byte & 0x80) === 0) return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
  }
  return undefined;
}

function corrupt(message: string): BatchCheck {
  return { errorCode: KafkaErrorCode.CORRUPT_MESSAGE, message };
}
