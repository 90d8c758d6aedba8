import {
  parseBoundedInt,
  parseFilter,
  parseFrom,
  parseStart,
  parseTypes,
  resolveTypes,
} from './stream-request';
import {
  InvalidStreamFilterError,
  InvalidStreamRequestError,
  StreamTypesForbiddenError,
  UnknownStreamTypesError,
} from './streams.errors';
import { encodeCursor, topicPartitionKey, InvalidCursorError } from '@herald/kafka';

const TYPES = ['kitchen.step', 'order.created', 'order.paid', 'payment.captured'];
const catalog = {
  eventTypes: () => TYPES,
  matchTypes: (pattern: string) =>
    TYPES.filter((t) =>
      new RegExp(`^${pattern.replace(/\./g, '\\.').replace(/\*/g, '[^.]+')}$`).test(t),
    ),
};
const everything = { allows: () => true };
const ordersOnly = { allows: (_scope: string, type: string) => type.startsWith('order.') };

describe('stream request parsing', () => {
  it('reads types from a comma list or an array, and refuses bad globs with a pointer', () => {
    expect(parseTypes('order.*, kitchen.step')).toEqual(['order.*', 'kitchen.step']);
    expect(parseTypes(['order.*'])).toEqual(['order.*']);
    expect(parseTypes(undefined)).toBeUndefined();
    expect(() => parseTypes('order.x*')).toThrow(InvalidStreamRequestError);
    expect(() => parseTypes(42)).toThrow(InvalidStreamRequestError);
  });

  it('expands globs, refuses globs that match nothing, and types outside the key', () => {
    expect([...resolveTypes(['order.*'], catalog, everything)]).toEqual([
      'order.created',
      'order.paid',
    ]);
    expect(() => resolveTypes(['invoice.*'], catalog, everything)).toThrow(UnknownStreamTypesError);
    expect(() => resolveTypes(['*.*'], catalog, ordersOnly)).toThrow(StreamTypesForbiddenError);
    expect([...resolveTypes(undefined, catalog, ordersOnly)]).toEqual([
      'order.created',
      'order.paid',
    ]);
    expect(() => resolveTypes(undefined, catalog, { allows: () => false })).toThrow(
      StreamTypesForbiddenError,
    );
  });

  it('compiles filters from JSON text or objects and points at what is wrong', () => {
    const matches = parseFilter('{"data.total":{"$gt":100}}')!;
    expect(matches({ data: { total: 101 } })).toBe(true);
    expect(matches({ data: { total: 99 } })).toBe(false);
    expect(parseFilter(undefined)).toBeNull();
    expect(() => parseFilter('{nope')).toThrow(InvalidStreamFilterError);
    try {
      parseFilter({ 'data.total': { $gtt: 1 } });
      throw new Error('expected a refusal');
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidStreamFilterError);
      expect((error as InvalidStreamFilterError).details?.errors).toEqual([
        expect.objectContaining({ pointer: '/data.total/$gtt' }),
      ]);
    }
  });

  it('reads from as latest, earliest or an RFC 3339 time', () => {
    expect(parseFrom(undefined)).toBe('latest');
    expect(parseFrom('earliest')).toBe('earliest');
    expect(parseFrom('2026-01-02T03:04:05.5+01:00')).toEqual({
      timeMs: Date.parse('2026-01-02T02:04:05.500Z'),
    });
    expect(() => parseFrom('yesterday')).toThrow(InvalidStreamRequestError);
    expect(() => parseFrom('2026-02-30T00:00:00Z')).toThrow(InvalidStreamRequestError);
  });

  it('prefers the first cursor given, and refuses a malformed one', () => {
    const cursor = encodeCursor(new Map([[topicPartitionKey('t', 0), 5n]]));
    expect(parseStart([undefined, cursor], 'earliest')).toEqual({
      cursor: new Map([[topicPartitionKey('t', 0), 5n]]),
      text: cursor,
    });
    expect(parseStart(['', undefined], 'earliest')).toEqual({ from: 'earliest' });
    expect(() => parseStart(['garbage!'], undefined)).toThrow(InvalidCursorError);
  });

  it('bounds whole-number parameters', () => {
    expect(parseBoundedInt(undefined, 'wait', { min: 0, max: 30, fallback: 30 })).toBe(30);
    expect(parseBoundedInt('5', 'wait', { min: 0, max: 30, fallback: 30 })).toBe(5);
    expect(() => parseBoundedInt('31', 'wait', { min: 0, max: 30, fallback: 30 })).toThrow(
      InvalidStreamRequestError,
    );
    expect(() => parseBoundedInt('1.5', 'limit', { min: 1, max: 9, fallback: 1 })).toThrow(
      InvalidStreamRequestError,
    );
    // Digits only: what Number() would also read as a number is refused.
    for (const text of ['0x4', '1e1', ' ', ' 5', '+5'])
      expect(() => parseBoundedInt(text, 'limit', { min: 0, max: 30, fallback: 1 })).toThrow(
        InvalidStreamRequestError,
      );
  });
});
