import Ajv, { type ValidateFunction } from 'ajv';
import {
  cleanSchema,
  holdsAtMost,
  isExtensionKeyword,
  MAX_LISTED_VIOLATIONS,
  MAX_VALUES_FULLY_CHECKED,
  PayloadValidatorCompiler,
  RecursiveSchemaError,
} from './payload.validator';

describe('cleanSchema', () => {
  it('drops extension keywords but keeps property names and instance data that look like them', () => {
    const schema = {
      type: 'object',
      'x-parser-schema-id': 'thing',
      'x-herald-note': 'internal',
      required: ['x-total'],
      properties: { 'x-total': { type: 'integer', 'x-unit': 'cents' } },
      examples: [{ 'x-total': 5 }],
      default: { 'x-total': 0 },
    };
    expect(cleanSchema(schema, isExtensionKeyword)).toEqual({
      type: 'object',
      required: ['x-total'],
      properties: { 'x-total': { type: 'integer' } },
      examples: [{ 'x-total': 5 }],
      default: { 'x-total': 0 },
    });
  });

  it('copies shared sub-schemas but refuses a schema that contains itself', () => {
    const shared = { type: 'string' };
    expect(cleanSchema({ properties: { a: shared, b: shared } }, isExtensionKeyword)).toEqual({
      properties: { a: { type: 'string' }, b: { type: 'string' } },
    });
    const recursive: Record<string, unknown> = { type: 'object' };
    recursive.properties = { child: recursive };
    expect(() => cleanSchema(recursive, isExtensionKeyword)).toThrow(RecursiveSchemaError);
  });
});

describe('PayloadValidatorCompiler', () => {
  const compiler = new PayloadValidatorCompiler();

  it('escapes odd property names in pointers', () => {
    const validate = compiler.compile({
      type: 'object',
      additionalProperties: false,
      required: ['a/b'],
      properties: { 'a/b': { type: 'string' } },
    });
    expect(validate({ 'c~d': 1 })).toEqual({
      ok: false,
      errors: [
        { pointer: '/a~1b', message: 'is required' },
        { pointer: '/c~0d', message: 'is not allowed here' },
      ],
    });
  });

  it('lists the first 100 violations and counts the rest', () => {
    const validate = compiler.compile({
      type: 'array',
      items: { type: 'object', required: ['dish'], properties: { dish: { type: 'string' } } },
    });
    const many = validate(Array.from({ length: 1500 }, () => ({})));
    expect(many.ok).toBe(false);
    if (many.ok) return;
    expect(many.errors).toHaveLength(MAX_LISTED_VIOLATIONS);
    expect(many.errors[0]).toEqual({ pointer: '/0/dish', message: 'is required' });
    expect(many.errors[99]).toEqual({ pointer: '/99/dish', message: 'is required' });
    expect(many.errorCount).toBe(1500);
    // A complete list carries no count.
    expect(validate([{}, {}])).toEqual({
      ok: false,
      errors: [
        { pointer: '/0/dish', message: 'is required' },
        { pointer: '/1/dish', message: 'is required' },
      ],
    });
  });

  describe('a payload too large to collect every violation of', () => {
    const dishes = {
      type: 'array',
      items: {
        type: 'object',
        required: ['dish', 'table', 'guests'],
        properties: {
          dish: { type: 'string' },
          table: { type: 'integer' },
          guests: { type: 'integer' },
        },
      },
    };
    // Violations ajv allocated, by validation (ajv keeps each one until the validation ends).
    let produced: number[];
    let validate: ReturnType<PayloadValidatorCompiler['compile']>;

    beforeAll(() => {
      produced = [];
      const compile = Ajv.prototype.compile;
      const spy = jest.spyOn(Ajv.prototype, 'compile').mockImplementation(function (
        this: Ajv,
        ...args: Parameters<Ajv['compile']>
      ) {
        const inner = compile.apply(this, args);
        const counting = ((data: unknown) => {
          const valid = inner(data);
          counting.errors = inner.errors;
          produced.push(inner.errors?.length ?? 0);
          return valid;
        }) as ValidateFunction;
        return counting;
      });
      try {
        validate = new PayloadValidatorCompiler().compile(dishes);
      } finally {
        spy.mockRestore();
      }
    });
    beforeEach(() => {
      produced = [];
    });

    it('is checked with bounded work up to its first violation, the count a lower bound', () => {
      // 240 KB in which every one of 80,000 items misses its three fields: 240,000 violations.
      const hostile = Array.from({ length: 80_000 }, () => ({}));
      expect(JSON.stringify(hostile).length).toBeGreaterThan(200 * 1024);
      const result = validate(hostile);
      expect(result).toEqual({
        ok: false,
        errors: [{ pointer: '/0/dish', message: 'is required' }],
        errorCount: 1,
        errorCountIsLowerBound: true,
      });
      // One validation that stopped at the first violation; none collecting all 240,000.
      expect(produced).toEqual([1]);
    });

    it('still names its first violation when that is far into it', () => {
      const long: Record<string, unknown>[] = Array.from({ length: 5_000 }, () => ({
        dish: 'soup',
        table: 1,
        guests: 2,
      }));
      long[4_321] = { dish: 'soup', table: 'by the window', guests: 2 };
      expect(validate(long)).toEqual({
        ok: false,
        errors: [{ pointer: '/4321/table', message: 'must be integer' }],
        errorCount: 1,
        errorCountIsLowerBound: true,
      });
      expect(validate(long.slice(0, 4_321))).toEqual({ ok: true });
      expect(produced).toEqual([1, 0]);
    });

    it('is told from one whose violations are all collected by its count of values', () => {
      // The array and its items: MAX_VALUES_FULLY_CHECKED values, each item missing 3 fields.
      const largest = Array.from({ length: MAX_VALUES_FULLY_CHECKED - 1 }, () => ({}));
      const full = validate(largest);
      expect(full).toMatchObject({ ok: false, errorCount: 3 * largest.length });
      expect(full).not.toHaveProperty('errorCountIsLowerBound');
      expect(Math.max(...produced)).toBe(3 * largest.length);
      const partial = validate([...largest, {}]);
      expect(partial).toMatchObject({ ok: false, errorCount: 1, errorCountIsLowerBound: true });
    });
  });

  it('tolerates AsyncAPI documentation keywords and refuses unknown ones', () => {
    expect(() =>
      compiler.compile({
        type: 'string',
        examples: ['x'],
        externalDocs: { url: 'https://example.com' },
        deprecated: true,
      }),
    ).not.toThrow();
    expect(() => compiler.compile({ type: 'object', requried: ['a'] })).toThrow(/unknown keyword/);
  });

  it('reports a value outside a union of types at the field', () => {
    const validate = compiler.compile({
      type: 'object',
      properties: { next: { type: ['string', 'null'], format: 'date-time' } },
    });
    expect(validate({ next: null })).toEqual({ ok: true });
    expect(validate({ next: 'tomorrow' })).toEqual({
      ok: false,
      errors: [{ pointer: '/next', message: 'must be a valid date-time' }],
    });
  });

  it('counts only fields of the payload itself, not what every object inherits', () => {
    const validate = compiler.compile({
      type: 'object',
      required: ['constructor', 'toString'],
      properties: { constructor: { description: 'who made it' }, toString: { type: 'string' } },
      dependencies: { valueOf: ['hasOwnProperty'] },
    });
    expect(validate({})).toEqual({
      ok: false,
      errors: [
        { pointer: '/constructor', message: 'is required' },
        { pointer: '/toString', message: 'is required' },
      ],
    });
    expect(validate(JSON.parse('{"constructor": 1, "toString": "x"}'))).toEqual({ ok: true });
    expect(validate(JSON.parse('{"constructor": 1, "toString": "x", "valueOf": 2}'))).toEqual({
      ok: false,
      errors: [{ pointer: '/hasOwnProperty', message: 'is required when "valueOf" is present' }],
    });
  });
});

describe('holdsAtMost', () => {
  it('counts every JSON value, the payload itself too, and only own properties', () => {
    const payload = { a: [1, 'two', null], b: { c: true } }; // 7 values
    expect(holdsAtMost(payload, 7)).toBe(true);
    expect(holdsAtMost(payload, 6)).toBe(false);
    expect(holdsAtMost('text', 1)).toBe(true);
    expect(holdsAtMost(Object.create({ inherited: 1 }) as unknown, 1)).toBe(true);
  });

  it('stops at the limit, however large or cyclic the payload', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(holdsAtMost(cyclic, 100)).toBe(false);
    expect(holdsAtMost(new Array(1_000_000).fill(0), 100)).toBe(false);
  });
});
