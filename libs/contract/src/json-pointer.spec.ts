import { escapeJsonPointerSegment, parseJsonPointer, resolveJsonPointer } from './json-pointer';

describe('JSON pointers', () => {
  it('parses and unescapes segments (RFC 6901)', () => {
    expect(parseJsonPointer('')).toEqual([]);
    expect(parseJsonPointer('/orderId')).toEqual(['orderId']);
    expect(parseJsonPointer('/a~1b/c~0d/')).toEqual(['a/b', 'c~d', '']);
  });

  it('rejects what is not a pointer', () => {
    expect(parseJsonPointer('orderId')).toBeUndefined();
    expect(parseJsonPointer('/a~2')).toBeUndefined();
    expect(parseJsonPointer('/a~')).toBeUndefined();
  });

  it('escapes segments so that parsing round-trips', () => {
    const segment = 'odd/~name';
    expect(parseJsonPointer(`/${escapeJsonPointerSegment(segment)}`)).toEqual([segment]);
  });

  it('resolves into objects and arrays, and only own properties', () => {
    const value = { customer: { id: 'c1' }, items: [{ sku: 'A' }, { sku: 'B' }] };
    expect(resolveJsonPointer(value, ['customer', 'id'])).toBe('c1');
    expect(resolveJsonPointer(value, ['items', '1', 'sku'])).toBe('B');
    expect(resolveJsonPointer(value, ['items', '01'])).toBeUndefined();
    expect(resolveJsonPointer(value, ['items', '-'])).toBeUndefined();
    expect(resolveJsonPointer(value, ['missing', 'id'])).toBeUndefined();
    expect(resolveJsonPointer(value, ['customer', 'toString'])).toBeUndefined();
    expect(resolveJsonPointer('text', ['length'])).toBeUndefined();
  });
});
