import type { ContractRegistry, ContractTopic } from '@herald/contract';
import {
  HERALD_TOPICS,
  fromKafkaHeaders,
  isRfc3339Time,
  toKafkaHeaders,
  type IncomingRecord,
  type OutgoingRecord,
} from '@herald/kafka';

/** Headers a dead-lettered raw record carries besides its own. */
export const DLQ_HEADERS = {
  reason: 'herald-dlq-reason',
  errors: 'herald-dlq-errors',
  sourceTopic: 'herald-dlq-source-topic',
  sourcePartition: 'herald-dlq-source-partition',
  sourceOffset: 'herald-dlq-source-offset',
  at: 'herald-dlq-at',
  /** `true` when the value was too large to copy: the source topic holds it at that position. */
  valueOmitted: 'herald-dlq-value-omitted',
} as const;

export type MappedRecord =
  | { kind: 'event'; record: OutgoingRecord }
  | { kind: 'dead-letter'; record: OutgoingRecord; reason: string };

function text(value: Buffer | undefined): string | undefined {
  return value === undefined ? undefined : value.toString('utf8');
}

/**
 * Turns one raw producer record into its CloudEvent on the channel topic, or into a dead letter
 * with the original bytes and headers and the reason. Pure.
 *
 * The event type is the `ce_type` header, or the channel's only type. The event id is `ce_id`,
 * or one derived from the record's position, so re-reading a record after a crash republishes
 * it under the same id (webhook receivers see a duplicate `webhook-id`, not a new event).
 */
export function mapSourceRecord(
  contract: ContractRegistry,
  channel: ContractTopic,
  record: IncomingRecord,
  nowIso: string,
  /** The largest event payload (`HERALD_MAX_EVENT_BYTES`, as for HTTP ingest); no limit when unset. */
  maxEventBytes = Number.POSITIVE_INFINITY,
): MappedRecord {
  const deadLetter = (reason: string, errors: unknown[] = [], omitValue = false): MappedRecord => {
    const headers: Record<string, string | Buffer> = {};
    for (const [name, value] of Object.entries(record.headers))
      if (value !== undefined) headers[name] = value;
    headers[DLQ_HEADERS.reason] = reason;
    headers[DLQ_HEADERS.errors] = JSON.stringify(errors);
    headers[DLQ_HEADERS.sourceTopic] = record.topic;
    headers[DLQ_HEADERS.sourcePartition] = String(record.partition);
    headers[DLQ_HEADERS.sourceOffset] = record.offset;
    headers[DLQ_HEADERS.at] = nowIso;
    if (omitValue) headers[DLQ_HEADERS.valueOmitted] = 'true';
    return {
      kind: 'dead-letter',
      reason,
      record: {
        topic: HERALD_TOPICS.dlqIngest,
        key: record.key,
        value: omitValue ? Buffer.alloc(0) : (record.value ?? Buffer.alloc(0)),
        headers,
      },
    };
  };

  const type =
    text(record.headers['ce_type']) ?? (channel.types.length === 1 ? channel.types[0] : undefined);
  if (type === undefined)
    return deadLetter(`no ce_type header, and ${channel.topic} carries several event types`);
  const eventType = contract.get(type);
  if (!eventType || eventType.topic !== channel.topic)
    return deadLetter(`event type "${type}" does not belong to channel ${channel.topic}`);
  if (record.value === null || record.value.length === 0)
    return deadLetter('the record has no value');
  // Also what keeps a record near Kafka's batch limit from stalling the bridge: with its
  // CloudEvent headers added it could never be written. Its dead letter does not copy the value
  // (that could not be written either); the source topic holds it at the named position.
  if (record.value.length > maxEventBytes)
    return deadLetter(
      `the value is ${record.value.length} bytes; an event may have at most ${maxEventBytes}`,
      [],
      true,
    );

  let data: unknown;
  try {
    data = JSON.parse(record.value.toString('utf8')) as unknown;
  } catch (error) {
    return deadLetter(
      `the value is not JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const result = contract.validate(type, data);
  if (!result.ok) return deadLetter(`the payload breaks the ${type} schema`, result.errors);

  // An empty or missing attribute takes its default; a time that is not RFC 3339 (`2024-05-01`)
  // gives way to the record's own timestamp.
  const given = (name: string) => text(record.headers[name]) || undefined;
  const time = given('ce_time');
  const traceparent = text(record.headers['traceparent']);
  const subject = text(record.headers['ce_subject']);
  // The producer's key bytes as they are (a binary key must map to the same partition).
  const key = record.key ?? contract.keyOf(type, data) ?? null;
  const headers = toKafkaHeaders({
    id: given('ce_id') ?? `${record.topic}-${record.partition}-${record.offset}`,
    source: given('ce_source') ?? eventType.source,
    type,
    time:
      time !== undefined && isRfc3339Time(time)
        ? time
        : new Date(Number(record.timestamp)).toISOString(),
    ...(subject === undefined ? {} : { subject }),
    ...(traceparent === undefined ? {} : { traceparent }),
  });
  // What fanout and the streams will read back: a record they would skip goes to the DLQ here.
  const readBack = fromKafkaHeaders(headers);
  if (!readBack.ok)
    return deadLetter(`the CloudEvent attributes are not valid: ${readBack.reason}`);
  return { kind: 'event', record: { topic: eventType.topic, key, value: record.value, headers } };
}
