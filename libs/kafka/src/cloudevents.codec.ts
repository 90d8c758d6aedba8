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
  | {
      ok: true;
      attributes: CloudEventAttributes;
      /** `time` in ms since the epoch. */
      timeMs: number;
    }
  | { ok: false; reason: string };

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

/**
 * Whether `time` is an RFC 3339 date-time on a real calendar day, as `ce_time` and every time
 * Herald takes must be: `2024-02-30` is refused (Date.parse would roll it over to March), and so
 * is a leap second (`:60`), which a JavaScript time cannot hold.
 */
export function isRfc3339Time(time: string): boolean {
  return !Number.isNaN(rfc3339TimeMs(time));
}

// Days in each month of a common year; February gains one in a leap year.
const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** `time` in ms since the epoch if it is a valid RFC 3339 date-time (see isRfc3339Time), else NaN. */
export function rfc3339TimeMs(time: string): number {
  if (!RFC3339.test(time)) return NaN;
  // The pattern fixed where the digits are: read them without splitting the string.
  const year = digits(time, 0, 4);
  const month = digits(time, 5, 7);
  const day = digits(time, 8, 10);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > MONTH_DAYS[month - 1]! + (month === 2 && leap ? 1 : 0)) return NaN;
  return Date.parse(time);
}

/** The decimal number written in `text` from `start` to `end` (digits only, as checked). */
function digits(text: string, start: number, end: number): number {
  let value = 0;
  for (let i = start; i < end; i++) value = value * 10 + text.charCodeAt(i) - 48;
  return value;
}

/** A header's text: a string as it is, bytes as UTF-8. */
function headerText(value: Buffer | string): string {
  return typeof value === 'string' ? value : value.toString('utf8');
}

/**
 * Reads and checks the attributes of a binary-mode record. Header names are matched
 * case-insensitively; of two that differ only in case, the later one counts. Runs once per record
 * read, so it walks the headers once and builds nothing it does not return.
 */
export function fromKafkaHeaders(headers: Record<string, KafkaHeaderValue>): ParsedCloudEvent {
  let specversion: string | undefined;
  let id: string | undefined;
  let source: string | undefined;
  let type: string | undefined;
  let time: string | undefined;
  let subject: string | undefined;
  let dataschema: string | undefined;
  let contentType: string | undefined;
  let traceparent: string | undefined;
  let prefixedTraceparent: string | undefined;
  let extensions: Map<string, string> | undefined;
  for (const name in headers) {
    if (!Object.hasOwn(headers, name)) continue;
    const value = headers[name];
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    switch (lower) {
      case 'ce_specversion':
        specversion = headerText(value);
        break;
      case 'ce_id':
        id = headerText(value);
        break;
      case 'ce_source':
        source = headerText(value);
        break;
      case 'ce_type':
        type = headerText(value);
        break;
      case 'ce_time':
        time = headerText(value);
        break;
      case 'ce_subject':
        subject = headerText(value);
        break;
      case 'ce_dataschema':
        dataschema = headerText(value);
        break;
      case 'content-type':
        contentType = headerText(value);
        break;
      case 'traceparent':
        traceparent = headerText(value);
        break;
      case 'ce_traceparent':
        prefixedTraceparent = headerText(value);
        break;
      default:
        if (lower.startsWith('ce_') && !CORE.has(lower.slice(3)))
          (extensions ??= new Map()).set(lower, headerText(value));
    }
  }

  if (specversion === undefined) return { ok: false, reason: 'missing ce_specversion header' };
  if (specversion !== CLOUDEVENTS_SPEC_VERSION)
    return { ok: false, reason: `unsupported ce_specversion "${specversion}" (expected 1.0)` };
  if (!id) return { ok: false, reason: 'missing or empty ce_id' };
  if (!source) return { ok: false, reason: 'missing or empty ce_source' };
  if (!type) return { ok: false, reason: 'missing or empty ce_type' };
  if (!time) return { ok: false, reason: 'missing or empty ce_time' };
  const timeMs = rfc3339TimeMs(time);
  if (Number.isNaN(timeMs))
    return { ok: false, reason: `ce_time "${time}" is not an RFC 3339 timestamp` };

  const attributes: CloudEventAttributes = {
    id,
    source,
    type,
    time,
    datacontenttype: contentType ?? JSON_CONTENT_TYPE,
  };
  if (subject !== undefined) attributes.subject = subject;
  if (dataschema !== undefined) attributes.dataschema = dataschema;
  // Some producers prefix it like any attribute; the plain header wins when both are there.
  traceparent ??= prefixedTraceparent;
  if (traceparent !== undefined) attributes.traceparent = traceparent;
  if (extensions) {
    const named: Record<string, string> = {};
    for (const [name, value] of extensions) {
      const attribute = name.slice(3);
      if (!EXTENSION_NAME.test(attribute))
        return { ok: false, reason: `header ${name} is not a valid CloudEvents attribute name` };
      named[attribute] = value;
    }
    attributes.extensions = named;
  }
  return { ok: true, attributes, timeMs };
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
