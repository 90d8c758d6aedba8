import { createHash } from 'node:crypto';

// The stream cursors fanout hands out (its `encodeCursor`, which owns the format): base64url of
// a version byte and the positions, ending in the first 4 bytes of their SHA-256. A replay
// bound is checked against that envelope when it is asked for, so a cursor that was cut,
// mistyped, edited or made up is a 400 here rather than a 202 for a replay fanout then fails.
// The positions inside are read by fanout alone.
const CURSOR_VERSION = 1;
const CHECKSUM_BYTES = 4;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Why `text` is not a stream cursor Herald gave out; null when it is one. */
export function streamCursorProblem(text: string): string | null {
  if (!BASE64URL.test(text)) return 'must be an RFC 3339 time or a stream cursor';
  const raw = Buffer.from(text, 'base64url');
  const body = raw.subarray(0, raw.length - CHECKSUM_BYTES);
  if (
    raw.length <= 1 + CHECKSUM_BYTES ||
    body[0] !== CURSOR_VERSION ||
    !createHash('sha256')
      .update(body)
      .digest()
      .subarray(0, CHECKSUM_BYTES)
      .equals(raw.subarray(raw.length - CHECKSUM_BYTES))
  ) {
    return 'is not a stream cursor Herald gave out (cut short, mistyped or edited?)';
  }
  return null;
}
