import type { Subscription } from '@herald/store';

/** A subscription as the API shows it: no secrets, and auth reduced to its type. */
export function subscriptionView(subscription: Subscription) {
  const { authType, ...rest } = subscription;
  return {
    ...rest,
    auth: authType === null ? null : { type: authType },
    links: {
      self: `/v1/subscriptions/${subscription.id}`,
      deliveries: `/v1/subscriptions/${subscription.id}/deliveries`,
      stats: `/v1/subscriptions/${subscription.id}/stats`,
    },
  };
}

export type SubscriptionView = ReturnType<typeof subscriptionView>;
