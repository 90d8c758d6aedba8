import path from 'node:path';
import { UnknownEventTypeError } from './contract.errors';
import { loadContract } from './contract.loader';
import type { ContractRegistry } from './contract.registry';

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
