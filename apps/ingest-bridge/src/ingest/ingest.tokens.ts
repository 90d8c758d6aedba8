export const CONTRACT = Symbol('CONTRACT');
export const INGEST_CONFIG = Symbol('INGEST_CONFIG');
export const INGEST_IDEMPOTENCY = Symbol('INGEST_IDEMPOTENCY');
/** A KafkaPublisher that sends each publish in a request of its own, one at a time. */
export const SOLO_PUBLISHER = Symbol('SOLO_PUBLISHER');
