import { z } from 'zod';
import { mutableSubscriptionFields } from './create-subscription.dto';

/** Fields a PATCH may not touch, and what to do instead. */
export const IMMUTABLE_FIELDS: Readonly<Record<string, string>> = {
  id: 'is assigned by Herald',
  tenant: 'cannot be changed',
  kind: 'cannot be changed; create a new subscription',
  from: 'only applies when a subscription starts; use replay to go back',
  status: 'changes through /pause and /resume',
  secret: 'changes through /secret/rotate',
};

export const updateSubscriptionSchema = z
  .strictObject({
    url: mutableSubscriptionFields.url.optional(),
    types: mutableSubscriptionFields.types.optional(),
    filter: mutableSubscriptionFields.filter.optional(),
    format: mutableSubscriptionFields.format.optional(),
    ordering: mutableSubscriptionFields.ordering.optional(),
    maxInFlight: mutableSubscriptionFields.maxInFlight.optional(),
    maxPerSecond: mutableSubscriptionFields.maxPerSecond.optional(),
    retry: mutableSubscriptionFields.retry.optional(),
    headers: mutableSubscriptionFields.headers.optional(),
    auth: mutableSubscriptionFields.auth.optional(),
    verification: mutableSubscriptionFields.verification.optional(),
    description: mutableSubscriptionFields.description.optional(),
    metadata: mutableSubscriptionFields.metadata.optional(),
  })
  .describe('Changes to a subscription (JSON merge: absent fields stay as they are).');

export type UpdateSubscriptionDto = z.output<typeof updateSubscriptionSchema>;
