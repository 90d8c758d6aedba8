import { createHash } from 'node:crypto';
import { HeraldError } from '@herald/errors';
import { splitTopicPartitionKey, topicPartitionKey } from './topic-partition.key';

// Stream cursors: fanout writes them (SSE ids, WebSocket and poll cursors) and reads them back to
// resume; subscription-api reads them too, to refuse a replay bound no stream gave out.

/**
 * A position in the channel topics: for each partition (`topicPartitionKey`), the offset of the
 * next record to read; the map is what resuming starts from.
 */
export type CursorPositions = Map<string, bigint>;

/** The longest cursor read, in characters: thousands of partitions at 64-bit offsets fit. */
export const MAX_CURSOR_CHARS = 16_384;
const VERSION = 1;
const CHECKSUM_BYTES = 4;
const MAX_TOPIC_BYTES = 249; // Kafka's own limit on topic names

/** A cursor that is not one a stream gave out (bad encoding, wrong checksum, impossible values). */
export class InvalidCursorError extends HeraldError {
  constructor(
    /** What is wrong with it, for a message of the caller's own. */
    readonly reason: string,
  ) {
    super(
      'streams.cursor_invalid',
      `The cursor is not valid (${reason}); pass back a cursor exactly as the server sent it`,
    );
  }
}

/**
 * Opaque text for `positions`: base64url of a compact binary form (version, then per topic its
 * name and (partition, offset) pairs as varints), ending in 4 bytes of SHA-256 so a cursor that
 * was cut, mistyped or edited by hand is refused rather than silently misread. Not a secret: a
 * cursor only chooses where to read within what the key may read anyway.
 */
export function encodeCursor(positions: ReadonlyMap<string, bigint>): string {
  const byTopic = new Map<string, [number, bigint][]>();
  for (const [key, offset] of positions) {
    const { topic, partition } = splitTopicPartitionKey(key);
    const list = byTopic.get(topic) ?? [];
    list.push([partition, offset]);
    byTopic.set(topic, list);
  }
  const bytes: number[] = [VERSION];
  writeVarint(bytes, BigInt(byTopic.size));
  for (const topic of [...byTopic.keys()].sort()) {
    const name = Buffer.from(topic, 'utf8');
    writeVarint(bytes, BigInt(name.length));
    for (const byte of name) bytes.push(byte);
    const partitions = byTopic.get(topic)!.sort((a, b) => a[0] - b[0]);
    writeVarint(bytes, BigInt(partitions.length));
    for (const [partition, offset] of partitions) {
      writeVarint(bytes, BigInt(partition));
      writeVarint(bytes, offset);
    }
  }
  const body = Buffer.from(bytes);
  return Buffer.concat([body, checksum(body)]).toString('base64url');
}

/** The positions of a cursor from `encodeCursor`; InvalidCursorError for anything else. */
export function decodeCursor(text: string): CursorPositions {
  if (text.length === 0) throw new InvalidCursorError('it is empty');
  if (text.length > MAX_CURSOR_CHARS) throw new InvalidCursorError('it is too long');
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw new InvalidCursorError('it is not base64url');
  const raw = Buffer.from(text, 'base64url');
  if (raw.length < 1 + CHECKSUM_BYTES) throw new InvalidCursorError('it is too short');
  const body = raw.subarray(0, raw.length - CHECKSUM_BYTES);
  if (!checksum(body).equals(raw.subarray(raw.length - CHECKSUM_BYTES)))
    throw new InvalidCursorError('its checksum does not match');
  const reader = { bytes: body, at: 0 };
  if (body[reader.at++] !== VERSION) throw new InvalidCursorError('unknown version');
  const positions: CursorPositions = new Map();
  const topics = readSmall(reader, 10_000);
  for (let t = 0; t < topics; t++) {
    const length = readSmall(reader, MAX_TOPIC_BYTES);
    if (length === 0 || reader.at + length > body.length)
      throw new InvalidCursorError('a topic name is cut short');
    const topic = body.subarray(reader.at, reader.at + length).toString('utf8');
    reader.at += length;
    const partitions = readSmall(reader, 100_000);
    for (let p = 0; p < partitions; p++) {
      const partition = readSmall(reader, 2 ** 31 - 1);
      const offset = readVarint(reader);
      if (offset >= 2n ** 63n) throw new InvalidCursorError('an offset is out of range');
      positions.set(topicPartitionKey(topic, partition), offset);
    }
  }
  if (reader.at !== body.length) throw new InvalidCursorError('it has trailing bytes');
  return positions;
}

function checksum(body: Buffer): Buffer {
  return createHash('sha256').update(body).digest().subarray(0, CHECKSUM_BYTES);
}

function writeVarint(bytes: number[], value: bigint): void {
  let rest = value;
  while (rest >= 0x80n) {
    bytes.push(Number(rest & 0x7fn) | 0x80);
    rest >>= 7n;
  }
  bytes.push(Number(rest));
}

function readVarint(reader: { bytes: Buffer; at: number }): bigint {
  let value = 0n;
  for (let shift = 0n; shift < 70n; shift += 7n) {
    const byte = reader.bytes[reader.at++];
    if (byte === undefined) throw new InvalidCursorError('it is cut short');
    value |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return value;
  }
  throw new InvalidCursorError('a number is too long');
}

function readSmall(reader: { bytes: Buffer; at: number }, max: number): number {
  const value = readVarint(reader);
  if (value > BigInt(max)) throw new InvalidCursorError('a count is out of range');
  return Number(value);
}
