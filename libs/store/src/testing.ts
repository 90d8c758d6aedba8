import { randomUUID } from 'node:crypto';
import type { NewDeadLetter } from './dead-letter.repository';
import { RedisConnection } from './redis.connection';
import { storeKeys } from './store.keys';
import {
  newSubscriptionId,
  type NewSubscription,
  type Subscription,
} from './subscription.repository';

/**
 * A Redis connection under a fresh key prefix for one test file, at REDIS_URL (the Jest global
 * setup makes sure one answers). `cleanup()` deletes every key under the prefix and disconnects.
 */
export async function createTestStore(env: Record<string, string | undefined> = process.env) {
  const url = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = `test:${randomUUID().slice(0, 8)}:`;
  const redis = new RedisConnection({ url, prefix }, 'herald-test');
  await redis.connect();
  return {
    url,
    prefix,
    redis,
    keys: storeKeys(prefix),
    async cleanup(): Promise<void> {
      let cursor = '0';
      do {
        const [next, found] = await redis.client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
        if (found.length > 0) await redis.client.del(...found);
        cursor = next;
      } while (cursor !== '0');
      await redis.close();
    },
  };
}

/** When every subscription record of a test was created and last changed, unless it says. */
const RECORD_TIME = '2025-01-01T00:00:00.000Z';

/**
 * What a test hands `SubscriptionRepository.create`: an active webhook of tenant `acme` for
 * `order.*` at https://example.com/hook, with no ownership check, auth, filter or rate limit,
 * created by the admin key. `overrides` replace whole fields.
 *
 * The store keeps what it is given and has no defaults of its own: the API's live in
 * subscription-api's request schema and Herald's retry schedule in `@herald/delivery`, neither of
 * which this lib may import. So the schedule here is a short one of its own (one retry after 1 s);
 * a test that depends on the schedule names it.
 */
export function newSubscriptionRecord(overrides: Partial<NewSubscription> = {}): NewSubscription {
  return {
    tenant: 'acme',
    kind: 'webhook',
    url: 'https://example.com/hook',
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
    createdByKey: 'admin',
    ...overrides,
  };
}

/**
 * A complete subscription as the store returns it, for tests that need one without Redis: the
 * fields of `newSubscriptionRecord`, a fresh id, version 1, created and updated at
 * 2025-01-01T00:00:00.000Z. `overrides` replace whole fields.
 */
export function subscriptionRecord(overrides: Partial<Subscription> = {}): Subscription {
  return {
    id: newSubscriptionId(),
    version: 1,
    createdAt: RECORD_TIME,
    updatedAt: RECORD_TIME,
    ...newSubscriptionRecord(),
    ...overrides,
  };
}

/**
 * What a test hands `DeadLetterRepository.add`: event `e<n>` (an `order.created`) of
 * `orders.v1` partition 0 at offset `n`, key `k`, given up on after 8 attempts with a 503, just
 * now. `overrides` replace whole fields.
 */
export function newDeadLetterRecord(
  subscriptionId: string,
  n = 0,
  overrides: Partial<NewDeadLetter> = {},
): NewDeadLetter {
  const at = new Date().toISOString();
  return {
    subscriptionId,
    eventId: `e${n}`,
    type: 'order.created',
    topic: 'orders.v1',
    partition: 0,
    offset: String(n),
    key: 'k',
    attempts: 8,
    lastStatus: 503,
    lastError: null,
    firstAttemptAt: at,
    deadLetteredAt: at,
    ...overrides,
  };
}

/**
 * How many commands `redis`'s client holds unanswered: sent and awaiting their reply, waiting
 * for a connection (offline queue), or waiting in an auto-pipeline behind an unanswered one.
 * What a Redis outage piles up in the process (see RedisDeadline's circuit breaker).
 */
export function queuedCommands(redis: RedisConnection): number {
  const client = redis.client as unknown as {
    commandQueue: { length: number };
    offlineQueue: { length: number };
  };
  return (
    client.commandQueue.length + client.offlineQueue.length + redis.client.autoPipelineQueueSize
  );
}
