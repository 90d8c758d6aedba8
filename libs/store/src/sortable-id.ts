import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'; // Crockford base32: no I, L, O, U
const TIME_CHARS = 10;
const RANDOM_CHARS = 16;

let lastTimeMs = -1;
let lastRandom: number[] = [];

function randomDigits(): number[] {
  return [...randomBytes(RANDOM_CHARS)].map((byte) => byte & 31);
}

/** Adds one to a base32 digit array; ids made in one millisecond then still sort by creation. */
function increment(digits: number[]): number[] {
  const next = [...digits];
  for (let i = next.length - 1; i >= 0; i -= 1) {
    if (next[i]! < 31) {
      next[i] = next[i]! + 1;
      return next;
    }
    next[i] = 0;
  }
  return randomDigits(); // 80 bits overflowed within one millisecond: practically never
}

/**
 * A ULID-shaped id after `prefix` (`sub_01HQ3K9Z4M7N2P5R8T1V6X0Y3B`): 48 bits of milliseconds and
 * 80 random bits in Crockford base32. Ids sort by creation time as plain strings, which is what
 * lets Redis sorted sets page them by id (ZRANGE BYLEX) with a stable cursor.
 */
export function newSortableId(prefix: string, nowMs: number = Date.now()): string {
  if (nowMs === lastTimeMs) lastRandom = increment(lastRandom);
  else {
    lastTimeMs = nowMs;
    lastRandom = randomDigits();
  }
  return `${prefix}${encodeTime(nowMs)}${lastRandom.map((digit) => ALPHABET[digit]!).join('')}`;
}

function encodeTime(ms: number): string {
  let time = '';
  let remaining = ms;
  for (let i = 0; i < TIME_CHARS; i += 1) {
    time = ALPHABET[remaining % 32]! + time;
    remaining = Math.floor(remaining / 32);
  }
  return time;
}

/**
 * Below every id newSortableId makes with `prefix` at `ms` or later, and above every one it made
 * before: an exclusive upper bound for "made before `ms`" in a ZRANGE BYLEX (`(` + it).
 */
export function sortableIdBefore(prefix: string, ms: number): string {
  return `${prefix}${encodeTime(Math.max(0, Math.floor(ms)))}`;
}

/** Whether `id` has the shape newSortableId makes with `prefix` (guards keys built from input). */
export function isSortableId(id: string, prefix: string): boolean {
  return (
    id.startsWith(prefix) &&
    id.length === prefix.length + TIME_CHARS + RANDOM_CHARS &&
    /^[0-9A-HJKMNP-TV-Z]+$/.test(id.slice(prefix.length))
  );
}
