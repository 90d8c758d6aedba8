import { HeraldError } from '@herald/errors';

/** Kafka could not take a write or answer a request in time (broker down, timeouts). Retry later. */
export class KafkaUnavailableError extends HeraldError {
  constructor(
    message: string,
    cause?: unknown,
    /**
     * The deadline passed while the records were already with Kafka: they may still be written.
     * The publish's `late` callback hears how it ended.
     */
    readonly inFlight = false,
  ) {
    super('kafka.unavailable', message, { retryable: true, cause });
  }
}

/** Kafka refused the request itself (record too large, invalid record); repeating it will not help. */
export class KafkaRejectedError extends HeraldError {
  constructor(message: string, cause?: unknown) {
    super('kafka.rejected', message, { retryable: false, cause });
  }
}

/** A CloudEvent attribute set that cannot be written as Kafka headers. */
export class CloudEventAttributesError extends HeraldError {
  constructor(message: string) {
    super('kafka.invalid_cloudevent', message, { retryable: false });
  }
}
