import type { OpenAPIObject, SchemaObject } from '@nestjs/swagger';
import { MAX_VALUES_FULLY_CHECKED } from '@herald/contract';

// HTTP ingest (SPEC §4) is served by ingest-bridge, its own process: its routes are not among this
// app's controllers, so they are written out here, each path naming ingest-bridge as its server.
// Keep them true to apps/ingest-bridge/src/ingest (events.controller.ts, cloud-event.parser.ts,
// ingest.errors.ts).

type Operation = NonNullable<OpenAPIObject['paths'][string]['post']>;
type Parameter = NonNullable<Operation['parameters']>[number];
type Response = Operation['responses'][string];

const INGEST_SERVERS = [
  {
    url: '{ingestBridge}',
    description: 'ingest-bridge, which serves HTTP ingest on its own port (INGEST_BRIDGE_PORT)',
    variables: { ingestBridge: { default: 'http://localhost:3001' } },
  },
];

const string: SchemaObject = { type: 'string' };
const problemRef = { $ref: '#/components/schemas/IngestProblem' } as SchemaObject;
const resultRef = { $ref: '#/components/schemas/IngestResult' } as SchemaObject;

/** Response bodies of ingest, merged into components.schemas. */
export const INGEST_SCHEMAS: Record<string, SchemaObject> = {
  IngestResult: {
    type: 'object',
    description: 'Where Kafka stored the event.',
    required: ['id', 'type', 'topic', 'partition', 'offset'],
    properties: {
      id: { type: 'string', description: 'The event id (the one sent, or a generated UUID)' },
      type: string,
      topic: string,
      partition: { type: 'integer' },
      offset: { type: 'string', description: 'Decimal (Kafka offsets are 64-bit)' },
    },
  },
  IngestProblem: {
    allOf: [
      { $ref: '#/components/schemas/Problem' },
      {
        type: 'object',
        properties: {
          errors: {
            type: 'array',
            maxItems: 100,
            description:
              'What is wrong, by JSON pointer into the request (`/3/data/total` is the total of the fourth event of a batch; `/headers/ce-time` a header). At most 100.',
            items: {
              type: 'object',
              required: ['pointer', 'message'],
              properties: { pointer: string, message: string },
            },
          },
          errorCount: {
            type: 'integer',
            description:
              'Present when there were more violations than `errors` lists, or when not all were counted: how many were found.',
          },
          errorCountIsLowerBound: {
            type: 'boolean',
            description: `Present (true) when not every violation was counted, so there may be more than \`errorCount\`: validation stopped once \`errors\` was full (the events after that one were not validated), or an event of more than ${MAX_VALUES_FULLY_CHECKED.toLocaleString('en')} JSON values (objects, arrays and the values in them) broke its schema, and was checked only up to its first violation.`,
          },
          eventType: {
            type: 'string',
            description:
              'On a 404: the event type that is not in the contract (`type` is the problem type).',
          },
        },
      },
    ],
  },
  CloudEvent: {
    type: 'object',
    description:
      'A CloudEvent in structured mode (JSON format). `data` is the payload the type`s schema describes (GET /v1/event-types); binary data (`data_base64`) is not accepted. Other attributes are extensions: 1-20 lower-case letters or digits, with string, number or boolean values.',
    required: ['specversion', 'id', 'source', 'type', 'data'],
    properties: {
      specversion: { type: 'string', enum: ['1.0'] },
      id: { type: 'string', minLength: 1, maxLength: 1024, description: 'Deduplicated for 24 h' },
      source: { type: 'string', minLength: 1, maxLength: 1024 },
      type: { type: 'string', minLength: 1, maxLength: 1024, example: 'order.created' },
      time: { type: 'string', format: 'date-time', description: 'Default: the time of receipt' },
      subject: { type: 'string', minLength: 1, maxLength: 1024 },
      datacontenttype: {
        type: 'string',
        description: 'application/json or application/*+json when present',
      },
      dataschema: string,
      traceparent: { type: 'string', description: 'W3C trace context' },
      data: { description: 'The payload (any JSON)' },
    },
    additionalProperties: { oneOf: [string, { type: 'number' }, { type: 'boolean' }] },
  },
};

// Attribute headers carry ASCII only (HTTP reads other bytes as Latin-1); ce-* values are
// percent-decoded as UTF-8, as the CloudEvents HTTP binding has producers encode them.
const ASCII_NOTE = ' ASCII only.';
const CE_NOTE =
  ' ASCII; other characters percent-encoded as UTF-8 (%C3%A9 for é), decoded on receipt.';

function header(name: string, description: string, required = false): Parameter {
  const note =
    name.startsWith('ce-') && name !== 'ce-traceparent'
      ? CE_NOTE
      : name === 'Idempotency-Key' || name === 'herald-key'
        ? ASCII_NOTE
        : '';
  return {
    name,
    in: 'header',
    required,
    description: description + note,
    schema: { type: 'string' },
  };
}

const COMMON_HEADERS: Parameter[] = [
  header('ce-time', 'Event time, RFC 3339 (default: the time of receipt)'),
  header('ce-subject', 'CloudEvents subject'),
  header(
    'herald-key',
    'Partition key, instead of the one the contract takes from the payload (single events only)',
  ),
  header('traceparent', 'W3C trace context, written with the event (a malformed one is a 400)'),
  header('ce-traceparent', 'Trace context when there is no traceparent header'),
];

const retryAfter = {
  'Retry-After': {
    description: 'Seconds to wait before sending again',
    schema: { type: 'integer' },
  },
};

function problem(description: string, headers?: Record<string, unknown>): Response {
  return {
    description,
    ...(headers ? { headers } : {}),
    content: { 'application/problem+json': { schema: problemRef } },
  } as Response;
}

function answers(result: SchemaObject): Record<string, Response> {
  return {
    '202': {
      description: 'Written: Kafka acknowledged it',
      content: { 'application/json': { schema: result } },
    },
    '200': {
      description:
        'Every event id was written before (within 24 h): the first result, and nothing written',
      content: { 'application/json': { schema: result } },
    },
    '400': problem(
      'Not JSON (or not UTF-8, or starting with a byte order mark), an object repeating a member name (named by its pointer: JSON readers differ on which one they keep), not a valid CloudEvent, breaking its schema, or with a bad header (an attribute header that is not ASCII, percent-encoded bytes that are not UTF-8, a malformed traceparent); nothing was written',
    ),
    '401': problem('No valid API key', {
      'WWW-Authenticate': { schema: { type: 'string', example: 'Bearer' } },
    }),
    '403': problem(
      "The key lacks events:publish for this type, or the type is one of Herald's own",
    ),
    '404': problem('No such event type in the contract'),
    '409': problem(
      'An event id of the request is being written by another request (or by a write whose outcome Kafka has not yet reported)',
      retryAfter,
    ),
    '422': problem(
      'An event id already used within 24 h (or earlier in the request) for an event of another type: not a retry of it; nothing was written (eventId, eventType and firstEventType name them)',
    ),
    '413': problem(
      'An event over HERALD_MAX_EVENT_BYTES (256 KiB, counted as its Kafka record: data and attributes; errors point at the event), a request over HERALD_MAX_REQUEST_BYTES (5 MiB), or a batch over HERALD_MAX_BATCH_EVENTS (1,000)',
    ),
    '415': problem(
      'Content type not accepted here, or a charset other than UTF-8 (JSON is read as UTF-8)',
    ),
    '429': problem('The API key is publishing faster than its limit', retryAfter),
    '503': problem(
      'Kafka or Redis cannot take the write now. The detail says what is known: nothing written (Redis did not answer), some events may have been written, the write may still land (its ids answer 409 until it is known), or N of M events written. Send the same request again with the same ids.',
      retryAfter,
    ),
  };
}

/** `POST /v1/events/{type}` and `POST /v1/events`, as ingest-bridge serves them. */
export const INGEST_PATHS: OpenAPIObject['paths'] = {
  '/v1/events/{type}': {
    servers: INGEST_SERVERS,
    post: {
      operationId: 'ingest_publishTyped',
      tags: ['ingest'],
      summary: 'Publish one event of a type; the body is its payload',
      security: [{ bearer: [] }],
      parameters: [
        {
          name: 'type',
          in: 'path',
          required: true,
          schema: { type: 'string', example: 'order.created' },
        },
        header(
          'ce-id',
          'Event id; an id written in the last 24 h answers 200 with its first result (default: a new UUID, never deduplicated)',
        ),
        header('Idempotency-Key', 'The event id when there is no ce-id header'),
        header('ce-source', "CloudEvents source (default: the channel's)"),
        ...COMMON_HEADERS,
      ],
      requestBody: {
        required: true,
        description:
          'The payload, as the type`s schema describes it (GET /v1/event-types). Any application/*+json type but the CloudEvents ones is read as JSON too. Written to Kafka as sent, character for character but the whitespace around it: numbers past 2^53, -0, 1.0 and \\u escapes stay as they are.',
        content: { 'application/json': { schema: {} } },
      },
      responses: answers(resultRef),
    },
  },
  '/v1/events': {
    servers: INGEST_SERVERS,
    post: {
      operationId: 'ingest_publish',
      tags: ['ingest'],
      summary: 'Publish a CloudEvent (structured or binary mode) or a batch of them',
      description:
        'A batch is all or nothing: every event is parsed, authorised and validated before any is written. Binary mode: application/json with the attributes in ce-* headers (ce-specversion, ce-id, ce-source and ce-type required; other ce-* headers are extensions). Each event`s data is written to Kafka as sent, character for character but the whitespace around it: numbers past 2^53, -0, 1.0 and \\u escapes stay as they are.',
      security: [{ bearer: [] }],
      parameters: [
        header('ce-specversion', 'Binary mode: "1.0"'),
        header('ce-id', 'Binary mode: the event id, deduplicated for 24 h'),
        header('ce-source', 'Binary mode: CloudEvents source'),
        header('ce-type', 'Binary mode: the event type'),
        ...COMMON_HEADERS,
      ],
      requestBody: {
        required: true,
        content: {
          'application/cloudevents+json': {
            schema: { $ref: '#/components/schemas/CloudEvent' },
          },
          'application/cloudevents-batch+json': {
            schema: {
              type: 'array',
              minItems: 1,
              maxItems: 1000,
              items: { $ref: '#/components/schemas/CloudEvent' },
            },
          },
          'application/json': { schema: { description: 'Binary mode: the payload' } },
        },
      },
      responses: answers({
        oneOf: [resultRef, { type: 'array', items: resultRef, description: 'A batch: in order' }],
      }),
    },
  },
};
