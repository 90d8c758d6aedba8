// Test-only encoder and decoder for record batches v2, so storage tests can build what a
// producer would send and read back what a consumer would get.
import * as zlib from 'node:zlib';
import {
  BATCH,
  BATCH_HEADER_SIZE,
  crc32c,
  iterateBatches,
  readInt64,
  writeInt64,
} from './record-batch';

export interface FixtureRecord {
  key?: string | Buffer | null;
  value: string | Buffer | null;
  /** Milliseconds after the batch base timestamp. Default: the record's index. */
  timestampDelta?: number;
}

export interface FixtureBatch {
  records: FixtureRecord[];
  /** Default 1_700_000_000_000. */
  baseTimestamp?: number;
  /** Default -1 (not idempotent). */
  producerId?: bigint;
  producerEpoch?: number;
  baseSequence?: number;
  /** gzip here, or any codec with its compressor (the attributes get its number). */
  compression?: 'none' | 'gzip' | { codec: number; compress(records: Buffer): Buffer };
}

export const FIXTURE_BASE_TIMESTAMP = 1_700_000_000_000;

function zigzag(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

function varint(value: number): Buffer {
  let raw = zigzag(value);
  const bytes: number[] = [];
  while (raw >= 0x80) {
    bytes.push((raw % 128) | 0x80);
    raw = Math.floor(raw / 128);
  }
  bytes.push(raw);
  return Buffer.from(bytes);
}

function bytesField(value: string | Buffer | null | undefined): Buffer {
  if (value === null || value === undefined) return varint(-1);
  const data = typeof value === 'string' ? Buffer.from(value) : value;
  return Buffer.concat([varint(data.length), data]);
}

function encodeRecord(record: FixtureRecord, index: number): Buffer {
  const body = Buffer.concat([
    Buffer.from([0]),
    varint(record.timestampDelta ?? index),
    varint(index),
    bytesField(record.key),
    bytesField(record.value),
    varint(0),
  ]);
  return Buffer.concat([varint(body.length), body]);
}

export function encodeBatch(batch: FixtureBatch): Buffer {
  const baseTimestamp = batch.baseTimestamp ?? FIXTURE_BASE_TIMESTAMP;
  let records: Buffer = Buffer.concat(batch.records.map(encodeRecord));
  const compression = batch.compression ?? 'none';
  if (compression === 'gzip') records = zlib.gzipSync(records);
  else if (compression !== 'none') records = compression.compress(records);
  const codec = compression === 'none' ? 0 : compression === 'gzip' ? 1 : compression.codec;
  const maxDelta = Math.max(...batch.records.map((record, i) => record.timestampDelta ?? i));
  const buf = Buffer.alloc(BATCH_HEADER_SIZE + records.length);
  writeInt64(buf, BATCH.baseOffset, 0);
  buf.writeInt32BE(buf.length - 12, BATCH.batchLength);
  buf.writeInt32BE(-1, BATCH.partitionLeaderEpoch);
  buf.writeInt8(2, BATCH.magic);
  buf.writeInt16BE(codec, BATCH.attributes);
  buf.writeInt32BE(batch.records.length - 1, BATCH.lastOffsetDelta);
  writeInt64(buf, BATCH.baseTimestamp, baseTimestamp);
  writeInt64(buf, BATCH.maxTimestamp, baseTimestamp + maxDelta);
  buf.writeBigInt64BE(batch.producerId ?? -1n, BATCH.producerId);
  buf.writeInt16BE(batch.producerEpoch ?? -1, BATCH.producerEpoch);
  buf.writeInt32BE(batch.baseSequence ?? -1, BATCH.baseSequence);
  buf.writeInt32BE(batch.records.length, BATCH.recordCount);
  records.copy(buf, BATCH_HEADER_SIZE);
  buf.writeUInt32BE(crc32c(buf, BATCH.attributes), BATCH.crc);
  return buf;
}

/** One batch of `count` records whose values are `${prefix}${i}`. */
export function batchOf(
  count: number,
  prefix = 'v',
  options: Omit<FixtureBatch, 'records'> = {},
): Buffer {
  return encodeBatch({
    ...options,
    records: Array.from({ length: count }, (_, i) => ({ key: `k${i}`, value: `${prefix}${i}` })),
  });
}

export interface DecodedRecord {
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
}

function readVarint(buf: Buffer, cursor: { at: number }): number {
  let raw = 0;
  let scale = 1;
  for (;;) {
    const byte = buf[cursor.at++]!;
    raw += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) break;
    scale *= 128;
  }
  return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
}

function readBytes(buf: Buffer, cursor: { at: number }): string | null {
  const length = readVarint(buf, cursor);
  if (length < 0) return null;
  const text = buf.toString('utf8', cursor.at, cursor.at + length);
  cursor.at += length;
  return text;
}

/** Every record of every batch in `data`, with absolute offsets and timestamps. */
export function decodeRecords(data: Buffer): DecodedRecord[] {
  const out: DecodedRecord[] = [];
  for (const { position, size } of iterateBatches(data)) {
    const baseOffset = readInt64(data, position + BATCH.baseOffset);
    const baseTimestamp = readInt64(data, position + BATCH.baseTimestamp);
    const count = data.readInt32BE(position + BATCH.recordCount);
    let records = data.subarray(position + BATCH_HEADER_SIZE, position + size);
    if ((data.readInt16BE(position + BATCH.attributes) & 7) === 1)
      records = zlib.gunzipSync(records);
    const cursor = { at: 0 };
    for (let i = 0; i < count; i++) {
      readVarint(records, cursor);
      cursor.at += 1;
      const timestamp = baseTimestamp + readVarint(records, cursor);
      const offset = baseOffset + readVarint(records, cursor);
      const key = readBytes(records, cursor);
      const value = readBytes(records, cursor);
      const headers = readVarint(records, cursor);
      for (let h = 0; h < headers; h++) {
        readBytes(records, cursor);
        readBytes(records, cursor);
      }
      out.push({ offset, timestamp, key, value });
    }
  }
  return out;
}

/**
 * A zstd frame holding `content` as one raw block, with the header fields a test wants to lie
 * in: a window descriptor (exponent << 3 | mantissa, window = 2^(10 + exponent) * (1 +
 * mantissa / 8)) or, for a single-segment frame, a 4-byte content size.
 */
export function zstdRawFrame(
  content: Buffer,
  header: { windowDescriptor: number } | { contentSize: number },
): Buffer {
  const magic = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
  let frameHeader: Buffer;
  if ('windowDescriptor' in header) frameHeader = Buffer.from([0x00, header.windowDescriptor]);
  else {
    // Single segment (0x20) with a 4-byte content size (0x80).
    frameHeader = Buffer.alloc(5);
    frameHeader[0] = 0xa0;
    frameHeader.writeUInt32LE(header.contentSize, 1);
  }
  // Last block (bit 0), raw (type 0), its size in the upper 21 bits.
  const block = Buffer.alloc(3);
  block.writeUIntLE((content.length << 3) | 1, 0, 3);
  return Buffer.concat([magic, frameHeader, block, content]);
}
