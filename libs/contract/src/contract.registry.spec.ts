import path from 'node:path';
import { UnknownEventTypeError } from './contract.errors';
import { loadContract } from './contract.loader';
import { ContractRegistry, type JsonTextAt } from './contract.registry';
import { escapeJsonPointerSegment, parseJsonPointer } from './json-pointer';

// The contract the repository ships, resolved from the repo root like HERALD_CONTRACTS would be.
const SHIPPED = path.resolve(__dirname, '../../../asyncapi');

const ORDER_ID = '5f0c6d3e-8a47-4b8e-9a52-3c1f2d4e6a70';

function orderCreated(): Record<string, unknown> {
  return {
    orderId: ORDER_ID,
    customer: { customerId: '2d3b1c44-75a9-4f0e-b8b1-6d2a3b4c5d6e', email: 'ada@example.com' },
    items: [{ sku: 'PIZZA-MARG-30', quantity: 2, unitPrice: { amount: 1150, currency: 'EUR' } }],
    total: { amount: 2300, currency: 'EUR' },
    fulfilment: 'pickup',
    createdAt: '2025-03-14T11:52:07Z',
  };
}

describe('the shipped contract', () => {
  let registry: ContractRegistry;

  beforeAll(async () => {
    registry = await loadContract(SHIPPED);
  });

  it('loads every domain and Herald’s operational events without warnings', () => {
    expect(registry.eventTypes()).toEqual(
      expect.arrayContaining([
        'order.created',
        'payment.captured',
        'shipment.dispatched',
        'kitchen.order.ready',
        'herald.delivery.exhausted',
        'herald.subscription.disabled',
        'herald.ping',
      ]),
    );
    expect(registry.warnings()).toEqual([]);
    expect(registry.topics().map((t) => [t.topic, t.partitions])).toEqual([
      ['herald.operational', 3],
      ['kitchen.v1', 3],
      ['orders.v1', 6],
      ['payments.v1', 6],
      ['shipments.v1', 6],
    ]);
  });

  it('validates every type’s example against its own schema', () => {
    for (const type of registry.eventTypes()) {
      const definition = registry.get(type);
      expect([type, definition?.example]).not.toEqual([type, undefined]);
      expect([type, registry.validate(type, definition?.example)]).toEqual([type, { ok: true }]);
    }
  });

  it('describes each type with its channel, topic, key, source and document', () => {
    expect(registry.get('kitchen.order.ready')).toMatchObject({
      type: 'kitchen.order.ready',
      channel: 'kitchen',
      topic: 'kitchen.v1',
      partitions: 3,
      keyPointer: '/orderId',
      sourceTopic: 'kitchen.raw',
      source: '/kitchen-display',
      internal: false,
      summary: 'Lunch is ready; the customer or courier can collect it.',
      documentFile: path.join(SHIPPED, 'kitchen.yaml'),
    });
    expect(registry.get('herald.ping')).toMatchObject({
      internal: true,
      topic: 'herald.operational',
      keyPointer: '/subscriptionId',
    });
    // The key pointer of payments sits on the Kafka binding's key schema, applied through a trait.
    expect(registry.get('payment.refunded')?.keyPointer).toBe('/paymentId');
    expect(registry.get('no.such.type')).toBeUndefined();
  });

  it('serves schemas with shared $refs resolved and without parser annotations', () => {
    const schema = registry.get('order.created')?.schema as {
      properties: Record<string, Record<string, unknown>>;
    };
    expect(schema.properties.total).toMatchObject({
      type: 'object',
      required: ['amount', 'currency'],
    });
    expect(JSON.stringify(schema)).not.toContain('x-parser');
    expect(Object.isFrozen(schema)).toBe(true);
  });

  it('accepts a valid payload', () => {
    expect(registry.validate('order.created', orderCreated())).toEqual({ ok: true });
  });

  it.each<
    [string, (p: Record<string, unknown>) => unknown, { pointer: string; message: string }[]]
  >([
    [
      'a missing required field',
      (p) => ({ ...p, total: undefined }),
      [{ pointer: '/total', message: 'is required' }],
    ],
    [
      'a missing nested required field',
      (p) => ({ ...p, customer: { customerId: '2d3b1c44-75a9-4f0e-b8b1-6d2a3b4c5d6e' } }),
      [{ pointer: '/customer/email', message: 'is required' }],
    ],
    [
      'a wrong type',
      (p) => ({ ...p, total: { amount: '23.00', currency: 'EUR' } }),
      [{ pointer: '/total/amount', message: 'must be integer' }],
    ],
    [
      'a bad enum value',
      (p) => ({ ...p, fulfilment: 'drone' }),
      [{ pointer: '/fulfilment', message: 'must be one of "delivery", "pickup", "dine_in"' }],
    ],
    [
      'a bad uuid',
      (p) => ({ ...p, orderId: 'order-1' }),
      [{ pointer: '/orderId', message: 'must be a valid uuid' }],
    ],
    [
      'a bad email deep in the payload',
      (p) => ({
        ...p,
        customer: { customerId: '2d3b1c44-75a9-4f0e-b8b1-6d2a3b4c5d6e', email: 'not-an-email' },
      }),
      [{ pointer: '/customer/email', message: 'must be a valid email' }],
    ],
    [
      'a bad date-time',
      (p) => ({ ...p, createdAt: '14/03/2025' }),
      [{ pointer: '/createdAt', message: 'must be a valid date-time' }],
    ],
    [
      'a field inside an array item',
      (p) => ({
        ...p,
        items: [
          { sku: 'PIZZA-MARG-30', quantity: 0, unitPrice: { amount: 1150, currency: 'EUR' } },
        ],
      }),
      [{ pointer: '/items/0/quantity', message: 'must be >= 1' }],
    ],
    [
      'an extra property',
      (p) => ({ ...p, discount: 5 }),
      [{ pointer: '/discount', message: 'is not allowed here' }],
    ],
    ['not an object at all', () => 'hello', [{ pointer: '', message: 'must be object' }]],
  ])('points at the field for %s', (_name, mutate, errors) => {
    const payload = JSON.parse(JSON.stringify(mutate(orderCreated()))) as unknown;
    expect(registry.validate('order.created', payload)).toEqual({ ok: false, errors });
  });

  it('reports every violation at once', () => {
    const result = registry.validate('order.created', {
      ...orderCreated(),
      orderId: 7,
      fulfilment: 'drone',
      extra: true,
    });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors.map((e) => e.pointer).sort()).toEqual([
      '/extra',
      '/fulfilment',
      '/orderId',
    ]);
  });

  it('extracts the partition key', () => {
    expect(registry.keyOf('order.created', orderCreated())).toBe(ORDER_ID);
    expect(registry.keyOf('payment.captured', { paymentId: 'p-1' })).toBe('p-1');
    expect(registry.keyOf('herald.ping', { subscriptionId: 42 })).toBe('42');
    expect(registry.keyOf('order.created', { orderId: { nested: true } })).toBeUndefined();
    expect(registry.keyOf('order.created', null)).toBeUndefined();
    expect(registry.keyOf('order.created', 'text')).toBeUndefined();
  });

  it('throws UnknownEventTypeError for a type it does not know', () => {
    expect(() => registry.validate('order.teleported', {})).toThrow(UnknownEventTypeError);
    expect(() => registry.keyOf('order.teleported', {})).toThrow(
      /"order.teleported" is not in the contract/,
    );
  });

  it('finds a channel by its source topic and by its topic', () => {
    expect(registry.bySourceTopic('kitchen.raw')).toMatchObject({
      topic: 'kitchen.v1',
      channel: 'kitchen',
    });
    expect(registry.bySourceTopic('kitchen.raw')?.types).toHaveLength(6);
    expect(registry.bySourceTopic('kitchen.v1')).toBeUndefined();
    expect(registry.byTopic('orders.v1')?.types).toEqual([
      'order.cancelled',
      'order.completed',
      'order.confirmed',
      'order.created',
    ]);
  });

  it('matches event types by glob', () => {
    expect(registry.matchTypes('order.*')).toEqual([
      'order.cancelled',
      'order.completed',
      'order.confirmed',
      'order.created',
    ]);
    expect(registry.matchTypes('*.created')).toEqual(['order.created', 'shipment.created']);
    expect(registry.matchTypes('kitchen.order.*')).toHaveLength(4);
    expect(registry.matchTypes('kitchen.**')).toHaveLength(6);
    expect(registry.matchTypes('herald.**')).toEqual([
      'herald.delivery.exhausted',
      'herald.ping',
      'herald.subscription.disabled',
    ]);
    expect(registry.matchTypes('**')).toEqual(registry.eventTypes());
    expect(registry.matchTypes('refund.*')).toEqual([]);
    expect(() => registry.matchTypes('order.***')).toThrow(/whole segments/);
  });

  it('keeps each document as written and as resolved', () => {
    const documents = registry.documents();
    expect(documents.map((d) => path.basename(d.file))).toEqual([
      'herald-operational.yaml',
      'kitchen.yaml',
      'orders.yaml',
      'payments.yaml',
      'shipments.yaml',
    ]);
    const orders = documents.find((d) => d.file.endsWith('orders.yaml'));
    expect(JSON.stringify(orders?.raw)).toContain('./schemas/common.yaml#/money');
    expect(JSON.stringify(orders?.resolved)).not.toContain('$ref');
    expect(JSON.stringify(orders?.resolved)).not.toContain('x-parser');
    expect(orders?.resolved).toMatchObject({
      asyncapi: '3.0.0',
      channels: { orders: { address: 'orders.v1' } },
    });
  });
});

describe('keyOf with the payload’s text', () => {
  /** A registry of one type, `t`, keyed by `pointer`. */
  function keyedBy(pointer: string): ContractRegistry {
    const definition = {
      type: 't',
      channel: 'c',
      topic: 'c.v1',
      partitions: 1,
      keyPointer: pointer,
      schema: {},
      source: '/tests',
      internal: false,
      documentFile: 't.yaml',
    };
    return new ContractRegistry(
      [{ definition, validate: () => ({ ok: true }), keySegments: parseJsonPointer(pointer)! }],
      [],
      [],
    );
  }

  /**
   * The key of `text` (parsed), its numbers' texts told by the JSON-pointer-keyed `texts`, as
   * the ingest paths tell them from the producer's text.
   */
  function keyOf(pointer: string, text: string, texts: Record<string, string>) {
    const asked: string[] = [];
    const textAt: JsonTextAt = (segments) => {
      const at = segments.map((s) => `/${escapeJsonPointerSegment(s)}`).join('');
      asked.push(at);
      return texts[at];
    };
    return { key: keyedBy(pointer).keyOf('t', JSON.parse(text), textAt), asked };
  }

  it.each([
    ['an integer past 2^53', '/id', '{"id":12345678901234567890}', '12345678901234567890'],
    ['a negative one', '/id', '{"id":-12345678901234567891}', '-12345678901234567891'],
    ['a decimal with a zero fraction', '/id', '{"id":1.0}', '1.0'],
    ['an exponent', '/id', '{"id":1e2}', '1e2'],
    ['an upper-case exponent with a sign', '/id', '{"id":1E+2}', '1E+2'],
    ['minus zero', '/id', '{"id":-0}', '-0'],
    ['a nested pointer', '/a/b/id', '{"a":{"b":{"id":9007199254740993}}}', '9007199254740993'],
    ['a pointer through an array', '/lines/1/id', '{"lines":[{"id":1},{"id":2.50}]}', '2.50'],
    [
      'escaped member names',
      '/a~1b/c~0d',
      '{"a/b":{"c~d":100000000000000000001}}',
      '100000000000000000001',
    ],
  ])('keys a number by its text as sent: %s', (_, pointer, text, expected) => {
    const { key, asked } = keyOf(pointer, text, { [pointer]: expected });
    expect(key).toBe(expected);
    // The segments it asks for are the pointer's, unescaped.
    expect(asked).toEqual([pointer]);
  });

  it('keeps ids past 2^53 that differ only past the 16th digit apart', () => {
    const a = keyOf('/id', '{"id":12345678901234567890}', { '/id': '12345678901234567890' });
    const b = keyOf('/id', '{"id":12345678901234567891}', { '/id': '12345678901234567891' });
    expect([a.key, b.key]).toEqual(['12345678901234567890', '12345678901234567891']);
  });

  it('converts a number with String when its text is unknown, or is not that number’s', () => {
    const registry = keyedBy('/id');
    expect(registry.keyOf('t', JSON.parse('{"id":12345678901234567890}'))).toBe(
      '12345678901234567000',
    );
    expect(registry.keyOf('t', { id: 1 }, () => undefined)).toBe('1');
    // Text of another value, or no JSON number, never becomes the key.
    expect(registry.keyOf('t', { id: 1 }, () => '2')).toBe('1');
    expect(registry.keyOf('t', { id: 1 }, () => '"1"')).toBe('1');
    expect(registry.keyOf('t', { id: 1 }, () => ' 1')).toBe('1');
    expect(registry.keyOf('t', { id: 1 }, () => '0x1')).toBe('1');
    expect(registry.keyOf('t', { id: 0 }, () => '-0')).toBe('0');
    expect(registry.keyOf('t', { id: -0 }, () => '0')).toBe('0');
  });

  it('keys strings, booleans, nested values and missing ones as before, without asking for text', () => {
    const textAt = jest.fn<string | undefined, [readonly string[]]>(() => '12');
    const registry = keyedBy('/id');
    expect(registry.keyOf('t', { id: '12345678901234567890' }, textAt)).toBe(
      '12345678901234567890',
    );
    expect(registry.keyOf('t', { id: true }, textAt)).toBe('true');
    expect(registry.keyOf('t', { id: { n: 12 } }, textAt)).toBeUndefined();
    expect(registry.keyOf('t', { id: [12] }, textAt)).toBeUndefined();
    expect(registry.keyOf('t', { id: null }, textAt)).toBeUndefined();
    expect(registry.keyOf('t', {}, textAt)).toBeUndefined();
    expect(textAt).not.toHaveBeenCalled();
  });
});
