/**
 * Every Redis key Herald uses comes from here, under one prefix, so a test or a second
 * deployment can share a Redis without touching anyone else's keys.
 */
export function storeKeys(prefix: string) {
  return {
    prefix,
    /** Hash: one API key's record (never the key itself, only its hash). */
    apiKey: (id: string) => `${prefix}apikey:${id}`,
    /** Sorted set of every API key id, scored by creation time. */
    apiKeyIndex: () => `${prefix}apikeys`,
    /** Sorted set of one tenant's API key ids, scored by creation time. */
    tenantApiKeys: (tenant: string) => `${prefix}tenant:${tenant}:apikeys`,
    /** Pub/sub channel an API key's deletion is published on (`ApiKeyNotices`), with the delete. */
    apiKeyNoticeChannel: () => `${prefix}channel:api-key-notices`,
    /** String: the first result of an event id (or a pending marker while it is being written). */
    idempotency: (tenant: string, eventId: string) => `${prefix}idem:${tenant}:${eventId}`,
    /** Hash: one subscription (`record` JSON, `sealed` secrets, `status`, `tenant`, `version`). */
    subscription: (id: string) => `${prefix}sub:${id}`,
    /** Sorted set of every subscription id, all scored 0 so it orders by id (= creation time). */
    subscriptionIndex: () => `${prefix}subs`,
    /** Sorted set of one tenant's subscription ids, ordered like subscriptionIndex. */
    tenantSubscriptions: (tenant: string) => `${prefix}tenant:${tenant}:subs`,
    /** Hash: how many subscriptions are in each status. */
    subscriptionStatusCounts: () => `${prefix}subs:status-counts`,
    /**
     * Hash: subscription id → the `herald.subscription.disabled` event of a disable not yet
     * published (see PendingDisableStore).
     */
    pendingDisables: () => `${prefix}subs:pending-disabled-events`,
    /** String counter: sequence number of the latest subscription notice. */
    subscriptionNoticeSeq: () => `${prefix}subs:notice-seq`,
    /** Stream of recent subscription notices (capped), entry id `<seq>-0`, for catching up. */
    subscriptionNoticeLog: () => `${prefix}subs:notice-log`,
    /** Pub/sub channel the subscription notices are published on. */
    subscriptionNoticeChannel: () => `${prefix}channel:subscription-notices`,
    /** Stream: one subscription's delivery attempt log, newest last, capped. */
    deliveryLog: (subscriptionId: string) => `${prefix}sub:${subscriptionId}:deliveries`,
    /** Hash: one subscription's dead letters, id → JSON. */
    deadLetters: (subscriptionId: string) => `${prefix}sub:${subscriptionId}:dead-letters`,
    /** Sorted set (scores 0, ordered by id = time) of one subscription's dead-letter ids. */
    deadLetterIndex: (subscriptionId: string) => `${prefix}sub:${subscriptionId}:dead-letter-ids`,
    /** Hash: one redrive request. */
    redrive: (id: string) => `${prefix}redrive:${id}`,
    /** List of redrive request ids waiting for the delivery engine. */
    redriveQueue: () => `${prefix}redrives:queued`,
    /** List of redrive request ids an engine instance has claimed and not finished. */
    redriveClaimed: () => `${prefix}redrives:claimed`,
    /** Hash: one replay request and its progress counters. */
    replay: (id: string) => `${prefix}replay:${id}`,
    /** Sorted set (scores 0, ordered by id) of one subscription's replay ids. */
    subscriptionReplays: (subscriptionId: string) => `${prefix}sub:${subscriptionId}:replays`,
    /** List of replay ids waiting for the delivery engine. */
    replayQueue: () => `${prefix}replays:queued`,
    /** List of replay ids an engine instance has claimed and not finished. */
    replayClaimed: () => `${prefix}replays:claimed`,
    /** Hash: one subscription's delivery counters and gauges. */
    subscriptionStats: (subscriptionId: string) => `${prefix}sub:${subscriptionId}:stats`,
    /** Hash: the cursor a durable stream subscription's client acknowledged last. */
    streamCursor: (subscriptionId: string) => `${prefix}sub:${subscriptionId}:stream-cursor`,
    /** Sorted set: subscriptions with parked retries, scored by their earliest due time (ms). */
    parkedSubscriptions: () => `${prefix}parked:subs`,
    /** Sorted set: one subscription's parked queues, scored by when their head is due (ms). */
    parkedDue: (subscriptionId: string) => `${prefix}parked:sub:${subscriptionId}:due`,
    /** List: one parked queue (a key's retries and the events behind them), head first. */
    parkedQueue: (subscriptionId: string, queueId: string) =>
      `${prefix}parked:sub:${subscriptionId}:q:${queueId}`,
    /** Hash: the parked queues fed by one source partition (`<subscription>|<queue>` → subscription). */
    parkedKeys: (topic: string, partition: number) => `${prefix}parked:src:${topic}:${partition}`,
    /** String: the token of the delivery engine instance that owns a source partition. */
    partitionOwner: (topic: string, partition: number) =>
      `${prefix}parked:owner:${topic}:${partition}`,
    /**
     * Hash: what the last owner of a source partition had settled past its committed offset
     * (`token` of that owner, `state` as the delivery engine encodes it), for the next owner.
     */
    partitionHandover: (topic: string, partition: number) =>
      `${prefix}parked:handover:${topic}:${partition}`,
    /** String with a short TTL: a delivery engine instance is running (refreshed while it is). */
    engineInstance: (instance: string) => `${prefix}engine:instance:${instance}`,
    /** String counter: parked tasks across all subscriptions. */
    parkedCount: () => `${prefix}parked:count`,
    /** Hash: since when a subscription has been failing (`failingSince`, `lastSuccessMs`). */
    deliveryHealth: (subscriptionId: string) => `${prefix}sub:${subscriptionId}:delivery-health`,
  };
}

export type StoreKeys = ReturnType<typeof storeKeys>;
