import { gzipSync } from 'node:zlib';
import { compress as lz4Compress } from 'lz4js';
import { compress as snappyCompress } from 'snappyjs';
import { validateProducedBatch } from '../produce/record-batch.validator';
import { KafkaErrorCode } from '../protocol/protocol.errors';
import { BATCH_HEADER_SIZE } from './record-batch';
import {
  FIXTURE_BASE_TIMESTAMP,
  encodeBatch,
  zstdRawFrame,
  type FixtureRecord,
} from './record-batch.fixture';
import {
  Compression,
  MAX_ZSTD_WINDOW_BYTES,
  RecordCompressionError,
  decompressRecords,
} from './record-compression';
import { findRecordAtOrAfter } from './record-timestamp.lookup';

const RECORDS: FixtureRecord[] = [
  { key: 'k1', value: 'zstd-one' },
  { key: 'k2', value: 'zstd-two' },
  { key: null, value: 'zstd-three' },
];
const PLAIN = encodeBatch({ records: RECORDS }).subarray(BATCH_HEADER_SIZE);
// PLAIN compressed by the zstd command-line tool (`zstd -19`); Node 20 has no zstd compressor.
const ZSTD_FRAME = Buffer.from(
  'KLUv/QRomQEAIAAAAARrMRB6c3RkLW9uZQAgAAICBGsyEHpzdGQtdHdvACAABAQBFHpzdGQtdGhyZWUAwWVJDA==',
  'base64',
);

/** snappy-java's stream framing (what Java producers send): magic, versions, length + block. */
function xerial(records: Buffer): Buffer {
  const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
  const half = Math.floor(records.length / 2);
  const blocks = [records.subarray(0, half), records.subarray(half)].map((part) => {
    const block = Buffer.from(snappyCompress(part));
    const length = Buffer.alloc(4);
    length.writeInt32BE(block.length);
    return Buffer.concat([length, block]);
  });
  return Buffer.concat([header, ...blocks]);
}

const codecs: [string, number, (records: Buffer) => Buffer][] = [
  ['gzip', Compression.gzip, (r) => gzipSync(r)],
  ['raw snappy', Compression.snappy, (r) => Buffer.from(snappyCompress(r))],
  ['snappy-java framed', Compression.snappy, xerial],
  ['lz4 frame', Compression.lz4, (r) => Buffer.from(lz4Compress(r))],
  ['zstd', Compression.zstd, () => ZSTD_FRAME],
];

describe('decompressRecords', () => {
  it.each(codecs)('opens %s records exactly', (_name, codec, compress) => {
    expect(decompressRecords(codec, compress(PLAIN), 1 << 20).equals(PLAIN)).toBe(true);
  });

  it.each(codecs)(
    'refuses %s records that open to more than the bound',
    (_name, codec, compress) => {
      expect(() => decompressRecords(codec, compress(PLAIN), PLAIN.length - 1)).toThrow(
        RecordCompressionError,
      );
    },
  );

  it.each([
    ['snappy', Compression.snappy],
    ['lz4', Compression.lz4],
    ['zstd', Compression.zstd],
    ['gzip', Compression.gzip],
  ])('refuses %s bytes that are not compressed data', (_name, codec) => {
    for (const junk of [PLAIN, Buffer.alloc(0), Buffer.from('not compressed at all')])
      expect(() => decompressRecords(codec, junk, 1 << 20)).toThrow(RecordCompressionError);
  });

  it('does not trust the content size an lz4 frame claims: it allocates at most the bound', () => {
    const frame = Buffer.from(lz4Compress(PLAIN));
    // Set the content-size flag and claim 2^40 bytes.
    const claimed = Buffer.concat([
      frame.subarray(0, 4),
      Buffer.from([frame[4]! | 0x08, frame[5]!]),
      Buffer.from([0, 0, 0, 0, 0, 1, 0, 0]),
      frame.subarray(6),
    ]);
    expect(decompressRecords(Compression.lz4, claimed, 1 << 20).equals(PLAIN)).toBe(true);
  });

  // fzstd allocates the window a frame declares before reading it: 1.9 GiB and seconds of CPU
  // for these few bytes, had they not been refused first.
  const hugeWindow = zstdRawFrame(PLAIN, { windowDescriptor: (20 << 3) | 7 });
  const skippable = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 0xaa, 0xbb]);
  it.each([
    ['a window of 1.9 GiB', hugeWindow, /zstd: frame declares a window of 2013265920 bytes/],
    [
      'a window of 8 MiB + 1 KiB',
      zstdRawFrame(PLAIN, { windowDescriptor: (13 << 3) | 1 }),
      /window/,
    ],
    [
      '512 MiB of content',
      zstdRawFrame(PLAIN, { contentSize: 512 << 20 }),
      /536870912 bytes of content/,
    ],
    ['a huge window after a sound frame', Buffer.concat([ZSTD_FRAME, hugeWindow]), /window/],
    ['a huge window after a skippable frame', Buffer.concat([skippable, hugeWindow]), /window/],
  ])('refuses a zstd frame declaring %s before opening it', (_name, frame, message) => {
    expect(() => decompressRecords(Compression.zstd, frame, 1 << 20)).toThrow(message);
  });

  it('opens zstd frames whose window is at most 8 MiB, or whose content fits', () => {
    expect(MAX_ZSTD_WINDOW_BYTES).toBe(8 << 20);
    for (const frame of [
      zstdRawFrame(PLAIN, { windowDescriptor: 13 << 3 }),
      zstdRawFrame(PLAIN, { contentSize: PLAIN.length }),
      Buffer.concat([ZSTD_FRAME, skippable, zstdRawFrame(PLAIN, { windowDescriptor: 0 })]),
    ]) {
      const opened = decompressRecords(Compression.zstd, frame, 1 << 20);
      expect(opened.subarray(opened.length - PLAIN.length).equals(PLAIN)).toBe(true);
    }
  });
});

describe('produced batches with snappy, lz4 and zstd', () => {
  it.each(codecs)(
    'accepts well-formed %s batches and finds records in them by time',
    async (_n, codec, compress) => {
      const batch = encodeBatch({ records: RECORDS, compression: { codec, compress } });
      expect(await validateProducedBatch(batch, 1 << 20)).toEqual({
        errorCode: KafkaErrorCode.NONE,
        maxTimestamp: FIXTURE_BASE_TIMESTAMP + 2,
      });
      const base = batch.readBigInt64BE(27);
      expect(findRecordAtOrAfter(batch, Number(base) + 2).offset).toBe(2);
    },
  );

  it.each(codecs)(
    'refuses a %s batch whose records inside are broken',
    async (_n, codec, compress) => {
      const broken = encodeBatch({
        records: RECORDS,
        compression: {
          codec,
          compress: (r) => compress(codec === Compression.zstd ? r : r.subarray(0, r.length - 3)),
        },
      });
      // The zstd fixture is fixed bytes: claim one record more than it holds instead.
      if (codec === Compression.zstd) broken.writeInt32BE(4, 57);
      expect((await validateProducedBatch(broken, 1 << 20)).errorCode).toBe(
        KafkaErrorCode.CORRUPT_MESSAGE,
      );
    },
  );
});
