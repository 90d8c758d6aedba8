import { InvalidTypePatternError } from './contract.errors';
import { compileTypePattern, isValidEventType, validateTypePattern } from './type-pattern';

describe('compileTypePattern', () => {
  it.each([
    ['order.created', 'order.created', true],
    ['order.created', 'order.cancelled', false],
    ['order.created', 'order.created.v2', false],
    ['order.*', 'order.created', true],
    ['order.*', 'order', false],
    ['order.*', 'order.item.added', false],
    ['order.*', 'orders.created', false],
    ['*.created', 'order.created', true],
    ['*.created', 'payment.created', true],
    ['*.created', 'kitchen.order.created', false],
    ['*', 'ping', true],
    ['*', 'order.created', false],
    ['**', 'order.created', true],
    ['**', 'kitchen.order.ready', true],
    ['**', 'ping', true],
    ['kitchen.**', 'kitchen.order.ready', true],
    ['kitchen.**', 'kitchen', true],
    ['kitchen.**', 'kitchenette.order.ready', false],
    ['**.ready', 'kitchen.order.ready', true],
    ['**.ready', 'ready', true],
    ['**.ready', 'kitchen.order.ready.late', false],
    ['kitchen.**.ready', 'kitchen.ready', true],
    ['kitchen.**.ready', 'kitchen.order.lunch.ready', true],
    ['kitchen.**.ready', 'kitchen.order.plated', false],
    ['herald.*.*', 'herald.delivery.exhausted', true],
    ['herald.*.*', 'herald.ping', false],
    ['*.order.**', 'kitchen.order.ready', true],
    ['**.**', 'a.b.c', true],
    ['order-line.*', 'order-line.added', true],
    ['order_line.*', 'orderXline.added', false],
  ])('%s matches %s: %s', (pattern, type, expected) => {
    expect(compileTypePattern(pattern)(type)).toBe(expected);
  });

  it('never matches an empty type', () => {
    expect(compileTypePattern('**')('')).toBe(false);
    expect(compileTypePattern('*')('')).toBe(false);
  });

  it('throws InvalidTypePatternError for a bad glob', () => {
    expect(() => compileTypePattern('order.***')).toThrow(InvalidTypePatternError);
    expect(() => compileTypePattern('')).toThrow(/Invalid event type pattern "": it is empty/);
  });
});

describe('validateTypePattern', () => {
  it.each(['order.created', 'order.*', '*.created', '**', 'kitchen.**.ready', 'Order_Created-2'])(
    'accepts %s',
    (pattern) => {
      expect(validateTypePattern(pattern)).toBeUndefined();
    },
  );

  it.each([
    ['', /empty/],
    ['order .created', /whitespace/],
    [' order.*', /whitespace/],
    ['order.***', /whole segments/],
    ['ord*.created', /whole segments/],
    ['order..created', /empty segment/],
    ['.order', /empty segment/],
    ['order.', /empty segment/],
    ['order/created', /letters, digits/],
    ['order.cre$ted', /letters, digits/],
    ['x'.repeat(257), /longer than 256/],
  ])('rejects %j', (pattern, reason) => {
    expect(validateTypePattern(pattern)).toMatch(reason);
  });
});

describe('isValidEventType', () => {
  it.each([
    ['order.created', true],
    ['kitchen.order.picked_up', true],
    ['OrderCreateEvent', true],
    ['order.*', false],
    ['order..created', false],
    ['', false],
    ['order created', false],
  ])('%j: %s', (type, expected) => {
    expect(isValidEventType(type)).toBe(expected);
  });
});
