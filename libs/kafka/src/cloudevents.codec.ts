// CloudEvents 1.0 Kafka protocol binding, binary mode: attributes travel as `ce_*` headers and the
// record value is the data. Pure functions; no I/O.
import { CloudEventAttributesError } from './kafka.errors';

export const CLOUDEVENTS_SPEC_VERSION = '1.0';
export const JSON_CONTENT_TYPE = 'application/json';

/** The attributes of one event, as Herald writes them on channel topics. */
export interface CloudEventAttributes {
  id: string;
  source: string;
  type: string;
  /** RFC 3339 timestamp. */
  time: string;
  subject?: string;
  /** Default `application/json`. */
  datacontenttype?: string;
  dataschema?: string;
  /** W3C trace context, carried in the `traceparent` header. */
  traceparent?: string;
  /** Extension attributes: lower-case letters and digits, 1-20 characters each. */
  extensions?: Record<string, string>;
}

export type KafkaHeaderValue = Buffer | string | undefined;

export type ParsedCloudEvent =
  { ok: true; attributes: CloudEventAttributes } | { ok: false; reason: string };

// Attributes with a dedicated field; an extension may not reuse these names.
const CORE = new Set([
  'specversion',
  'id',
  'source',
  'type',
  'time',
  'subject',
  'datacontenttype',
  'dataschema',
  'data',
  'data_base64',
  'traceparent',
]);
const EXTENSION_NAME = /^[a-z0-9]{1,20}$/;
const RFC3339 =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

/** Headers for a record in binary mode. Throws `CloudEventAttributesError` for an unusable extension name. */
export function toKafkaHeaders(attributes: CloudEventAttributes): Record<string, string> {
  const headers: Record<string, string> = {
    ce_specversion: CLOUDEVENTS_SPEC_VERSION,
    ce_id: attributes.id,
    ce_source: attributes.source,
    ce_type: attributes.type,
    ce_time: attributes.time,
  };
  if (attributes.subject !== undefined) headers['ce_subject'] = attributes.subject;
  if (attributes.dataschema !== undefined) headers['ce_dataschema'] = attributes.dataschema;
  headers['content-type'] = attributes.datacontenttype ?? JSON_CONTENT_TYPE;
  if (attributes.traceparent !== undefined) headers['traceparent'] = attributes.traceparent;
  for (const [name, value] of Object.entries(attributes.extensions ?? {})) {
    if (!EXTENSION_NAME.test(name) || CORE.has(name))
      throw new CloudEventAttributesError(
        `"${name}" cannot be a CloudEvents extension name (lower-case letters and digits, not a core attribute)`,
      );
    headers[`ce_${name}`] = value;
  }
  return headers;
}

/** Reads and checks the attributes of a binary-mode record. Header names are matched case-insensitively. */
/**
 * Whether `time` is an RFC 3339 date-time on a real calendar day, as `ce_time` and every time
 * Herald takes must be: `2024-02-30` is refused (Date.parse would roll it over to March), and so
 * is a leap second (`:60`), which a JavaScript time cannot hold.
 */
export function isRfc3339Time(time: string): boolean {
  if (!RFC3339.test(time)) return false;
  const [year, month, day] = time.slice(0, 10).split('-').map(Number) as [number, number, number];
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate() && !Number.isNaN(Date.parse(time));
}

export function fromKafkaHeaders(headers: Record<string, KafkaHeaderValue>): ParsedCloudEvent {
  const values = new Map<string, string>();
  for (const [name, value] of Object.entries(headers))
    if (value !== undefined)
      values.set(name.toLowerCase(), typeof value === 'string' ? value : value.toString('utf8'));

  const specversion = values.get('ce_specversion');
  if (specversion === undefined) return { ok: false, reason: 'missing ce_specversion header' };
  if (specversion !== CLOUDEVENTS_SPEC_VERSION)
    return { ok: false, reason: `unsupported ce_specversion "${specversion}" (expected 1.0)` };
  for (const name of ['id', 'source', 'type', 'time'])
    if (!values.get(`ce_${name}`)) return { ok: false, reason: `missing or empty ce_${name}` };
  const time = values.get('ce_time')!;
  if (!isRfc3339Time(time))
    return { ok: false, reason: `ce_time "${time}" is not an RFC 3339 timestamp` };

  const attributes: CloudEventAttributes = {
    id: values.get('ce_id')!,
    source: values.get('ce_source')!,
    type: values.get('ce_type')!,
    time,
    datacontenttype: values.get('content-type') ?? JSON_CONTENT_TYPE,
  };
  const subject = values.get('ce_subject');
  if (subject !== undefined) attributes.subject = subject;
  const dataschema = values.get('ce_dataschema');
  if (dataschema !== undefined) attributes.dataschema = dataschema;
  // Some producers prefix it like any attribute; the plain header wins when both are there.
  const traceparent = values.get('traceparent') ?? values.get('ce_traceparent');
  if (traceparent !== undefined) attributes.traceparent = traceparent;

  const extensions: Record<string, string> = {};
  for (const [name, value] of values) {
    if (!name.startsWith('ce_')) continue;
    const attribute = name.slice(3);
    if (CORE.has(attribute)) continue;
    if (!EXTENSION_NAME.test(attribute))
      return { ok: false, reason: `header ${name} is not a valid CloudEvents attribute name` };
    extensions[attribute] = value;
  }
  if (Object.keys(extensions).length > 0) attributes.extensions = extensions;
  return { ok: true, attributes };
}

/**
 * The structured-mode JSON object of an event (webhook bodies, SSE/WebSocket messages). `data`
 * is the decoded payload; a Buffer becomes `data_base64`.
 */
export function toStructuredEvent(
  attributes: CloudEventAttributes,
  data: unknown,
): Record<string, unknown> {
  const event: Record<string, unknown> = {
    specversion: CLOUDEVENTS_SPEC_VERSION,
    id: attributes.id,
    source: attributes.source,
    type: attributes.type,
    time: attributes.time,
    datacontenttype: attributes.datacontenttype ?? JSON_CONTENT_TYPE,
  };
  if (attributes.subject !== undefined) event['subject'] = attributes.subject;
  if (attributes.dataschema !== undefined) event['dataschema'] = attributes.dataschema;
  if (attributes.traceparent !== undefined) event['traceparent'] = attributes.traceparent;
  for (const [name, value] of Object.entries(attributes.extensions ?? {}))
    if (!CORE.has(name)) event[name] = value;
  if (Buffer.isBuffer(data)) event['data_base64'] = data.toString('base64');
  else if (data !== undefined) event['data'] = data;
  return event;
}
