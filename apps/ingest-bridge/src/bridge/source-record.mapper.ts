import { isUtf8 } from 'node:buffer';
import type { ContractRegistry, ContractTopic, SchemaViolation } from '@herald/contract';
import {
  CloudEventAttributesError,
  HERALD_TOPICS,
  fromKafkaHeaders,
  isRfc3339Time,
  recordBytes,
  toKafkaHeaders,
  type IncomingRecord,
  type OutgoingRecord,
} from '@herald/kafka';
import { isTraceparent } from '@herald/observability';
import {
  BYTE_ORDER_MARK_MESSAGE,
  DUPLICATE_MEMBER_MESSAGE,
  MAX_ATTRIBUTE_LENGTH,
  invalidUtf8Offset,
  nonUtf8Charset,
} from '../ingest/cloud-event.parser';
import { jsonTextAt, scanJsonText } from '../ingest/json-text.scanner';

/** Headers a dead-lettered raw record carries besides its own. */
export const DLQ_HEADERS = {
  reason: 'herald-dlq-reason',
  /** The first `MAX_DLQ_ERRORS` schema violations, as JSON `[{pointer, message}]`. */
  errors: 'herald-dlq-errors',
  /** How many schema violations there were in all (at least, with `errorCountIsLowerBound`). */
  errorCount: 'herald-dlq-error-count',
  /**
   * `true` when the payload was too large to count all its violations (more than 2,000 JSON
   * values: it was checked up to its first one), so there may be more than `errorCount`.
   */
  errorCountIsLowerBound: 'herald-dlq-error-count-is-lower-bound',
  sourceTopic: 'herald-dlq-source-topic',
  sourcePartition: 'herald-dlq-source-partition',
  sourceOffset: 'herald-dlq-source-offset',
  at: 'herald-dlq-at',
  /** `true` when the value was too large to copy: the source topic holds it at that position. */
  valueOmitted: 'herald-dlq-value-omitted',
  /** `true` when the raw record's own headers were too large to copy (the source topic holds them). */
  headersOmitted: 'herald-dlq-headers-omitted',
  /** `true` when even the key was too large to copy (the source topic holds it). */
  keyOmitted: 'herald-dlq-key-omitted',
} as const;

/** The most schema violations a dead letter lists; `herald-dlq-error-count` counts them all. */
export const MAX_DLQ_ERRORS = 20;
/** The longest reason, in characters: it quotes the producer's `ce_type`, which may be huge. */
const MAX_REASON_CHARS = 1000;
/** The longest pointer or message of a listed violation, in characters. */
const MAX_VIOLATION_CHARS = 200;
/** The headers the CloudEvent takes its attributes from (`ce_type` is checked by the contract). */
const ATTRIBUTE_HEADERS = [
  'ce_id',
  'ce_source',
  'ce_time',
  'ce_subject',
  'ce_dataschema',
  'traceparent',
] as const;
/**
 * `ce_` headers the bridge writes itself or reads above (the Kafka binding carries the content
 * type in `content-type`); every other one is an attribute of the producer's to carry.
 */
const OWN_HEADERS = new Set([
  'ce_specversion',
  'ce_id',
  'ce_source',
  'ce_type',
  'ce_time',
  'ce_subject',
  'ce_dataschema',
  'ce_datacontenttype',
  'ce_traceparent',
]);
/** The CloudEvents version the bridge writes: a record claiming another is not relabelled. */
const SPEC_VERSION = '1.0';
/** A JSON media type (`application/json`, `application/<x>+json`), its parameters after `;`. */
const JSON_MEDIA_TYPE = /^application\/([a-z0-9!#$&^_.+-]+\+)?json\s*(;.*)?$/i;
/** Years past 9999 print as `+010000-…`, which is not RFC 3339. */
const LAST_RFC3339_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

export interface MapperLimits {
  /** The largest event payload (`HERALD_MAX_EVENT_BYTES`, as for HTTP ingest); no limit when unset. */
  maxEventBytes?: number;
  /**
   * The largest record the bridge writes, in bytes (`KAFKA_PUBLISH_MAX_BATCH_BYTES`, under
   * Kafka's `max.message.bytes`): a record Kafka refuses would stall its source partition for
   * good. No limit when unset.
   */
  maxRecordBytes?: number;
}

export type MappedRecord =
  | { kind: 'event'; record: OutgoingRecord }
  | { kind: 'dead-letter'; record: OutgoingRecord; reason: string };

interface Violations {
  errors: SchemaViolation[];
  errorCount?: number;
  errorCountIsLowerBound?: boolean;
}

function text(value: Buffer | undefined): string | undefined {
  return value === undefined ? undefined : value.toString('utf8');
}

/** Header `name` whatever its case (`Content-Type`), as the CloudEvents codec reads headers. */
function headerAnyCase(
  headers: IncomingRecord['headers'],
  name: string,
): { name: string; value: Buffer } | undefined {
  let found: { name: string; value: Buffer } | undefined;
  for (const [header, value] of Object.entries(headers))
    if (value !== undefined && header.toLowerCase() === name) found = { name: header, value };
  return found;
}

/**
 * What a record says of itself that the bridge cannot republish as it is: a `ce_specversion`
 * other than 1.0 (written as 1.0 it would be relabelled, not read as its producer meant), or a
 * `content-type` / `ce_datacontenttype` that is not JSON in UTF-8, as every contract payload is.
 * Also the producer's own JSON content type, which the CloudEvent carries instead of the default.
 */
function declaredFormat(
  record: IncomingRecord,
  type: string,
): { problem: string } | { contentType: string | undefined } {
  const specversion = headerAnyCase(record.headers, 'ce_specversion');
  if (specversion !== undefined) {
    const problem = headerProblem(specversion.name, specversion.value, true);
    if (problem) return { problem };
    const version = specversion.value.toString('utf8');
    if (version !== '' && version !== SPEC_VERSION)
      return {
        problem: `header ${specversion.name} is "${version}"; the bridge republishes CloudEvents ${SPEC_VERSION} only, and will not relabel a record of another version`,
      };
  }
  let contentType: string | undefined;
  for (const name of ['content-type', 'ce_datacontenttype']) {
    const header = headerAnyCase(record.headers, name);
    if (header === undefined) continue;
    const problem = headerProblem(header.name, header.value, true);
    if (problem) return { problem };
    const value = header.value.toString('utf8').trim();
    if (value === '') continue;
    if (!JSON_MEDIA_TYPE.test(value) || nonUtf8Charset(value) !== undefined)
      return {
        problem: `header ${header.name} is "${value}"; ${type} payloads are JSON in UTF-8 (application/json), and the record would be republished labelled as what it does not say it is`,
      };
    if (name === 'content-type') contentType = value.replace(/\s*;/, ';');
  }
  return { contentType };
}

/**
 * Why header `name` cannot be carried as an attribute: bytes that are not UTF-8 (read as UTF-8
 * they would become U+FFFD: another id, source or subject), or, when `bounded`, more than
 * MAX_ATTRIBUTE_LENGTH characters. Undefined when it can.
 */
function headerProblem(
  name: string,
  value: Buffer | undefined,
  bounded: boolean,
): string | undefined {
  if (value === undefined) return undefined;
  if (!isUtf8(value))
    return `header ${name} is not UTF-8 (invalid byte at ${invalidUtf8Offset(value)})`;
  const length = value.toString('utf8').length;
  if (bounded && length > MAX_ATTRIBUTE_LENGTH)
    return `header ${name} is ${length} characters; at most ${MAX_ATTRIBUTE_LENGTH}`;
  return undefined;
}

/** `value` cut to `max` characters, saying how much was cut. */
function clip(value: string, max: number): string {
  return value.length <= max
    ? value
    : `${value.slice(0, max)}… (${value.length - max} more characters)`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * The event time when `ce_time` gives none: the record's timestamp, or the time of republishing
 * when that is no time a CloudEvent can carry (Kafka's -1 for none, nanoseconds since the epoch,
 * a year past 9999), which `toISOString` would refuse or print as no RFC 3339 time.
 */
function recordTime(timestamp: string, nowIso: string): string {
  const ms = Number(timestamp);
  return Number.isFinite(ms) && ms >= 0 && ms <= LAST_RFC3339_MS
    ? new Date(ms).toISOString()
    : nowIso;
}

/**
 * The dead letter of `record`: its bytes and headers, the reason and the schema violations (both
 * cut to a bounded size). When it would outgrow `maxRecordBytes`, what it copies from the raw
 * record is left out, headers first, then the value, then the key, each marked by its header:
 * the source topic holds the record at the named position.
 */
function deadLetter(
  record: IncomingRecord,
  nowIso: string,
  limits: MapperLimits,
  reason: string,
  violations: Violations = { errors: [] },
): MappedRecord {
  const shortReason = clip(reason, MAX_REASON_CHARS);
  const listed = violations.errors.slice(0, MAX_DLQ_ERRORS).map((violation) => ({
    pointer: clip(violation.pointer, MAX_VIOLATION_CHARS),
    message: clip(violation.message, MAX_VIOLATION_CHARS),
  }));
  const own: Record<string, string> = {
    [DLQ_HEADERS.reason]: shortReason,
    [DLQ_HEADERS.errors]: JSON.stringify(listed),
    [DLQ_HEADERS.errorCount]: String(violations.errorCount ?? violations.errors.length),
    ...(violations.errorCountIsLowerBound ? { [DLQ_HEADERS.errorCountIsLowerBound]: 'true' } : {}),
    [DLQ_HEADERS.sourceTopic]: record.topic,
    [DLQ_HEADERS.sourcePartition]: String(record.partition),
    [DLQ_HEADERS.sourceOffset]: record.offset,
    [DLQ_HEADERS.at]: nowIso,
  };
  const letter = (keep: { headers: boolean; value: boolean; key: boolean }): OutgoingRecord => {
    const headers: Record<string, string | Buffer> = {};
    if (keep.headers)
      for (const [name, value] of Object.entries(record.headers))
        if (value !== undefined) headers[name] = value;
    Object.assign(headers, own);
    if (!keep.value) headers[DLQ_HEADERS.valueOmitted] = 'true';
    if (!keep.headers) headers[DLQ_HEADERS.headersOmitted] = 'true';
    if (!keep.key) headers[DLQ_HEADERS.keyOmitted] = 'true';
    return {
      topic: HERALD_TOPICS.dlqIngest,
      key: keep.key ? record.key : null,
      value: keep.value ? (record.value ?? Buffer.alloc(0)) : Buffer.alloc(0),
      headers,
    };
  };
  const maxBytes = limits.maxRecordBytes ?? Number.POSITIVE_INFINITY;
  const keeps = [
    { headers: true, value: true, key: true },
    { headers: false, value: true, key: true },
    { headers: false, value: false, key: true },
  ];
  for (const keep of keeps) {
    const candidate = letter(keep);
    if (recordBytes(candidate) <= maxBytes)
      return { kind: 'dead-letter', reason: shortReason, record: candidate };
  }
  // Its own headers are bounded (a few KiB): with nothing copied it fits.
  return {
    kind: 'dead-letter',
    reason: shortReason,
    record: letter({ headers: false, value: false, key: false }),
  };
}

/**
 * Turns one raw producer record into its CloudEvent on the channel topic, or into a dead letter
 * with the original bytes and headers and the reason. Pure, and never throws: a record that
 * breaks the mapping in a way no rule foresaw is dead-lettered with what it threw, so one record
 * cannot stop its partition.
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
  limits: MapperLimits = {},
): MappedRecord {
  try {
    return mapRecord(contract, channel, record, nowIso, limits);
  } catch (error) {
    return deadLetter(
      record,
      nowIso,
      limits,
      `the record could not be mapped: ${errorText(error)}`,
    );
  }
}

function mapRecord(
  contract: ContractRegistry,
  channel: ContractTopic,
  record: IncomingRecord,
  nowIso: string,
  limits: MapperLimits,
): MappedRecord {
  const maxEventBytes = limits.maxEventBytes ?? Number.POSITIVE_INFINITY;
  const refuse = (reason: string, violations?: Violations) =>
    deadLetter(record, nowIso, limits, reason, violations);

  const type =
    text(record.headers['ce_type']) ?? (channel.types.length === 1 ? channel.types[0] : undefined);
  if (type === undefined)
    return refuse(`no ce_type header, and ${channel.topic} carries several event types`);
  const eventType = contract.get(type);
  if (!eventType || eventType.topic !== channel.topic)
    return refuse(`event type "${type}" does not belong to channel ${channel.topic}`);
  for (const name of ATTRIBUTE_HEADERS) {
    const problem = headerProblem(
      name,
      record.headers[name],
      name !== 'ce_time' && name !== 'traceparent',
    );
    if (problem) return refuse(problem);
  }
  const traceparent = text(record.headers['traceparent']) || undefined;
  if (traceparent !== undefined && !isTraceparent(traceparent))
    return refuse(
      'header traceparent is not a W3C traceparent (<2 hex>-<32 hex>-<16 hex>-<2 hex>)',
    );
  const format = declaredFormat(record, type);
  if ('problem' in format) return refuse(format.problem);
  if (record.value === null || record.value.length === 0) return refuse('the record has no value');
  // Also what keeps a record near Kafka's batch limit from stalling the bridge: with its
  // CloudEvent headers added it could never be written. Its dead letter copies the value when
  // the letter fits `maxRecordBytes`, as any other; past that the source topic holds it.
  if (record.value.length > maxEventBytes)
    return refuse(
      `the value is ${record.value.length} bytes; an event may have at most ${maxEventBytes}`,
    );

  // JSON is UTF-8: the bytes republished as they are must be what was validated.
  if (!isUtf8(record.value))
    return refuse(`the value is not UTF-8 (invalid byte at ${invalidUtf8Offset(record.value)})`);
  const json = record.value.toString('utf8');
  // The bytes are republished as they are: a byte order mark would go along (JSON readers
  // refuse it), and of a repeated member name another reader may keep the one not validated.
  if (json.startsWith('\uFEFF')) return refuse(`the value ${BYTE_ORDER_MARK_MESSAGE}`);
  let data: unknown;
  try {
    data = JSON.parse(json) as unknown;
  } catch (error) {
    return refuse(
      `the value is not JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const duplicate = scanJsonText(json).duplicate;
  if (duplicate !== undefined)
    return refuse(`the value at ${duplicate} ${DUPLICATE_MEMBER_MESSAGE}`);
  const result = contract.validate(type, data);
  if (!result.ok) return refuse(`the payload breaks the ${type} schema`, result);

  // An empty or missing attribute takes its default; a time that is not RFC 3339 (`2024-05-01`)
  // gives way to the record's own timestamp.
  const given = (name: string) => text(record.headers[name]) || undefined;
  const time = given('ce_time');
  const subject = given('ce_subject');
  // The producer's key bytes as they are (a binary key must map to the same partition); else
  // the key pointer's value, a number as its text in the value (`data` may have rounded it).
  const key = record.key ?? contract.keyOf(type, data, (path) => jsonTextAt(json, path)) ?? null;
  // The producer's own attributes go along: `ce_dataschema` and extensions (`ce_<name>`), as
  // binary mode over HTTP carries them. One that is not text, or not a usable extension name,
  // is refused rather than dropped unseen.
  const dataschema = given('ce_dataschema');
  const extensions: Record<string, string> = {};
  for (const [header, value] of Object.entries(record.headers)) {
    if (!header.startsWith('ce_') || OWN_HEADERS.has(header) || value === undefined) continue;
    const problem = headerProblem(header, value, true);
    if (problem) return refuse(problem);
    const extension = text(value)!;
    if (extension !== '') extensions[header.slice(3)] = extension;
  }
  let headers: Record<string, string>;
  try {
    headers = toKafkaHeaders({
      id: given('ce_id') ?? `${record.topic}-${record.partition}-${record.offset}`,
      source: given('ce_source') ?? eventType.source,
      type,
      time: time !== undefined && isRfc3339Time(time) ? time : recordTime(record.timestamp, nowIso),
      ...(subject === undefined ? {} : { subject }),
      ...(dataschema === undefined ? {} : { dataschema }),
      ...(traceparent === undefined ? {} : { traceparent }),
      ...(format.contentType === undefined ? {} : { datacontenttype: format.contentType }),
      extensions,
    });
  } catch (error) {
    if (!(error instanceof CloudEventAttributesError)) throw error;
    return refuse(`an extension header is not usable: ${error.message}`);
  }
  // What fanout and the streams will read back: a record they would skip goes to the DLQ here.
  const readBack = fromKafkaHeaders(headers);
  if (!readBack.ok) return refuse(`the CloudEvent attributes are not valid: ${readBack.reason}`);
  const event = { topic: eventType.topic, key, value: record.value, headers };
  // The limit is on the record as Kafka stores it, as for HTTP ingest: the producer's
  // extensions and key count too, so they cannot carry past it what the value could not.
  const bytes = recordBytes(event);
  if (bytes > maxEventBytes)
    return refuse(
      `the event is ${bytes} bytes with its key and attributes; an event may have at most ${maxEventBytes}`,
    );
  return { kind: 'event', record: event };
}
