// Property tests of subscription and stream filters: any document a client can send either
// compiles or is refused with located errors, compiling never throws, a compiled filter never
// throws on any event, and no accepted $regex can stall the process (a filter runs on every
// event, inside fanout's event loop, for every tenant).
import fc from 'fast-check';
import { compileEventFilter, FILTER_LIMITS, FILTER_OPERATORS } from './event-filter';

// Slow enough to tell a backtracking blow-up from ordinary matching on a busy 2-core machine.
const MATCH_BUDGET_MS = 250;

const keyLike = fc.oneof(
  fc.constantFrom(
    'type',
    'source',
    'id',
    'data',
    'data.total',
    'data.customer.tier',
    'data.tags',
    'data.items.sku',
    '__proto__',
    'constructor',
    'data.__proto__.polluted',
    'prototype',
    'toString',
    'data.constructor.prototype',
    '',
    '.',
    'a..b',
    'data.',
    '$where',
    '$expr',
    '$elemMatch',
    '$options',
    '$',
    'x'.repeat(FILTER_LIMITS.maxPathLength + 1),
  ),
  fc.constantFrom(...FILTER_OPERATORS),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
);

const primitive = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
);

/** Regular expressions built from the pieces that make backtracking engines blow up. */
const regexSource: fc.Arbitrary<string> = fc.letrec<{ re: string; term: string }>((tie) => ({
  re: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tie('term'),
    fc.array(tie('term'), { minLength: 2, maxLength: 4 }).map((terms) => terms.join('')),
    fc.tuple(tie('re'), tie('re')).map(([a, b]) => `${a}|${b}`),
  ),
  term: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc
      .tuple(
        fc.constantFrom('a', 'b', '.', '\\w', '\\d', '\\s', '[ab]', '[^!]', 'a?', '^', '$'),
        fc.constantFrom('', '', '*', '+', '?', '{2,}', '{1,8}', '*?'),
      )
      .map(([atom, quantifier]) => (atom === '^' || atom === '$' ? atom : atom + quantifier)),
    fc
      .tuple(tie('re'), fc.constantFrom('', '*', '+', '{2,}', '{1,10}', '?'))
      .map(([inner, quantifier]) => `(${inner})${quantifier}`),
    fc
      .tuple(tie('re'), fc.constantFrom('*', '+', '{2,}'))
      .map(([inner, quantifier]) => `(?:${inner})${quantifier}`),
  ),
})).re;

const operand: fc.Arbitrary<unknown> = fc.letrec<{ operand: unknown; query: unknown }>((tie) => ({
  operand: fc.oneof(
    { depthSize: 'small' },
    primitive,
    fc.array(primitive, { maxLength: 4 }),
    regexSource,
    fc.dictionary(
      fc.oneof(fc.constantFrom(...FILTER_OPERATORS, '$options'), keyLike),
      tie('operand'),
      { maxKeys: 3 },
    ),
    fc.array(tie('query'), { maxLength: 3 }),
    fc.jsonValue({ maxDepth: 2 }),
  ),
  query: fc.dictionary(keyLike, tie('operand'), { maxKeys: 4 }),
})).query;

/** Mostly well-formed filters with one thing wrong here and there, plus plain junk. */
const filterDocument: fc.Arbitrary<unknown> = fc.oneof(
  operand,
  fc.record({
    'data.note': fc.record({ $regex: regexSource, $options: fc.constantFrom('', 'i', 'ims', 'x') }),
  }),
  fc.anything({ maxDepth: 3 }),
  fc.jsonValue({ maxDepth: 4 }),
  fc.constantFrom(
    JSON.parse('{"__proto__": {"polluted": true}}') as unknown,
    JSON.parse('{"data.x": {"__proto__": {"$gt": 1}}}') as unknown,
    JSON.parse('{"constructor": {"prototype": {"polluted": true}}}') as unknown,
    { $and: Array.from({ length: 500 }, (_, i) => ({ [`f${i}`]: i })) },
    { 'data.x': { $in: Array.from({ length: 10_000 }, (_, i) => i) } },
  ),
);

/** CloudEvent-shaped documents with arbitrary data, including the awkward keys. */
const eventDocument = fc.record({
  type: fc.oneof(fc.constant('order.created'), fc.string()),
  source: fc.string(),
  id: fc.string(),
  data: fc.oneof(
    fc.jsonValue({ maxDepth: 4 }),
    fc.dictionary(
      fc.constantFrom('total', 'note', 'tags', '__proto__', 'constructor'),
      fc.jsonValue(),
    ),
    fc.anything({ maxDepth: 3 }),
  ),
});

/** Strings that make a backtracking engine try every way to split a run of one character. */
const ADVERSARIAL_INPUTS = [
  'a'.repeat(26) + '!',
  'ab'.repeat(13) + '!',
  '1'.repeat(26) + '!',
  ' '.repeat(26) + '!',
  'a'.repeat(20_000) + '!',
];

function timeToMatch(filter: unknown): number {
  const compiled = compileEventFilter(filter);
  if (!compiled.ok) return 0;
  const once = () => {
    const started = performance.now();
    for (const note of ADVERSARIAL_INPUTS) compiled.matches({ type: 'x', data: { note } });
    return performance.now() - started;
  };
  // A pause of the whole machine (GC, a busy neighbour) can slow one run; a blow-up slows both.
  const first = once();
  return first < MATCH_BUDGET_MS ? first : Math.min(first, once());
}

describe('event filters under arbitrary input', () => {
  it('compile or refuse with located messages, never throw, and never change Object.prototype', () => {
    let accepted = 0;
    fc.assert(
      fc.property(filterDocument, (filter) => {
        const result = compileEventFilter(filter);
        if (result.ok) {
          accepted += 1;
          expect(typeof result.matches).toBe('function');
        } else {
          expect(result.errors.length).toBeGreaterThan(0);
          for (const error of result.errors) {
            expect(typeof error.pointer).toBe('string');
            expect(error.pointer === '' || error.pointer.startsWith('/')).toBe(true);
            expect(typeof error.message).toBe('string');
            expect(error.message.length).toBeGreaterThan(0);
          }
        }
        expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
      }),
      { seed: 20260101, numRuns: 3000 },
    );
    // Both outcomes must be exercised, or the property proves little.
    expect(accepted).toBeGreaterThan(300);
    expect(accepted).toBeLessThan(2700);
  });

  it('evaluate any event to true or false without throwing', () => {
    let matched = 0;
    fc.assert(
      fc.property(filterDocument, fc.array(eventDocument, { maxLength: 5 }), (filter, events) => {
        const result = compileEventFilter(filter);
        if (!result.ok) return;
        for (const event of events) {
          const verdict = result.matches(event);
          expect(typeof verdict).toBe('boolean');
          if (verdict) matched += 1;
        }
        expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
      }),
      { seed: 20260102, numRuns: 2000 },
    );
    expect(matched).toBeGreaterThan(50);
  });

  it('never accept a $regex that takes long to match (ReDoS)', () => {
    let accepted = 0;
    fc.assert(
      fc.property(regexSource, fc.constantFrom('', 'i', 's'), (pattern, options) => {
        const filter = { 'data.note': { $regex: pattern, $options: options } };
        if (compileEventFilter(filter).ok) accepted += 1;
        expect(timeToMatch(filter)).toBeLessThan(MATCH_BUDGET_MS);
      }),
      // No shrinking: each shrink step would run the slow match again.
      { seed: 20260103, numRuns: 400, endOnFailure: true },
    );
    // Some are refused (RE2 caps nested repetition at 1000); most must be matched.
    expect(accepted).toBeGreaterThan(200);
  });

  it.each([
    '^(a|a)*$',
    '^((a+))+$',
    '^(a|aa)+$',
    '(a|a)*b',
    '^(\\w+\\s?)*$',
    '^([a-z0-9]+[.-]?)+@',
    '(.*a){12}',
    '(x+x+)+y',
    '.*.*.*.*.*.*.*.*!x',
    '^(([a-z])+.)+[A-Z]([a-z])+$',
  ])('%s matches in linear time', (pattern) => {
    expect(compileEventFilter({ 'data.note': { $regex: pattern } }).ok).toBe(true);
    expect(timeToMatch({ 'data.note': { $regex: pattern } })).toBeLessThan(MATCH_BUDGET_MS);
    expect(timeToMatch({ 'data.note': { $not: { $regex: pattern, $options: 'i' } } })).toBeLessThan(
      MATCH_BUDGET_MS,
    );
  });
});
