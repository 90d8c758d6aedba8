// A second look at JSON text that JSON.parse has accepted, for what the parsed value loses: where
// each value's text is (so an event's data, and a numeric partition key, are written as the
// producer's own characters, not as JSON.stringify of a double: 12345678901234567890, -0, 1.0 and
// "\u00e9" stay as sent), and whether an object repeats a member name (JSON.parse keeps the last
// one silently; another reader of the same bytes may keep the first). Iterative, so nesting
// JSON.parse takes cannot overflow it.

/** Where a value's text is: `text.slice(start, end)`, in UTF-16 code units of the text. */
export interface JsonSpan {
  start: number;
  end: number;
}

export interface JsonTextScan {
  /** JSON pointer to the first member whose name its object already had, if any. */
  duplicate?: string;
  /** The spans of the values `wanted` chose, by JSON pointer ('' for the whole text). */
  spans: Map<string, JsonSpan>;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

interface Frame {
  /** The member names seen so far; undefined for an array. */
  names: Set<string> | undefined;
  index: number;
  start: number;
  wanted: boolean;
}

function isWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}

function skipWhitespace(text: string, i: number): number {
  while (i < text.length && isWhitespace(text.charCodeAt(i))) i++;
  return i;
}

/** The index just past the string starting at `i` (its opening quote). */
function endOfString(text: string, i: number): number {
  // indexOf walks long strings far faster than a loop: a quote ends the string unless an odd
  // number of backslashes escapes it.
  for (let quote = text.indexOf('"', i + 1); quote !== -1; quote = text.indexOf('"', quote + 1)) {
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
  }
  return text.length;
}

/** The index just past the string, number, or literal starting at `i`. */
function endOfScalar(text: string, i: number): number {
  if (text.charCodeAt(i) === QUOTE) return endOfString(text, i);
  let j = i;
  while (j < text.length) {
    const code = text.charCodeAt(j);
    if (code === COMMA || code === CLOSE_OBJECT || code === CLOSE_ARRAY || isWhitespace(code))
      break;
    j++;
  }
  return j;
}

export function jsonPointer(path: readonly string[]): string {
  return path.map((segment) => `/${segment.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

export interface JsonTextScanOptions {
  /**
   * Stop at the first span found (default false): for a look-up of one value, which then costs
   * only the text up to it. Repeated member names past that point are not looked for.
   */
  firstSpanOnly?: boolean;
}

/**
 * Scans `text`, which must be JSON that JSON.parse accepted (it is not validated again), for the
 * spans of the values `wanted` picks by path and for the first repeated member name; it stops
 * at that one. Names are compared as JSON.parse reads them: `"a"` and `"\u0061"` are the same.
 */
export function scanJsonText(
  text: string,
  wanted: (path: readonly string[]) => boolean = () => false,
  { firstSpanOnly = false }: JsonTextScanOptions = {},
): JsonTextScan {
  const spans = new Map<string, JsonSpan>();
  const path: string[] = [];
  const frames: Frame[] = [];
  let i = skipWhitespace(text, 0);

  /** Reads the member name at `i` into `path`, returning where its value starts; false on a repeat. */
  const memberName = (frame: Frame): number | false => {
    const end = endOfString(text, i);
    const raw = text.slice(i, end);
    const name = raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
    path.push(name);
    if (frame.names!.has(name)) return false;
    frame.names!.add(name);
    const colon = skipWhitespace(text, end);
    return skipWhitespace(text, text.charCodeAt(colon) === COLON ? colon + 1 : colon);
  };

  for (;;) {
    // `i` is where the value at `path` starts.
    const start = i;
    const code = text.charCodeAt(i);
    if (code === OPEN_OBJECT || code === OPEN_ARRAY) {
      const object = code === OPEN_OBJECT;
      const frame: Frame = {
        names: object ? new Set() : undefined,
        index: 0,
        start,
        wanted: wanted(path),
      };
      i = skipWhitespace(text, i + 1);
      if (text.charCodeAt(i) !== (object ? CLOSE_OBJECT : CLOSE_ARRAY)) {
        frames.push(frame);
        if (object) {
          const next = memberName(frame);
          if (next === false) return { duplicate: jsonPointer(path), spans };
          i = next;
        } else path.push('0');
        continue;
      }
      i += 1;
      if (frame.wanted) {
        spans.set(jsonPointer(path), { start, end: i });
        if (firstSpanOnly) return { spans };
      }
    } else {
      i = endOfScalar(text, i);
      if (wanted(path)) {
        spans.set(jsonPointer(path), { start, end: i });
        if (firstSpanOnly) return { spans };
      }
    }
    // A value ended at `i`: the next member or element, or the end of its containers.
    for (;;) {
      const frame = frames.at(-1);
      if (!frame) return { spans };
      i = skipWhitespace(text, i);
      path.pop();
      if (text.charCodeAt(i) === COMMA) {
        i = skipWhitespace(text, i + 1);
        if (frame.names) {
          const next = memberName(frame);
          if (next === false) return { duplicate: jsonPointer(path), spans };
          i = next;
        } else {
          frame.index += 1;
          path.push(String(frame.index));
        }
        break;
      }
      i += 1; // the closing bracket
      frames.pop();
      if (frame.wanted) {
        spans.set(jsonPointer(path), { start: frame.start, end: i });
        if (firstSpanOnly) return { spans };
      }
    }
  }
}

/**
 * The text of the value at `path` (unescaped segments, array indexes as decimal numbers) in
 * `text`, JSON that JSON.parse accepted without repeated member names, as written; undefined
 * when `text` has no value there. Scans the text up to that value (all of it when there is none).
 */
export function jsonTextAt(text: string, path: readonly string[]): string | undefined {
  const { spans } = scanJsonText(
    text,
    (at) => at.length === path.length && at.every((segment, i) => segment === path[i]),
    { firstSpanOnly: true },
  );
  const span = spans.get(jsonPointer(path));
  return span && text.slice(span.start, span.end);
}
