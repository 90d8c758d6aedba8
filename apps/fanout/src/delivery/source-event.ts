import { structuredCloudEvent, type DeliveryEvent } from '@herald/delivery';
import {
  fromKafkaHeaders,
  isHeraldTopic,
  JSON_CONTENT_TYPE,
  type IncomingRecord,
} from '@herald/kafka';

/** One event read from a channel topic, parsed once for every subscription it goes to. */
export interface SourceEvent {
  readonly topic: string;
  readonly partition: number;
  /** Kafka offsets are 64-bit; numbers are exact up to 2^53, far beyond any real partition. */
  readonly offset: number;
  /** The record key (the partition key), or null. */
  readonly key: string | null;
  /** When Kafka stored the record (ms since the epoch). */
  readonly timestampMs: number;
  /** The event time (`ce_time`) in ms, or the Kafka timestamp if that does not parse. */
  readonly eventTimeMs: number;
  readonly event: DeliveryEvent;
  /**
   * The tenant an internal event (`herald.*`) is about; only that tenant's subscriptions get
   * it. Null for producers' events, which every tenant may subscribe to.
   */
  readonly tenant: string | null;
}

export type ParsedSourceEvent =
  | { readonly ok: true; readonly source: SourceEvent }
  | { readonly ok: false; readonly reason: string };

/**
 * Reads a channel record (CloudEvents Kafka binding, binary mode) into a SourceEvent. A record
 * that is not a valid event is reported, never thrown: bad input must not stop a partition.
 */
export function parseSourceEvent(record: IncomingRecord): ParsedSourceEvent {
  const attributes = fromKafkaHeaders(record.headers);
  if (!attributes.ok) return { ok: false, reason: attributes.reason };
  const { id, type, source, time, subject, datacontenttype, dataschema, traceparent, extensions } =
    attributes.attributes;
  let data: unknown = undefined;
  let dataJson: string | undefined;
  if (record.value !== null && record.value.length > 0) {
    if (
      datacontenttype === undefined ||
      datacontenttype === JSON_CONTENT_TYPE ||
      /[/+]json(;|$)/i.test(datacontenttype)
    ) {
      try {
        dataJson = record.value.toString('utf8');
        data = JSON.parse(dataJson);
      } catch {
        return { ok: false, reason: 'the record value is not JSON' };
      }
    } else {
      data = new Uint8Array(record.value);
    }
  }
  // Optional attributes only when present (no spreads: this runs once per event read).
  const event: { -readonly [K in keyof DeliveryEvent]: DeliveryEvent[K] } = {
    id,
    type,
    source,
    time,
    data,
  };
  if (dataJson !== undefined) event.dataJson = dataJson;
  if (subject !== undefined) event.subject = subject;
  if (datacontenttype !== undefined) event.datacontenttype = datacontenttype;
  if (dataschema !== undefined) event.dataschema = dataschema;
  if (extensions !== undefined) event.extensions = extensions;
  if (traceparent !== undefined) event.traceparent = traceparent;
  return {
    ok: true,
    source: {
      topic: record.topic,
      partition: record.partition,
      offset: Number(record.offset),
      key: record.key === null ? null : record.key.toString('utf8'),
      timestampMs: Number(record.timestamp),
      eventTimeMs: attributes.timeMs,
      event,
      tenant: isHeraldTopic(record.topic) ? tenantOf(data) : null,
    },
  };
}

/** `time` (RFC 3339) in ms since the epoch, or `fallbackMs` when it does not parse. */
export function eventTimeMs(time: string, fallbackMs: number): number {
  const at = Date.parse(time);
  return Number.isNaN(at) ? fallbackMs : at;
}

function tenantOf(data: unknown): string | null {
  if (typeof data !== 'object' || data === null) return null;
  const tenant = (data as { tenant?: unknown }).tenant;
  return typeof tenant === 'string' ? tenant : null;
}

/** The structured CloudEvent filters are evaluated against (`type`, `source`, `data.…`). */
export function filterView(source: SourceEvent): Readonly<Record<string, unknown>> {
  return structuredCloudEvent(source.event);
}
