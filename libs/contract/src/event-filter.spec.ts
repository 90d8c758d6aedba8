import { compileEventFilter } from './event-filter';

const event = {
  type: 'order.created',
  source: '/orders',
  data: { total: 150, currency: 'EUR', customer: { tier: 'gold' }, tags: ['a', 'b'] },
};

function matches(filter: unknown): boolean {
  const result = compileEventFilter(filter);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.matches(event);
}

describe('compileEventFilter', () => {
  it('matches with every allowed operator', () => {
    expect(matches({ 'data.total': { $gt: 100 } })).toBe(true);
    expect(matches({ 'data.total': { $lte: 100 } })).toBe(false);
    expect(matches({ 'data.currency': { $in: ['EUR', 'USD'] }, type: 'order.created' })).toBe(true);
    expect(matches({ 'data.currency': { $nin: ['EUR'] } })).toBe(false);
    expect(matches({ 'data.refund': { $exists: false } })).toBe(true);
    expect(matches({ type: { $regex: '^ORDER\\.', $options: 'i' } })).toBe(true);
    expect(
      matches({ $or: [{ 'data.total': { $lt: 10 } }, { 'data.customer.tier': 'gold' }] }),
    ).toBe(true);
    expect(
      matches({ $and: [{ 'data.total': { $gte: 150 } }, { source: { $ne: '/orders' } }] }),
    ).toBe(false);
    expect(matches({ type: { $not: { $regex: '^payment' } } })).toBe(true);
    expect(matches({ 'data.tags': 'a' })).toBe(true);
  });

  it.each([
    [{ 'data.total': { $where: 'x' } }, '/data.total/$where', 'unknown operator $where'],
    [{ $expr: {} }, '/$expr', 'unknown operator $expr'],
    [{ 'data.total': { $gt: {} } }, '/data.total/$gt', 'number or a string'],
    [{ 'data.total': { $in: 'x' } }, '/data.total/$in', 'array'],
    [{ type: { $regex: '(' } }, '/type/$regex', 'not a valid regular expression'],
    [{ type: { $regex: '(?=order)' } }, '/type/$regex', 'no lookaround or backreferences'],
    [{ type: { $regex: '(o)\\1' } }, '/type/$regex', 'not a valid regular expression'],
    [{ type: { $options: 'i' } }, '/type/$options', 'only allowed next to $regex'],
    [{ $or: [] }, '/$or', 'non-empty array'],
    [{ 'a/b': 1 }, '/a~1b', 'field path'],
    // The query engine throws on such a path when it meets an event (it crashed fanout's streams).
    [{ 'data.__proto__.x': { $exists: false } }, '/data.__proto__.x', 'through __proto__'],
    [{ __proto__x: 1, 'data.a.__proto__': 1 }, '/data.a.__proto__', 'through __proto__'],
    [{ 'data.x': { $gt: 1, plain: 2 } }, '/data.x', 'operators only'],
    [{ 'data.x': { $not: 3 } }, '/data.x/$not', 'object of operators'],
    [[], '', 'object of field conditions'],
  ])('refuses %j at %s', (filter, pointer, message) => {
    const result = compileEventFilter(filter);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toEqual(
      expect.arrayContaining([{ pointer, message: expect.stringContaining(message) as string }]),
    );
  });

  it('refuses filters nested too deep or too large', () => {
    let deep: Record<string, unknown> = { a: 1 };
    for (let i = 0; i < 10; i += 1) deep = { $and: [deep] };
    expect(compileEventFilter(deep).ok).toBe(false);
    const wide = { $or: Array.from({ length: 100 }, (_, i) => ({ [`f${i}`]: 1, [`g${i}`]: 2 })) };
    expect(compileEventFilter(wide).ok).toBe(false);
  });
});
