import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { KafkaErrorCode } from '../protocol/protocol.errors';

const gunzipAsync = promisify(gunzip);

/** Byte offsets in a v2 record batch (implementation.html, "Record Batch"). */
const BATCH_LENGTH_AT = 8;
const MAGIC_AT = 16;
const ATTRIBUTES_AT = 21;
const RECORD_COUNT_AT = 57;
const RECORDS_AT = 61;
const LOG_OVERHEAD = 12;

const COMPRESSION_NONE = 0;
const COMPRESSION_GZIP = 1;
const COMPRESSION_ZSTD = 4;
const TRANSACTIONAL_FLAG = 0x10;
const CONTROL_FLAG = 0x20;

/** Decompressed batches larger than this are refused, so a tiny gzip bomb cannot exhaust memory. */
const MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;

export interface BatchCheck {
  errorCode: number;
  message?: string;
}

const OK: BatchCheck = { errorCode: KafkaErrorCode.NONE };

/**
 * Checks the records a producer sent for one partition: exactly one magic-2 batch (as Kafka
 * requires from Produce v3), not too large, a compression we can read, and records that add up to
 * the batch's count. The CRC is checked by storage when it appends.
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
  const codec = attributes & 0x07;
  if (codec === COMPRESSION_NONE) return checkRecords(records, RECORDS_AT, records.length, count);
  if (codec === COMPRESSION_GZIP) {
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
    return checkRecords(plain, 0, plain.length, count);
  }
  // snappy, lz4 and zstd are stored as received without looking inside: the CRC still guards
  // against corruption and consumers decompress them anyway.
  if (codec <= COMPRESSION_ZSTD) return OK;
  return { errorCode: KafkaErrorCode.UNSUPPORTED_COMPRESSION_TYPE };
}

/** Walks `count` length-prefixed records and checks they end exactly at `end`. */
export function checkRecords(buf: Buffer, start: number, end: number, count: number): BatchCheck {
  let pos = start;
  for (let i = 0; i < count; i++) {
    let value = 0;
    let shift = 0;
    let byte: number;
    do {
      if (pos >= end || shift > 28) {
        return {
          errorCode: KafkaErrorCode.CORRUPT_MESSAGE,
          message: `record ${i} length is truncated`,
        };
      }
      byte = buf[pos++] as number;
      value |= (byte & 0x7f) << shift;
      shift += 7;
    } while ((byte & 0x80) !== 0);
    const length = (value >>> 1) ^ -(value & 1);
    if (length < 0 || pos + length > end) {
      return {
        errorCode: KafkaErrorCode.CORRUPT_MESSAGE,
        message: `record ${i} runs past the batch`,
      };
    }
    pos += length;
  }
  if (pos !== end)
    return {
      errorCode: KafkaErrorCode.CORRUPT_MESSAGE,
      message: 'bytes left after the last record',
    };
  return OK;
}
