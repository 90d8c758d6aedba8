import {
  BATCH,
  CorruptRecordError,
  TIMESTAMP_TYPE_LOG_APPEND,
  correctMaxTimestamp,
  crc32c,
  iterateBatches,
  readBatchHeader,
  validateBatch,
  verifyBatchCrc,
} from './record-batch';
import { encodeBatch } from './record-batch.fixture';

function expectCorrupt(fn: () => unknown, reason: string): void {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CorruptRecordError);
    expect((error as CorruptRecordError).reason).toBe(reason);
    return;
  }
  throw new Error('expected a CorruptRecordError');
}

describe('record batch v2', () => {
  const batch = encodeBatch({
    records: [{ value: 'a' }, { value: 'b', timestampDelta: 40 }],
    baseTimestamp: 1000,
    producerId: 42n,
    producerEpoch: 3,
    baseSequence: 17,
  });

  it('decodes the header', () => {
    expect(readBatchHeader(batch, 0)).toEqual({
      baseOffset: 0n,
      batchLength: batch.length - 12,
      partitionLeaderEpoch: -1,
      magic: 2,
      crc: crc32c(batch, BATCH.attributes),
      attributes: 0,
      lastOffsetDelta: 1,
      baseTimestamp: 1000n,
      maxTimestamp: 1040n,
      producerId: 42n,
      producerEpoch: 3,
      baseSequence: 17,
      recordCount: 2,
    });
  });

  it('accepts a sound batch whatever its base offset, which the CRC does not cover', () => {
    const copy = Buffer.from(batch);
    copy.writeBigInt64BE(123456n, 0);
    expect(validateBatch(copy, 0)).toBe(batch.length);
    expect(verifyBatchCrc(copy, 0, copy.length)).toBe(true);
  });

  it('rejects a flipped bit in the CRC-covered bytes', () => {
    const copy = Buffer.from(batch);
    copy[copy.length - 3]! ^= 0x10;
    expectCorrupt(() => validateBatch(copy, 0), 'crc');
  });

  it('rejects another magic, a length running past the data, a tiny length and a bad count', () => {
    const magic = Buffer.from(batch);
    magic[BATCH.magic] = 1;
    expectCorrupt(() => validateBatch(magic, 0), 'magic');
    expectCorrupt(() => validateBatch(batch.subarray(0, batch.length - 1), 0), 'framing');
    expectCorrupt(() => validateBatch(batch.subarray(0, 10), 0), 'framing');
    const tiny = Buffer.from(batch);
    tiny.writeInt32BE(20, BATCH.batchLength);
    expectCorrupt(() => validateBatch(tiny, 0), 'framing');
    const count = Buffer.from(batch);
    count.writeInt32BE(5, BATCH.recordCount);
    expectCorrupt(() => validateBatch(count, 0), 'record-count');
  });

  it('walks batches laid end to end and stops before a torn one', () => {
    const other = encodeBatch({ records: [{ value: 'c' }] });
    const data = Buffer.concat([batch, other, batch.subarray(0, 30)]);
    expect([...iterateBatches(data)]).toEqual([
      { position: 0, size: batch.length },
      { position: batch.length, size: other.length },
    ]);
  });

  it('corrects a max timestamp the records contradict, with the CRC, as Kafka does', () => {
    const copy = Buffer.from(batch);
    copy.writeBigInt64BE(1010n, BATCH.maxTimestamp);
    copy.writeUInt32BE(crc32c(copy, BATCH.attributes), BATCH.crc);
    expect(correctMaxTimestamp(copy, 0, 1040)).toBe(true);
    expect(copy.equals(batch)).toBe(true);
    expect(correctMaxTimestamp(copy, 0, 1040)).toBe(false);
  });

  it('leaves the max timestamp of a batch with a wrong CRC or log-append time alone', () => {
    const corrupt = Buffer.from(batch);
    corrupt[corrupt.length - 3]! ^= 0x10;
    expect(correctMaxTimestamp(corrupt, 0, 2000)).toBe(false);
    expectCorrupt(() => validateBatch(corrupt, 0), 'crc');
    const logAppend = Buffer.from(batch);
    logAppend.writeInt16BE(TIMESTAMP_TYPE_LOG_APPEND, BATCH.attributes);
    expect(correctMaxTimestamp(logAppend, 0, 2000)).toBe(false);
    expect(logAppend.readBigInt64BE(BATCH.maxTimestamp)).toBe(1040n);
  });

  it('refuses to read a header from too short a buffer', () => {
    expectCorrupt(() => readBatchHeader(batch.subarray(0, 40), 0), 'framing');
  });
});
