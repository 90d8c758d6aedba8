// Property tests of scanJsonText on JSON texts built piece by piece, so each value's span and the
// first repeated member name are known by construction: every span it reports is exactly the
// value's text (ingest writes those characters to Kafka as the event's data), the whole-text span
// is the text without the whitespace around it, a repeated name is reported if and only if there
// is one (however its characters are escaped) at the right JSON pointer, and it never throws on
// text JSON.parse accepted, however deep the nesting.
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { scanJsonText, type JsonSpan } from './json-text.scanner';

type Node =
  | { kind: 'scalar'; text: string }
  | { kind: 'array'; items: Node[] }
  | { kind: 'object'; members: Member[] };

interface Member {
  /** The name as JSON.parse reads it. */
  name: string;
  /** The name as written, quotes included. */
  text: string;
  value: Node;
}

/** All four kinds of JSON whitespace, and none. */
const whitespace = fc.constantFrom('', '', ' ', '\t', '\n', '\r', '\r\n', ' \t\n\r ');

/** Short escapes JSON has, by the character they stand for. */
const SHORT_ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '/': '\\/',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

/** One UTF-16 unit written literally if JSON allows, else (or by `style`) escaped. */
function encodeUnit(unit: string, style: number): string {
  const code = unit.charCodeAt(0);
  const hex = code.toString(16).padStart(4, '0');
  const literal = code >= 0x20 && unit !== '"' && unit !== '\\';
  switch (style) {
    case 0:
      if (literal) return unit;
      break;
    case 1:
      if (SHORT_ESCAPES[unit]) return SHORT_ESCAPES[unit];
      break;
    case 2:
      return `\\u${hex}`;
    default:
      return `\\u${hex.toUpperCase()}`;
  }
  return SHORT_ESCAPES[unit] ?? `\\u${hex}`;
}

/** A JSON string literal for `value`, each unit written the way `styles` picks (cycled). */
function encodeString(value: string, styles: readonly number[]): string {
  let text = '"';
  for (let i = 0; i < value.length; i++) text += encodeUnit(value[i]!, styles[i % styles.length]!);
  return `${text}"`;
}

const styles = fc.array(fc.nat(3), { minLength: 1, maxLength: 8 });

/** Pieces of string content: the escapable, surrogate pairs and lone halves, anything else. */
const stringPiece = fc.oneof(
  fc.constantFrom('"', '\\', '/', '\b', '\f', '\n', '\r', '\t', '\u0000', '\u001f', '\u007f'),
  fc.constantFrom('a', 'é', '\u2028', '\u00a0', '\ufeff', '~', ' ', '😀', '\ud83d', '\ude00'),
  fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)),
);
const stringValue = fc
  .tuple(fc.array(stringPiece, { maxLength: 12 }), styles)
  .map(([pieces, s]) => encodeString(pieces.join(''), s));

/** Names from a small pool so that objects repeat them, written literally or escaped. */
const NAMES = [
  'a',
  'b',
  'data',
  '',
  '~',
  '/',
  '~1',
  'a/b~c',
  '__proto__',
  'é',
  '😀',
  '"',
  '\\',
  '\u0000',
];
const memberName = fc
  .tuple(fc.constantFrom(...NAMES), styles)
  .map(([name, s]) => ({ name, text: encodeString(name, s) }));

const digits = (minLength: number, maxLength: number) =>
  fc.array(fc.constantFrom(...'0123456789'), { minLength, maxLength }).map((d) => d.join(''));
/** Every shape of JSON number: -0, 0.0, 12345678901234567890, 1.0E-5, 1e400, 5e-400. */
const numberValue = fc.oneof(
  fc.constantFrom('0', '-0', '-0.0', '1e400', '-1e400', '5e-400', '12345678901234567890', '1.0E-5'),
  fc
    .tuple(
      fc.boolean(),
      fc.oneof(fc.constant('0'), fc.tuple(fc.constantFrom(...'123456789'), digits(0, 24))),
      fc.option(digits(1, 20)),
      fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), digits(1, 4))),
    )
    .map(([negative, integer, fraction, exponent]) => {
      const whole = typeof integer === 'string' ? integer : integer.join('');
      return (
        (negative ? '-' : '') +
        whole +
        (fraction === null ? '' : `.${fraction}`) +
        (exponent === null ? '' : exponent.join(''))
      );
    }),
);

const scalar: fc.Arbitrary<Node> = fc
  .oneof(stringValue, numberValue, fc.constantFrom('true', 'false', 'null'))
  .map((text) => ({ kind: 'scalar', text }));

const { node } = fc.letrec<{ node: Node }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('node'), { maxLength: 5 }).map((items): Node => ({ kind: 'array', items })),
    fc
      .oneof(
        // Distinct names, so that many texts have no repeat at all.
        fc.uniqueArray(fc.record({ key: memberName, value: tie('node') }), {
          maxLength: 5,
          selector: (member) => member.key.name,
        }),
        fc.array(fc.record({ key: memberName, value: tie('node') }), { maxLength: 5 }),
      )
      .map((members): Node => ({
        kind: 'object',
        members: members.map(({ key, value }) => ({ ...key, value })),
      })),
  ),
}));

/** RFC 6901, written out apart from the scanner's. */
function pointerOf(path: readonly string[]): string {
  return path.map((segment) => `/${segment.split('~').join('~0').split('/').join('~1')}`).join('');
}

interface Expected {
  text: string;
  /** Each value's path and span, by pointer; the first of two values at one pointer. */
  values: Map<string, { path: string[]; span: JsonSpan }>;
  /** The pointer of the first member whose name its object already had, in text order. */
  duplicate?: string;
}

/** Writes `root` with whitespace from `gaps` (cycled) around every token. */
function serialize(root: Node, gaps: readonly string[]): Expected {
  let text = '';
  let gap = 0;
  const space = () => {
    text += gaps[gap++ % gaps.length]!;
  };
  const values: Expected['values'] = new Map();
  let duplicate: string | undefined;
  const write = (value: Node, path: string[]): void => {
    const start = text.length;
    if (value.kind === 'scalar') text += value.text;
    else if (value.kind === 'array') {
      text += '[';
      space();
      value.items.forEach((item, index) => {
        if (index > 0) {
          text += ',';
          space();
        }
        write(item, [...path, String(index)]);
        space();
      });
      text += ']';
    } else {
      const names = new Set<string>();
      text += '{';
      space();
      value.members.forEach((member, index) => {
        if (index > 0) {
          text += ',';
          space();
        }
        const memberPath = [...path, member.name];
        if (names.has(member.name)) duplicate ??= pointerOf(memberPath);
        names.add(member.name);
        text += member.text;
        space();
        text += ':';
        space();
        write(member.value, memberPath);
        space();
      });
      text += '}';
    }
    const pointer = pointerOf(path);
    if (!values.has(pointer)) values.set(pointer, { path, span: { start, end: text.length } });
  };
  space();
  write(root, []);
  space();
  return { text, values, duplicate };
}

const document = fc
  .tuple(node, fc.array(whitespace, { minLength: 1, maxLength: 16 }))
  .map(([root, gaps]) => serialize(root, gaps));

/** The value JSON.parse gives at `path`, own members only. */
function valueAt(value: unknown, path: readonly string[]): unknown {
  for (const segment of path) {
    if (!Object.prototype.hasOwnProperty.call(value, segment)) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

/** `text` without JSON's four whitespace characters around it (String#trim removes more). */
function trimJsonWhitespace(text: string): string {
  return text.replace(/^[ \t\n\r]+|[ \t\n\r]+$/g, '');
}

describe('scanJsonText on generated JSON text', () => {
  it('reports each value at its exact span and a repeated name iff there is one, at its pointer', () => {
    let repeats = 0;
    let clean = 0;
    fc.assert(
      fc.property(document, ({ text, values, duplicate }) => {
        const parsed = JSON.parse(text) as unknown;
        const scan = scanJsonText(text, () => true);
        expect(scan.duplicate).toBe(duplicate);
        if (duplicate !== undefined) {
          repeats++;
          // It stops at the repeat; whatever it reported before is still exact.
          expect(
            [...scan.spans].filter(
              ([pointer, span]) => !isDeepStrictEqual(span, values.get(pointer)?.span),
            ),
          ).toEqual([]);
          return;
        }
        clean++;
        expect(Object.fromEntries(scan.spans)).toEqual(
          Object.fromEntries([...values].map(([pointer, { span }]) => [pointer, span])),
        );
        // Strict deep equality tells -0 from 0: the span's text is the value, not a lookalike.
        const unlike = [...values]
          .filter(([, { path, span }]) => {
            const spanned = JSON.parse(text.slice(span.start, span.end)) as unknown;
            return !isDeepStrictEqual(spanned, valueAt(parsed, path));
          })
          .map(([pointer]) => pointer);
        expect(unlike).toEqual([]);
        const whole = scan.spans.get('')!;
        expect(text.slice(whole.start, whole.end)).toBe(trimJsonWhitespace(text));
      }),
      { seed: 0x5ca1, numRuns: 3000 },
    );
    // Both outcomes must be common, or the property above says little about one of them.
    expect(repeats).toBeGreaterThan(300);
    expect(clean).toBeGreaterThan(300);
  });

  it('reports the values picked by path and no others, and the repeat whatever is picked', () => {
    const pickers: ((path: readonly string[]) => boolean)[] = [
      () => false,
      (path) => path.length === 0,
      (path) => path.length === 1 && path[0] === 'data',
      (path) => path.length === 2 && path[1] === 'data',
      (path) => path.length % 2 === 1,
      (path) => path.at(-1) === '~' || path.at(-1) === '/',
    ];
    fc.assert(
      fc.property(document, fc.nat(pickers.length - 1), ({ text, values, duplicate }, which) => {
        const wanted = pickers[which]!;
        const scan = scanJsonText(text, wanted);
        expect(scan.duplicate).toBe(duplicate);
        if (duplicate !== undefined) return;
        const expected = [...values].filter(([, { path }]) => wanted(path));
        expect(Object.fromEntries(scan.spans)).toEqual(
          Object.fromEntries(expected.map(([pointer, { span }]) => [pointer, span])),
        );
      }),
      { seed: 0x5ca2, numRuns: 2000 },
    );
  });

  it('never throws on what JSON.parse accepts from JSON.stringify of any value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(undefined, 1, '\t', '\r\n'), (value, indent) => {
        const text = JSON.stringify(value, null, indent);
        const scan = scanJsonText(text, (path) => path.length <= 1);
        expect(scan.duplicate).toBeUndefined();
        for (const [, span] of scan.spans) JSON.parse(text.slice(span.start, span.end));
        expect(scan.spans.get('')).toEqual({ start: 0, end: text.length });
      }),
      { seed: 0x5ca3, numRuns: 1000 },
    );
  });

  it('reads nesting tens of thousands deep, objects and arrays mixed, without recursing', () => {
    // A recursive reader overflows the stack long before this depth; JSON.parse does not.
    const depth = 60_000;
    const names = ['a', '\\u0061', '~/', '\\u007e\\/'];
    let open = '';
    let close = '';
    const path: string[] = [];
    for (let level = 0; level < depth; level++) {
      const gap = [' ', '\t', '\n', '\r'][level % 4]!;
      if (level % 3 === 2) {
        open += `[${gap}0,${gap}`;
        close = `${gap}]${close}`;
        path.push('1');
      } else {
        const name = names[level % names.length]!;
        open += `{${gap}"b":0,"${name}"${gap}:${gap}`;
        close = `${gap}}${close}`;
        path.push(JSON.parse(`"${name}"`) as string);
      }
    }
    const innermost = pointerOf(path);
    const text = `${open}"\\"deep\\\\"${close}`;
    JSON.parse(text);
    const scan = scanJsonText(text, (p) => p.length === 0 || p.length === depth);
    expect(scan.duplicate).toBeUndefined();
    expect(scan.spans.get('')).toEqual({ start: 0, end: text.length });
    const span = scan.spans.get(innermost)!;
    expect(text.slice(span.start, span.end)).toBe('"\\"deep\\\\"');

    // The same name again at the bottom, written another way.
    const repeated = `${open}{"~/":1,"\\u007e\\u002f":2}${close}`;
    JSON.parse(repeated);
    expect(scanJsonText(repeated).duplicate).toBe(`${innermost}/~0~1`);
  });
});
