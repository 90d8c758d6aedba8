export const CONTRACT = Symbol('CONTRACT');
export const INGEST_CONFIG = Symbol('INGEST_CONFIG');
export const INGEST_IDEMPOTENCY = Symbol('INGEST_IDEMPOTENCY');
