/**
 * Every Redis key Herald uses comes from here, under one prefix, so a test or a second
 * deployment can share a Redis without touching anyone else's keys.
 */
export function storeKeys(prefix: string) {
  return {
    prefix,
    /** Liveness marker written by readiness probes and tests. */
    heartbeat: (service: string) => `${prefix}heartbeat:${service}`,
  };
}

export type StoreKeys = ReturnType<typeof storeKeys>;
