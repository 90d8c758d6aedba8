import { tmfEventType } from './tmf688-event-type';

/** How a subscription wants its webhook bodies shaped. */
export type WebhookFormat = 'cloudevents' | 'standard' | 'tmf688';
export const WEBHOOK_FORMATS: readonly WebhookFormat[] = ['cloudevents', 'standard', 'tmf688'];
export const DEFAULT_WEBHOOK_FORMAT: WebhookFormat = 'cloudevents';

/** The event as the delivery engine hands it over: CloudEvents attributes plus the payload. */
export interface DeliveryEvent {
  readonly id: string;
  readonly type: string;
  readonly source: string;
  /** RFC 3339 time the event happened. */
  readonly time: string;
  readonly data: unknown;
  /**
   * `data` as the JSON text it was read from, when it came as JSON. Bodies embed this text
   * instead of serializing `data` again: cheaper, and numbers beyond 2^53 keep every digit.
   */
  readonly dataJson?: string;
  readonly subject?: string;
  /** Media type of `data`; absent means JSON. */
  readonly datacontenttype?: string;
  /** The producer's `dataschema`, when it gave one. */
  readonly dataschema?: string;
  /** The producer's extension attributes (valid names, none a core attribute's). */
  readonly extensions?: Readonly<Record<string, string>>;
  /** W3C trace context of the producer, forwarded so receivers can join the trace. */
  readonly traceparent?: string;
}

export interface WebhookBody {
  /** Exactly the bytes that are signed and sent. */
  readonly body: string;
  readonly contentType: string;
}

export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json';
export const JSON_CONTENT_TYPE = 'application/json';

// Every subscription an event goes to gets the same bytes for a format: serialised once per event.
const built = new WeakMap<DeliveryEvent, Partial<Record<WebhookFormat, WebhookBody>>>();

/** The body and content type for `event` in `format` (made once per event and format). */
export function buildWebhookBody(event: DeliveryEvent, format: WebhookFormat): WebhookBody {
  let formats = built.get(event);
  if (!formats) {
    formats = {};
    built.set(event, formats);
  }
  return (formats[format] ??= makeWebhookBody(event, format));
}

function makeWebhookBody(event: DeliveryEvent, format: WebhookFormat): WebhookBody {
  switch (format) {
    case 'cloudevents':
      return {
        body: withRawData(structuredCloudEvent(event), 'data', event),
        contentType: CLOUDEVENTS_CONTENT_TYPE,
      };
    case 'standard':
      return {
        body: withRawData(standardPayload(event), 'data', event),
        contentType: JSON_CONTENT_TYPE,
      };
    case 'tmf688':
      return {
        body: withRawData(tmf688Payload(event), 'event', event),
        contentType: JSON_CONTENT_TYPE,
      };
  }
}

/**
 * `shape` as JSON, its `field` (the event's data, last in `shape`) spliced in as the event's own
 * JSON text when there is one, rather than serialized again.
 */
function withRawData(shape: Record<string, unknown>, field: string, event: DeliveryEvent): string {
  if (event.dataJson === undefined || !(field in shape)) return JSON.stringify(shape);
  const { [field]: _data, ...rest } = shape;
  const head = JSON.stringify(rest);
  return `${head.slice(0, -1)}${head.length > 2 ? ',' : ''}"${field}":${event.dataJson}}`;
}

/** The event as a structured-mode CloudEvents 1.0 JSON object. */
export function structuredCloudEvent(event: DeliveryEvent): Record<string, unknown> {
  const cloudEvent: Record<string, unknown> = {
    specversion: '1.0',
    id: event.id,
    source: event.source,
    type: event.type,
    time: event.time,
    datacontenttype: event.datacontenttype ?? JSON_CONTENT_TYPE,
  };
  if (event.subject !== undefined) cloudEvent['subject'] = event.subject;
  if (event.dataschema !== undefined) cloudEvent['dataschema'] = event.dataschema;
  // The producer's extensions, as streams carry them (the Kafka codec checked their names).
  if (event.extensions !== undefined)
    for (const name in event.extensions)
      if (!(name in cloudEvent)) cloudEvent[name] = event.extensions[name];
  // The distributed-tracing extension attribute, so the trace survives structured mode.
  if (event.traceparent !== undefined) cloudEvent['traceparent'] = event.traceparent;
  if (event.data instanceof Uint8Array)
    cloudEvent['data_base64'] = Buffer.from(event.data).toString('base64');
  else if (event.data !== undefined) cloudEvent['data'] = event.data;
  return cloudEvent;
}

/** The Standard Webhooks payload shape `{type, timestamp, data}`. */
export function standardPayload(event: DeliveryEvent): {
  type: string;
  timestamp: string;
  data: unknown;
} {
  return { type: event.type, timestamp: event.time, data: event.data ?? null };
}

/** The TMF688 notification shape `{eventId, eventTime, eventType, event}`. */
export function tmf688Payload(event: DeliveryEvent): {
  eventId: string;
  eventTime: string;
  eventType: string;
  event: unknown;
} {
  return {
    eventId: event.id,
    eventTime: event.time,
    eventType: tmfEventType(event.type),
    event: event.data ?? null,
  };
}
