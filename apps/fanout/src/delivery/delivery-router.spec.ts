import { SubscriptionIndex } from '../subscriptions/subscription-index';
import { storedSubscription as stored } from '../subscriptions/subscription.fixture';
import { routeEvent } from './delivery-router';
import type { SourceEvent } from './source-event';

function event(
  type: string,
  data: unknown,
  timestampMs = Date.parse('2025-02-01T00:00:00Z'),
): SourceEvent {
  return {
    topic: 'orders.v1',
    partition: 0,
    offset: 0,
    key: 'o1',
    timestampMs,
    eventTimeMs: timestampMs,
    event: { id: 'e1', type, source: '/orders', time: '2025-02-01T00:00:00Z', data },
    tenant: type.startsWith('herald.') ? ((data as { tenant?: string }).tenant ?? null) : null,
  };
}

const ids = (index: SubscriptionIndex, source: SourceEvent) =>
  routeEvent(index, source).map((s) => s.subscription.id);

describe('routing over the subscription index', () => {
  it('matches types, allowed types, filters and status', () => {
    const index = new SubscriptionIndex();
    index.upsert(stored('sub_all'));
    index.upsert(stored('sub_big', { filter: { 'data.total': { $gt: 100 } } }));
    index.upsert(stored('sub_limited', { allowedTypes: ['order.cancelled'] }));
    index.upsert(stored('sub_paused', { status: 'paused' }));
    index.upsert(stored('sub_stream', { kind: 'stream' }));
    index.upsert(stored('sub_kitchen', { types: ['kitchen.**'] }));
    expect(ids(index, event('order.created', { total: 50 }))).toEqual(['sub_all']);
    expect(ids(index, event('order.created', { total: 150 }))).toEqual(['sub_all', 'sub_big']);
    expect(ids(index, event('order.cancelled', { total: 1 }))).toEqual(['sub_all', 'sub_limited']);
    expect(ids(index, event('kitchen.prep.started', {}))).toEqual(['sub_kitchen']);
  });

  it('sends live only what was published once the subscription existed (earlier: the backfill)', () => {
    const index = new SubscriptionIndex();
    const createdAt = '2025-03-01T00:00:00.000Z';
    index.upsert(stored('sub_new', { createdAt }));
    index.upsert(stored('sub_earliest', { createdAt, from: 'earliest' }));
    index.upsert(stored('sub_past', { createdAt, from: '2025-01-15T00:00:00.000Z' }));
    index.upsert(stored('sub_future', { createdAt, from: '2025-03-10T00:00:00.000Z' }));
    // Before creation: the backfill replay subscription-api requests sends these, not live.
    expect(ids(index, event('order.created', {}))).toEqual([]);
    const at = (time: string) => event('order.created', {}, Date.parse(time));
    expect(ids(index, at('2025-03-02T00:00:00Z'))).toEqual(['sub_new', 'sub_earliest', 'sub_past']);
    expect(ids(index, at('2025-03-11T00:00:00Z'))).toEqual([
      'sub_new',
      'sub_earliest',
      'sub_past',
      'sub_future',
    ]);
  });

  it("sends Herald's events about a tenant to that tenant only", () => {
    const index = new SubscriptionIndex();
    index.upsert(stored('sub_acme', { types: ['herald.**'] }));
    index.upsert(stored('sub_globex', { types: ['herald.**'], tenant: 'globex' }));
    expect(ids(index, event('herald.delivery.exhausted', { tenant: 'globex' }))).toEqual([
      'sub_globex',
    ]);
  });

  it('sends no webhook a delivery-exhausted notice about such a notice (it would go round for ever)', () => {
    const index = new SubscriptionIndex();
    index.upsert(stored('sub_acme', { types: ['herald.**'] }));
    const notice = (type: unknown) =>
      event('herald.delivery.exhausted', { tenant: 'acme', subscriptionId: 'sub_acme', type });
    expect(ids(index, notice('order.created'))).toEqual(['sub_acme']);
    expect(ids(index, notice('herald.subscription.disabled'))).toEqual(['sub_acme']);
    expect(ids(index, notice('herald.delivery.exhausted'))).toEqual([]);
  });

  it('drops cached matches when a subscription changes and tells listeners', () => {
    const index = new SubscriptionIndex();
    const changes: string[] = [];
    index.onChange((previous, next) =>
      changes.push(`${previous?.subscription.status ?? '-'}>${next?.subscription.status ?? '-'}`),
    );
    index.upsert(stored('sub_1'));
    expect(ids(index, event('order.created', {}))).toEqual(['sub_1']);
    index.upsert(stored('sub_1', { status: 'disabled', version: 2 }));
    expect(ids(index, event('order.created', {}))).toEqual([]);
    index.replaceAll([stored('sub_2')]);
    expect(ids(index, event('order.created', {}))).toEqual(['sub_2']);
    expect(changes).toEqual(['->active', 'active>disabled', '->active', 'disabled>-']);
    expect(index.countByStatus()).toMatchObject({ active: 1, disabled: 0 });
  });

  it('matches nothing for a subscription whose stored filter no longer compiles', () => {
    const index = new SubscriptionIndex();
    const entry = index.upsert(stored('sub_bad', { filter: { $where: 'x' } }));
    expect(entry.problem).toMatch(/filter/);
    expect(ids(index, event('order.created', {}))).toEqual([]);
  });
});
