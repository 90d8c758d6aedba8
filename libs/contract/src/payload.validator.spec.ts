import {
  cleanSchema,
  isExtensionKeyword,
  MAX_LISTED_VIOLATIONS,
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
