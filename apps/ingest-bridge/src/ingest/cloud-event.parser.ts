import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { isRfc3339Time } from '@herald/kafka';
import { isTraceparent } from '@herald/observability';
import type { IncomingEvent } from './incoming-event';
import { InvalidEventError, type Violation } from './ingest.errors';
import { scanJsonText, type JsonSpan } from './json-text.scanner';

// Parsers for the HTTP forms of SPEC §4. Pure: bytes and headers in, IncomingEvents or
// InvalidEventError out.

type Headers = Record<string, string | string[] | undefined>;

const EXTENSION_NAME = /^[a-z0-9]{1,20}$/;
const CORE_ATTRIBUTES = new Set([
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
]);
/**
 * The longest attribute value (id, source, subject, an extension), in characters (UTF-16 code
 * units, as `String.length` counts them); the bridge holds Kafka producers' headers to it too.
 */
export const MAX_ATTRIBUTE_LENGTH = 1024;

/** Why an attribute value is refused for its length, or undefined when it is short enough. */
export function attributeTooLong(value: string): string | undefined {
  return value.length > MAX_ATTRIBUTE_LENGTH
    ? `must be at most ${MAX_ATTRIBUTE_LENGTH} characters`
    : undefined;
}
/**
 * What a header value may hold as it is: visible ASCII, spaces and tabs. HTTP hands other bytes
 * over as Latin-1 text, so UTF-8 sent raw (`ce-id: café`) would be written as `cafÃ©`.
 */
const ASCII_HEADER = /^[\t\x20-\x7e]*$/;

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * `%XX` sequences turned into the bytes they stand for, read as UTF-8 (CloudEvents HTTP binding,
 * 3.1.3.2); a `%` not followed by two hex digits stays as it is. Undefined when the bytes are
 * not UTF-8.
 */
export function percentDecode(value: string): string | undefined {
  if (!value.includes('%')) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const hex = value.slice(i + 1, i + 3);
    if (value[i] === '%' && /^[0-9a-f]{2}$/i.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(value.charCodeAt(i)); // ASCII, as checked before
  }
  const buffer = Buffer.from(bytes);
  return isUtf8(buffer) ? buffer.toString('utf8') : undefined;
}

/**
 * A header's value as text, `ce-*` headers percent-decoded; `null` when it is refused (raw bytes
 * past ASCII, or encoded bytes that are not UTF-8), the reason added to `errors`.
 */
function headerValue(
  headers: Headers,
  name: string,
  errors: Violation[],
): string | undefined | null {
  const raw = header(headers, name);
  if (raw === undefined) return undefined;
  const pointer = `/headers/${name}`;
  const cloudEvents = name.startsWith('ce-');
  if (!ASCII_HEADER.test(raw)) {
    errors.push({
      pointer,
      message: cloudEvents
        ? 'must be ASCII: percent-encode other characters as UTF-8 (%C3%A9 for é), as the CloudEvents HTTP binding says'
        : 'must be ASCII (visible characters, spaces and tabs)',
    });
    return null;
  }
  if (!cloudEvents) return raw;
  const decoded = percentDecode(raw);
  if (decoded === undefined) {
    errors.push({ pointer, message: 'its percent-encoded bytes are not UTF-8' });
    return null;
  }
  return decoded;
}

/** A string attribute taken from header `name` (see headerValue and checkString). */
function headerString(
  headers: Headers,
  name: string,
  errors: Violation[],
  required: boolean,
): string | undefined {
  const value = headerValue(headers, name, errors);
  return value === null ? undefined : checkString(value, `/headers/${name}`, errors, required);
}

/**
 * The charset a content type declares when it is not UTF-8 (RFC 8259: JSON is UTF-8, and
 * Herald reads it so); undefined when it declares none or UTF-8.
 */
export function nonUtf8Charset(contentType: string): string | undefined {
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(contentType)?.[1];
  return charset === undefined || /^utf-?8$/i.test(charset) ? undefined : charset;
}

/** A JSON body as parsed, with its text and the spans of the values asked for (see scanJsonText). */
export interface JsonBody {
  value: unknown;
  text: string;
  spans: Map<string, JsonSpan>;
}

/**
 * `body` parsed as JSON, with the spans of the values `wanted` picks. Refused (400): an empty
 * body, bytes that are not UTF-8, a byte order mark (RFC 8259 §8.1: JSON text has none), text
 * that is not JSON, and an object repeating a member name (JSON.parse would keep the last, while
 * the bytes written would carry both: another reader may keep the first, which was not checked).
 */
export function readJson(
  body: Buffer,
  wanted?: (path: readonly string[]) => boolean,
  pointer = '',
): JsonBody {
  if (body.length === 0)
    throw new InvalidEventError('The request body is empty', [
      { pointer, message: 'a JSON body is required' },
    ]);
  // JSON is UTF-8 (RFC 8259); decoding would silently turn bad bytes into U+FFFD.
  if (!isUtf8(body))
    throw new InvalidEventError('The request body is not valid UTF-8', [
      { pointer, message: `invalid UTF-8 at byte ${invalidUtf8Offset(body)}` },
    ]);
  const text = body.toString('utf8');
  if (text.startsWith(BYTE_ORDER_MARK))
    throw new InvalidEventError('The request body is not valid JSON', [
      { pointer, message: BYTE_ORDER_MARK_MESSAGE },
    ]);
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new InvalidEventError('The request body is not valid JSON', [{ pointer, message }]);
  }
  const scan = scanJsonText(text, wanted);
  if (scan.duplicate !== undefined)
    throw new InvalidEventError('The request body repeats a member name in an object', [
      { pointer: `${pointer}${scan.duplicate}`, message: DUPLICATE_MEMBER_MESSAGE },
    ]);
  return { value, text, spans: scan.spans };
}

export function parseJson(body: Buffer, pointer = ''): unknown {
  return readJson(body, undefined, pointer).value;
}

/** What a value starting with U+FEFF is told, over HTTP and in a dead letter. */
export const BYTE_ORDER_MARK_MESSAGE =
  'starts with a byte order mark (EF BB BF), which JSON text must not have (RFC 8259 §8.1)';
/** What a repeated member name is told, over HTTP and in a dead letter. */
export const DUPLICATE_MEMBER_MESSAGE =
  'repeats a member name already in this object; names must be unique (JSON readers differ on which one they keep)';
const BYTE_ORDER_MARK = '\uFEFF';

/** The text of the whole of a JSON body, without the whitespace around it. */
function wholeText(body: JsonBody): string {
  const span = body.spans.get('')!;
  return body.text.slice(span.start, span.end);
}

/**
 * Where the first byte sequence that is not UTF-8 starts (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF), or -1.
 */
export function invalidUtf8Offset(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length;) {
    const lead = bytes[i]!;
    if (lead < 0x80) {
      i += 1;
      continue;
    }
    const length =
      lead >= 0xc2 && lead <= 0xdf
        ? 2
        : lead >= 0xe0 && lead <= 0xef
          ? 3
          : lead >= 0xf0 && lead <= 0xf4
            ? 4
            : 0;
    if (length === 0) return i;
    // The second byte's range rules out overlong forms, surrogates and code points past U+10FFFF.
    const low = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
    const high = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k < length; k++) {
      const byte = bytes[i + k];
      if (byte === undefined || byte < (k === 1 ? low : 0x80) || byte > (k === 1 ? high : 0xbf))
        return i;
    }
    i += length;
  }
  return -1;
}

function checkTime(value: unknown, pointer: string, errors: Violation[]): string {
  if (value === undefined) return new Date().toISOString();
  if (typeof value !== 'string' || !isRfc3339Time(value)) {
    errors.push({ pointer, message: 'must be an RFC 3339 timestamp' });
    return '';
  }
  return value;
}

function checkString(
  value: unknown,
  pointer: string,
  errors: Violation[],
  required: boolean,
): string | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || value.length === 0) {
    errors.push({ pointer, message: 'must be a non-empty string' });
    return undefined;
  }
  const tooLong = attributeTooLong(value);
  if (tooLong !== undefined) {
    errors.push({ pointer, message: tooLong });
    return undefined;
  }
  return value;
}

function checkTraceparent(
  value: string | undefined,
  pointer: string,
  errors: Violation[],
): string | undefined {
  if (value === undefined) return undefined;
  if (!isTraceparent(value))
    errors.push({ pointer, message: 'must be a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)' });
  return value;
}

/**
 * The trace context: the W3C `traceparent` header, or `ce-traceparent`, as a binary-mode producer
 * may prefix it like any attribute (the plain header wins when both are there, as on Kafka).
 */
function traceparentHeader(headers: Headers, errors: Violation[]): string | undefined {
  const plain = header(headers, 'traceparent');
  if (plain !== undefined) return checkTraceparent(plain, '/headers/traceparent', errors);
  return checkTraceparent(header(headers, 'ce-traceparent'), '/headers/ce-traceparent', errors);
}

/**
 * The attributes both header forms take alike: subject, data schema, the content type (the
 * request's, which is the data's), key override, time and trace context.
 */
function optionalHeaderAttributes(headers: Headers, errors: Violation[]) {
  const time = headerValue(headers, 'ce-time', errors);
  const dataschema = headerString(headers, 'ce-dataschema', errors, false);
  const datacontenttype = header(headers, 'content-type');
  return {
    ...(dataschema === undefined ? {} : { dataschema }),
    ...(datacontenttype === undefined ? {} : { datacontenttype }),
    subject: headerString(headers, 'ce-subject', errors, false),
    key: headerString(headers, 'herald-key', errors, false),
    time: time === null ? '' : checkTime(time, '/headers/ce-time', errors),
    traceparent: traceparentHeader(headers, errors),
  };
}

/** `POST /v1/events/{type}`: the body is the payload; attributes come from headers. */
export function parseTypedEvent(type: string, body: Buffer, headers: Headers): IncomingEvent {
  const errors: Violation[] = [];
  // `ce-id` wins when both are sent; a problem names the header the id came from.
  const idHeader = header(headers, 'ce-id') === undefined ? 'idempotency-key' : 'ce-id';
  const id = headerString(headers, idHeader, errors, false);
  const source = headerString(headers, 'ce-source', errors, false);
  const { subject, key, time, traceparent, ...described } = optionalHeaderAttributes(
    headers,
    errors,
  );
  if (errors.length > 0) throw new InvalidEventError('Invalid event headers', errors);
  // The data is written as the producer's text: re-serialized, a number past 2^53 would change.
  const json = readJson(body, (path) => path.length === 0);
  const dataJson = wholeText(json);
  return {
    id: id ?? randomUUID(),
    idGiven: id !== undefined,
    type,
    source,
    time,
    subject,
    data: json.value,
    dataJson,
    traceparent,
    key,
    extensions: {},
    ...described,
    dataPointer: '',
  };
}

/** `POST /v1/events` in binary mode: `ce-*` headers carry the attributes, the body is the data. */
export function parseBinaryEvent(body: Buffer, headers: Headers): IncomingEvent {
  const errors: Violation[] = [];
  const specversion = headerValue(headers, 'ce-specversion', errors);
  if (specversion !== '1.0' && specversion !== null)
    errors.push({ pointer: '/headers/ce-specversion', message: 'must be "1.0"' });
  const id = headerString(headers, 'ce-id', errors, true);
  const type = headerString(headers, 'ce-type', errors, true);
  const source = headerString(headers, 'ce-source', errors, true);
  const { subject, key, time, traceparent, ...described } = optionalHeaderAttributes(
    headers,
    errors,
  );
  const extensions: Record<string, string> = {};
  for (const name of Object.keys(headers)) {
    if (!name.startsWith('ce-')) continue;
    const attribute = name.slice(3);
    // `ce-traceparent` is the trace context (read above), never an extension: Kafka's binding
    // keeps that name for it, and an extension of that name could not be written.
    if (CORE_ATTRIBUTES.has(attribute) || attribute === 'traceparent') continue;
    if (!EXTENSION_NAME.test(attribute)) {
      errors.push({
        pointer: `/headers/${name}`,
        message: 'extension names are 1-20 lower-case letters or digits',
      });
      continue;
    }
    const value = headerValue(headers, name, errors);
    if (typeof value !== 'string') continue;
    const tooLong = attributeTooLong(value);
    if (tooLong === undefined) extensions[attribute] = value;
    else errors.push({ pointer: `/headers/${name}`, message: tooLong });
  }
  if (errors.length > 0) throw new InvalidEventError('Invalid CloudEvent headers', errors);
  const json = readJson(body, (path) => path.length === 0);
  const dataJson = wholeText(json);
  return {
    id: id!,
    idGiven: true,
    type: type!,
    source,
    time,
    subject,
    data: json.value,
    dataJson,
    traceparent,
    key,
    extensions,
    ...described,
    dataPointer: '',
  };
}

/** What the request's headers add to structured-mode events: the key override and trace context. */
interface StructuredContext {
  key: string | undefined;
  traceparent: string | undefined;
}

/** The headers a structured event or batch takes, checked once for the whole request. */
function structuredContext(headers: Headers, errors: Violation[]): StructuredContext {
  return {
    key: headerString(headers, 'herald-key', errors, false),
    traceparent: checkTraceparent(header(headers, 'traceparent'), '/headers/traceparent', errors),
  };
}

/**
 * One structured-mode CloudEvent object at `pointer` (`''`, or `/3` inside a batch); `dataText`
 * is its `data` member as the producer wrote it, which is what is written to Kafka.
 */
export function structuredEvent(
  value: unknown,
  pointer: string,
  context: StructuredContext,
  errors: Violation[],
  dataText: string | undefined,
): IncomingEvent | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    errors.push({ pointer: pointer || '/', message: 'must be a CloudEvent object' });
    return undefined;
  }
  const event = value as Record<string, unknown>;
  const before = errors.length;
  if (event.specversion !== '1.0')
    errors.push({ pointer: `${pointer}/specversion`, message: 'must be "1.0"' });
  const id = checkString(event.id, `${pointer}/id`, errors, true);
  const type = checkString(event.type, `${pointer}/type`, errors, true);
  const source = checkString(event.source, `${pointer}/source`, errors, true);
  const subject = checkString(event.subject, `${pointer}/subject`, errors, false);
  const time = checkTime(event.time, `${pointer}/time`, errors);
  const dataschema = checkString(event.dataschema, `${pointer}/dataschema`, errors, false);
  const contentType = event.datacontenttype;
  if (
    contentType !== undefined &&
    (typeof contentType !== 'string' ||
      !/^application\/([a-z0-9.+-]+\+)?json(\s*;.*)?$/i.test(contentType))
  ) {
    errors.push({
      pointer: `${pointer}/datacontenttype`,
      message: 'must be application/json (Herald carries JSON payloads)',
    });
  }
  if ('data_base64' in event)
    errors.push({
      pointer: `${pointer}/data_base64`,
      message: 'binary data is not accepted; send JSON in data',
    });
  if (!('data' in event)) errors.push({ pointer: `${pointer}/data`, message: 'is required' });
  const extensions: Record<string, string> = {};
  let traceparent: string | undefined;
  for (const [name, attribute] of Object.entries(event)) {
    if (CORE_ATTRIBUTES.has(name)) continue;
    if (name === 'traceparent') {
      traceparent = checkTraceparent(
        typeof attribute === 'string' ? attribute : '',
        `${pointer}/traceparent`,
        errors,
      );
      continue;
    }
    if (!EXTENSION_NAME.test(name)) {
      errors.push({
        pointer: `${pointer}/${name}`,
        message: 'extension names are 1-20 lower-case letters or digits',
      });
    } else if (
      typeof attribute === 'string' ||
      typeof attribute === 'number' ||
      typeof attribute === 'boolean'
    ) {
      const text = String(attribute);
      const tooLong = attributeTooLong(text);
      if (tooLong === undefined) extensions[name] = text;
      else errors.push({ pointer: `${pointer}/${name}`, message: tooLong });
    } else {
      errors.push({
        pointer: `${pointer}/${name}`,
        message: 'extension values must be strings, numbers or booleans',
      });
    }
  }
  if (errors.length > before) return undefined;
  try {
    // Readers downstream re-serialize the data (webhook bodies, streams): JSON.parse reads
    // nesting (thousands deep) that JSON.stringify's recursion cannot write back.
    JSON.stringify(event.data);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    errors.push({ pointer: `${pointer}/data`, message: 'nests too deeply to be carried' });
    return undefined;
  }
  // The producer's own text: re-serialized, a number past 2^53, -0 or 1.0 would change.
  const dataJson = dataText ?? JSON.stringify(event.data);
  return {
    id: id!,
    idGiven: true,
    type: type!,
    source,
    time,
    subject,
    data: event.data,
    dataJson,
    traceparent: traceparent ?? context.traceparent,
    // In a batch the key override would apply to every event: honour it only for a single event.
    key: pointer === '' ? context.key : undefined,
    extensions,
    ...(dataschema === undefined ? {} : { dataschema }),
    ...(typeof contentType === 'string' ? { datacontenttype: contentType } : {}),
    dataPointer: `${pointer}/data`,
  };
}

/** `POST /v1/events` with `application/cloudevents+json`. */
export function parseStructuredEvent(body: Buffer, headers: Headers): IncomingEvent {
  const errors: Violation[] = [];
  const context = structuredContext(headers, errors);
  if (errors.length > 0) throw new InvalidEventError('Invalid CloudEvent headers', errors);
  const json = readJson(body, (path) => path.length === 1 && path[0] === 'data');
  const span = json.spans.get('/data');
  const dataText = span && json.text.slice(span.start, span.end);
  const event = structuredEvent(json.value, '', context, errors, dataText);
  if (!event) throw new InvalidEventError('Invalid CloudEvent', errors);
  return event;
}

/** A batch's members, not yet parsed into events, and the text of each one's `data` as sent. */
export interface BatchArray {
  items: unknown[];
  dataTexts: (string | undefined)[];
}

/** `POST /v1/events` with `application/cloudevents-batch+json`: the JSON array, not yet parsed into events. */
export function parseBatchArray(body: Buffer): BatchArray {
  const json = readJson(body, (path) => path.length === 2 && path[1] === 'data');
  const value = json.value;
  if (!Array.isArray(value)) {
    throw new InvalidEventError('A batch must be a JSON array of CloudEvents', [
      { pointer: '', message: 'must be an array' },
    ]);
  }
  if (value.length === 0)
    throw new InvalidEventError('A batch must hold at least one event', [
      { pointer: '', message: 'is empty' },
    ]);
  const dataTexts = value.map((_, index) => {
    const span = json.spans.get(`/${index}/data`);
    return span && json.text.slice(span.start, span.end);
  });
  return { items: value, dataTexts };
}

/** Parses each element of a batch array, collecting every problem before failing. */
export function parseBatchEvents(
  { items, dataTexts }: BatchArray,
  headers: Headers,
): IncomingEvent[] {
  const errors: Violation[] = [];
  const context = structuredContext(headers, errors);
  if (errors.length > 0)
    throw new InvalidEventError('Invalid CloudEvent headers; nothing was written', errors);
  const events: IncomingEvent[] = [];
  items.forEach((item, index) => {
    const event = structuredEvent(item, `/${index}`, context, errors, dataTexts[index]);
    if (event) events.push(event);
  });
  if (errors.length > 0)
    throw new InvalidEventError('Invalid CloudEvents in the batch; nothing was written', errors);
  return events;
}
