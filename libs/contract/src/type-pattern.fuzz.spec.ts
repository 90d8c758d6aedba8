// Property tests of type globs (subscription `types`, stream `types=`, key scopes): any glob
// either compiles or is refused with InvalidTypePatternError, a compiled glob agrees with a
// plain segment-by-segment matcher on any dotted name, and matching stays fast even for globs
// full of `**` against long names (fanout matches a record's type header, any string, against
// every tenant's globs).
import fc from 'fast-check';
import { InvalidTypePatternError } from './contract.errors';
import { compileTypePattern, validateTypePattern } from './type-pattern';

/** The meaning of a glob, written the slow obvious way: `*` one segment, `**` any number. */
function referenceMatch(pattern: readonly string[], type: readonly string[]): boolean {
  const memo = new Map<string, boolean>();
  const at = (p: number, t: number): boolean => {
    const key = `${p},${t}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let result: boolean;
    if (p === pattern.length) result = t === type.length;
    else if (pattern[p] === '**') result = at(p + 1, t) || (t < type.length && at(p, t + 1));
    else if (t === type.length) result = false;
    else result = (pattern[p] === '*' || pattern[p] === type[t]) && at(p + 1, t + 1);
    memo.set(key, result);
    return result;
  };
  return at(0, 0);
}

const segment = fc.constantFrom('a', 'b', 'order', 'created', 'x-1', 'A_B');
const globSegment = fc.oneof(segment, fc.constantFrom('*', '**'));
const glob = fc.array(globSegment, { minLength: 1, maxLength: 12 }).map((s) => s.join('.'));
const typeName = fc.array(segment, { minLength: 1, maxLength: 30 }).map((s) => s.join('.'));

describe('type globs under arbitrary input', () => {
  it('compile or are refused with InvalidTypePatternError, never anything else', () => {
    fc.assert(
      fc.property(
        fc.oneof(glob, fc.string({ maxLength: 40 }), fc.string({ unit: 'binary' })),
        (text) => {
          const problem = validateTypePattern(text);
          if (problem === undefined) expect(typeof compileTypePattern(text)).toBe('function');
          else expect(() => compileTypePattern(text)).toThrow(InvalidTypePatternError);
        },
      ),
      { seed: 0x9106, numRuns: 2000 },
    );
  });

  it('match exactly what a segment-by-segment reading of the glob matches', () => {
    fc.assert(
      fc.property(glob, typeName, (pattern, type) => {
        expect(compileTypePattern(pattern)(type)).toBe(
          referenceMatch(pattern.split('.'), type.split('.')),
        );
      }),
      { seed: 0x9107, numRuns: 3000 },
    );
  });

  it('match in linear time, however many ** a glob holds and however long the name', () => {
    // Mildest first: on a backtracking engine the first already takes seconds (and fails here),
    // the others longer than anyone waits.
    for (const [stars, segments] of [
      [6, 60],
      [20, 120],
      [40, 120],
    ] as const) {
      const pattern = `${Array.from({ length: stars }, () => '**.a').join('.')}.b`;
      const matches = compileTypePattern(pattern);
      const name = `${Array.from({ length: segments }, () => 'a').join('.')}.c`;
      const started = performance.now();
      expect(matches(name)).toBe(false);
      // Linear matching takes well under a millisecond; the budget leaves room for a loaded CI
      // machine's pauses and still fails a backtracking engine, which takes seconds.
      expect(performance.now() - started).toBeLessThan(500);
    }
  });
});
