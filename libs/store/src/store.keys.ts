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
    /** String: the first result of an event id (or a pending marker while it is being written). */
    idempotency: (tenant: string, eventId: string) => `${prefix}idem:${tenant}:${eventId}`,
  };
}

export type StoreKeys = ReturnType<typeof storeKeys>;
