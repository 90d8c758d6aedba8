// Opens the records of a compressed batch (gzip, snappy, lz4, zstd), as Kafka's broker does to
// check them, never growing past a size bound, so a small hostile batch cannot exhaust memory.
import { gunzipSync } from 'node:zlib';
import { Decompress as ZstdStream } from 'fzstd';
import { decompressBound as lz4Bound, decompressFrame as lz4DecompressFrame } from 'lz4js';
import { uncompress as snappyUncompress } from 'snappyjs';

export const Compression = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;

/** Batches that open to more than this are refused, so a tiny bomb cannot exhaust memory. */
export const MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;

/**
 * Largest window a zstd frame may declare. fzstd allocates and zero-fills the whole declared
 * window before reading a block, so a 90-byte frame claiming 2 GiB took that much memory and
 * seconds of the event loop. 8 MiB (window log 23) is the most zstd levels 1 to 19 use on input
 * of unknown size, as producers stream it (Kafka's Java producer and librdkafka default to level
 * 3: 2 MiB); only the "ultra" levels 20 to 22 ask for more (32 to 128 MiB), and those batches are
 * refused. A single-segment frame's window is its content size, held to the decompressed bound.
 */
export const MAX_ZSTD_WINDOW_BYTES = 8 * 1024 * 1024;

/** A compressed record set that does not open, or opens to more than allowed. */
export class RecordCompressionError extends Error {}

// snappy-java's stream framing, which Java producers use: this magic, two int32 versions, then
// blocks of int32 length + raw snappy.
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;

// zstd frames and blocks (RFC 8878).
const ZSTD_MAGIC = 0xfd2fb528;
/** Skippable frames carry any of 16 magics, 0x184D2A50 to 0x184D2A5F. */
const ZSTD_SKIPPABLE_MAGIC = 0x184d2a50;
const ZSTD_BLOCK_RLE = 1;
const ZSTD_BLOCK_RESERVED = 3;

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
  checkZstdFrames(data, maxBytes);
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

/**
 * Reads the header of every frame in `data` (RFC 8878, 3.1.1) and refuses, before fzstd allocates
 * anything, a frame whose content size is declared over `maxBytes` or whose window is over
 * MAX_ZSTD_WINDOW_BYTES (a single-segment frame's window is its content size), or whose header is
 * cut short (fzstd reads missing bytes as zeros, or a wrong size from an 8-byte content size).
 * Stops quietly at bytes that are no frame or block it can walk: fzstd refuses those itself.
 */
function checkZstdFrames(data: Buffer, maxBytes: number): void {
  let at = 0;
  while (at + 4 <= data.length) {
    const magic = data.readUInt32LE(at);
    if ((magic & 0xfffffff0) >>> 0 === ZSTD_SKIPPABLE_MAGIC) {
      if (at + 8 > data.length) return;
      at += 8 + data.readUInt32LE(at + 4);
      continue;
    }
    if (magic !== ZSTD_MAGIC) return;
    const frame = readZstdFrameHeader(data, at + 4);
    if (frame.contentSize !== undefined && frame.contentSize > maxBytes) {
      throw new RecordCompressionError(
        `frame declares ${frame.contentSize} bytes of content, over the ${maxBytes} allowed`,
      );
    }
    if (frame.windowBytes > MAX_ZSTD_WINDOW_BYTES) {
      throw new RecordCompressionError(
        `frame declares a window of ${frame.windowBytes} bytes, over the ${MAX_ZSTD_WINDOW_BYTES} allowed`,
      );
    }
    at = frame.blocksAt;
    for (let last = false; !last;) {
      if (at + 3 > data.length) return;
      const block = data.readUIntLE(at, 3);
      const type = (block >> 1) & 0x03;
      if (type === ZSTD_BLOCK_RESERVED) return;
      last = (block & 0x01) !== 0;
      at += 3 + (type === ZSTD_BLOCK_RLE ? 1 : block >> 3);
    }
    if (frame.checksum) at += 4;
  }
}

interface ZstdFrameHeader {
  /** 0 for a single-segment frame, whose window is its content size. */
  windowBytes: number;
  contentSize: number | undefined;
  checksum: boolean;
  /** Where its first block starts. */
  blocksAt: number;
}

/** The frame header starting at `at` (just after the magic); throws when it is cut short. */
function readZstdFrameHeader(data: Buffer, at: number): ZstdFrameHeader {
  const descriptor = data[at];
  if (descriptor === undefined) throw new RecordCompressionError('frame header is cut short');
  const singleSegment = (descriptor & 0x20) !== 0;
  const contentSizeBytes = [singleSegment ? 1 : 0, 2, 4, 8][descriptor >> 6]!;
  const dictionaryIdBytes = [0, 1, 2, 4][descriptor & 0x03]!;
  const windowAt = at + 1;
  const contentSizeAt = windowAt + (singleSegment ? 0 : 1) + dictionaryIdBytes;
  const blocksAt = contentSizeAt + contentSizeBytes;
  if (blocksAt > data.length) throw new RecordCompressionError('frame header is cut short');
  let windowBytes = 0;
  if (!singleSegment) {
    const windowDescriptor = data[windowAt]!;
    const base = 2 ** (10 + (windowDescriptor >> 3));
    windowBytes = base + (base / 8) * (windowDescriptor & 0x07);
  }
  let contentSize: number | undefined;
  if (contentSizeBytes > 0) {
    contentSize = 0;
    for (let i = contentSizeBytes - 1; i >= 0; i--)
      contentSize = contentSize * 256 + data[contentSizeAt + i]!;
    // The 2-byte field counts from 256.
    if (contentSizeBytes === 2) contentSize += 256;
  }
  return { windowBytes, contentSize, checksum: (descriptor & 0x04) !== 0, blocksAt };
}
