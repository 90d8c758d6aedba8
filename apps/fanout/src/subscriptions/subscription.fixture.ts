import type { StoredSubscription, Subscription } from '@herald/store';

/** A stored webhook subscription for unit tests: active, `order.*`, ordered by key. */
export function storedSubscription(
  id: string,
  overrides: Partial<Subscription> = {},
): StoredSubscription {
  const subscription: Subscription = {
    id,
    tenant: 'acme',
    kind: 'webhook',
    url: 'http://127.0.0.1:1/hook',
    types: ['order.*'],
    allowedTypes: null,
    filter: null,
    format: 'cloudevents',
    ordering: 'key',
    from: 'latest',
    maxInFlight: 16,
    maxPerSecond: null,
    retry: { schedule: ['1s'] },
    headers: {},
    authType: null,
    verification: { mode: 'none', state: 'not_required', checkedAt: null, failure: null },
    description: null,
    metadata: {},
    status: 'active',
    statusReason: null,
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
    version: 1,
    createdByKey: 'admin',
    ...overrides,
  };
  return { subscription, secrets: { signing: { current: 'whsec_x', previous: null }, auth: null } };
}
