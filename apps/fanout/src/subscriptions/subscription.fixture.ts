import type { StoredSubscription, Subscription } from '@herald/store';
import { subscriptionRecord } from '@herald/store/testing';

/** A well-formed signing secret (`whsec_` and 32 bytes in base64). */
export const TEST_SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

/** A stored webhook subscription for unit tests: active, `order.*`, ordered by key. */
export function storedSubscription(
  id: string,
  overrides: Partial<Subscription> = {},
): StoredSubscription {
  const subscription = subscriptionRecord({ id, url: 'http://127.0.0.1:1/hook', ...overrides });
  return {
    subscription,
    secrets: { signing: { current: TEST_SECRET, previous: null }, auth: null },
  };
}
