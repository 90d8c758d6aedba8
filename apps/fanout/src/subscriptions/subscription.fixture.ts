import type { StoredSubscription, Subscription } from '@herald/store';
import { subscriptionRecord } from '@herald/store/testing';

/** A stored webhook subscription for unit tests: active, `order.*`, ordered by key. */
export function storedSubscription(
  id: string,
  overrides: Partial<Subscription> = {},
): StoredSubscription {
  const subscription = subscriptionRecord({ id, url: 'http://127.0.0.1:1/hook', ...overrides });
  return { subscription, secrets: { signing: { current: 'whsec_x', previous: null }, auth: null } };
}
