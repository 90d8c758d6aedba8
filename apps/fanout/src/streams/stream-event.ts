import {
  fromKafkaHeaders,
  toStructuredEvent,
  type IncomingRecord,
  topicPartitionKey,
} from '@herald/kafka';

/** One event as streams hand it out: where it sits in Kafka and its structured CloudEvent. */
export interface StreamEvent {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  /** `topicPartitionKey(topic, partition)`. */
  readonly key: string;
  readonly type: string;
  /** The structured CloudEvent (filters run on it). */
  readonly event: Readonly<Record<string, unknown>>;
  /** `event` as JSON, serialised once for every client. */
  readonly json: string;
  /** The event time, ms since the epoch (NaN when the header did not parse). */
  readonly timeMs: number;
}

/**
 * The stream form of a channel-topic record, or null for a record that is not a CloudEvent in
 * binary mode (the bridge keeps those off channel topics; one that slips through is skipped).
 */
export function toStreamEvent(record: IncomingRecord): StreamEvent | null {
  const parsed = fromKafkaHeaders(record.headers);
  if (!parsed.ok) return null;
  const { attributes } = parsed;
  let data: unknown;
  if (record.value === null) data = undefined;
  else if (/json/i.test(attributes.datacontenttype ?? 'application/json')) {
    try {
      data = JSON.parse(record.value.toString('utf8')) as unknown;
    } catch {
      // A JSON content type with bytes that do not parse: hand the bytes over as they are.
      data = record.value;
    }
  } else data = record.value;
  const event = toStructuredEvent(attributes, data);
  return {
    topic: record.topic,
    partition: record.partition,
    offset: BigInt(record.offset),
    key: topicPartitionKey(record.topic, record.partition),
    type: attributes.type,
    event,
    json: JSON.stringify(event),
    timeMs: Date.parse(attributes.time),
  };
}
