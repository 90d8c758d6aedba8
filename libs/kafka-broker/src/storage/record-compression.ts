// Opens the records of a compressed batch (gzip, snappy, lz4, zstd), as Kafka's broker does to
// check them, never growing past a size bound, so a small hostile batch cannot exhaust memory.
import { gunzipSync } from 'node:zlib';
import { Decompress as ZstdStream } from 'fzstd';
import { decompressBound as lz4Bound, decompressFrame as lz4DecompressFrame } from 'lz4js';
import { uncompress as snappyUncompress } from 'snappyjs';

export const Compression = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;

/** Batches that open to more than this are refused, so a tiny bomb cannot exhaust memory. */
export const MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;

/** A compressed record set that does not open, or opens to more than allowed. */
export class RecordCompressionError extends Error {}

// snappy-java's stream framing, which Java producers use: this magic, two int32 versions, then
// blocks of int32 length + raw snappy.
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;

const CODEC_NAMES: Readonly<Record<number, string>> = {
  [Compression.gzip]: 'gzip',
  [Compression.snappy]: 'snappy',
  [Compression.lz4]: 'lz4',
  [Compression.zstd]: 'zstd',
};

/**
 * The decompressed records of a batch compressed with `codec`; throws RecordCompressionError,
 * its message starting with the codec's name.
 */
export function decompressRecords(codec: number, data: Buffer, maxBytes: number): Buffer {
  const name = CODEC_NAMES[codec];
  if (name === undefined) throw new RecordCompressionError(`unknown compression codec ${codec}`);
  if (data.length === 0) throw new RecordCompressionError(`${name}: no compressed data`);
  try {
    switch (codec) {
      case Compression.gzip:
        return gunzipSync(data, { maxOutputLength: maxBytes });
      case Compression.snappy:
        return snappy(data, maxBytes);
      case Compression.lz4:
        return lz4(data, maxBytes);
      default:
        return zstd(data, maxBytes);
    }
  } catch (error) {
    throw new RecordCompressionError(`${name}: ${(error as Error).message}`);
  }
}

function snappy(data: Buffer, maxBytes: number): Buffer {
  if (!data.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC))
    return Buffer.from(snappyUncompress(data, maxBytes));
  const blocks: Buffer[] = [];
  let total = 0;
  for (let at = XERIAL_HEADER_BYTES; at < data.length;) {
    if (at + 4 > data.length) throw new RecordCompressionError('snappy block length is cut short');
    const length = data.readInt32BE(at);
    at += 4;
    if (length < 0 || at + length > data.length)
      throw new RecordCompressionError('snappy block runs past the batch');
    const block = Buffer.from(snappyUncompress(data.subarray(at, at + length), maxBytes - total));
    total += block.length;
    blocks.push(block);
    at += length;
  }
  return Buffer.concat(blocks, total);
}

function lz4(data: Buffer, maxBytes: number): Buffer {
  // The frame's own bound (its content size, or its blocks' maximum sizes), never past maxBytes.
  const bound = Number(lz4Bound(data));
  if (!Number.isFinite(bound) || bound < 0)
    throw new RecordCompressionError('lz4 frame has no readable size');
  const out = new Uint8Array(Math.min(bound, maxBytes));
  // lz4js counts every byte it produces, also those that do not fit (a typed array drops them).
  const size = lz4DecompressFrame(data, out);
  if (size > out.length)
    throw new RecordCompressionError(`lz4 frame opens to more than ${out.length} bytes`);
  return Buffer.from(out.buffer, out.byteOffset, size);
}

function zstd(data: Buffer, maxBytes: number): Buffer {
  const chunks: Uint8Array[] = [];
  let total = 0;
  let ended = false;
  const stream = new ZstdStream((chunk, final) => {
    total += chunk.length;
    if (total > maxBytes)
      throw new RecordCompressionError(`zstd frame opens to more than ${maxBytes} bytes`);
    chunks.push(chunk);
    if (final) ended = true;
  });
  stream.push(data, true);
  if (!ended) throw new RecordCompressionError('zstd frame is cut short');
  return Buffer.concat(chunks, total);
}
