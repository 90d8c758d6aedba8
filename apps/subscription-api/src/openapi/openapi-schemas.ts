import type { SchemaObject } from '@nestjs/swagger';
import { z } from 'zod';

/** A zod request schema as an OpenAPI 3.0 schema: one definition validates and documents. */
export function requestSchema(schema: z.ZodType): SchemaObject {
  return z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    io: 'input',
    unrepresentable: 'any',
  }) as SchemaObject;
}

const nullable = (schema: SchemaObject): SchemaObject => ({ ...schema, nullable: true });
const string: SchemaObject = { type: 'string' };
const dateTime: SchemaObject = { type: 'string', format: 'date-time' };
const integer: SchemaObject = { type: 'integer' };
const stringMap: SchemaObject = { type: 'object', additionalProperties: { type: 'string' } };

/** Response bodies, named in components.schemas. */
export const RESPONSE_SCHEMAS = {
  Problem: {
    type: 'object',
    description: 'RFC 9457 problem details.',
    required: ['type', 'title', 'status', 'detail', 'code'],
    properties: {
      type: string,
      title: string,
      status: integer,
      detail: string,
      code: string,
      instance: string,
      errors: {
        type: 'array',
        items: {
          type: 'object',
          properties: { pointer: string, message: string },
        },
      },
    },
  },
  Subscription: {
    type: 'object',
    properties: {
      id: { type: 'string', example: 'sub_01HQ3K9Z4M7N2P5R8T1V6X0Y3B' },
      tenant: string,
      kind: { type: 'string', enum: ['webhook', 'stream'] },
      url: nullable(string),
      types: { type: 'array', items: string },
      allowedTypes: nullable({ type: 'array', items: string }),
      filter: nullable({ type: 'object' }),
      format: { type: 'string', enum: ['cloudevents', 'standard', 'tmf688'] },
      ordering: { type: 'string', enum: ['key', 'none'] },
      from: string,
      maxInFlight: integer,
      maxPerSecond: nullable({ type: 'number' }),
      retry: { type: 'object', properties: { schedule: { type: 'array', items: string } } },
      headers: stringMap,
      auth: nullable({
        type: 'object',
        properties: { type: { type: 'string', enum: ['bearer', 'basic'] } },
      }),
      verification: {
        type: 'object',
        properties: {
          mode: { type: 'string', enum: ['none', 'websub', 'cloudevents'] },
          state: { type: 'string', enum: ['not_required', 'pending', 'passed', 'failed'] },
          checkedAt: nullable(dateTime),
          failure: nullable(string),
        },
      },
      description: nullable(string),
      metadata: stringMap,
      status: { type: 'string', enum: ['pending', 'active', 'paused', 'disabled'] },
      statusReason: nullable(string),
      createdAt: dateTime,
      updatedAt: dateTime,
      version: integer,
      createdByKey: string,
      links: { type: 'object', additionalProperties: { type: 'string' } },
    },
  },
  CreatedSubscription: {
    allOf: [
      { $ref: '#/components/schemas/Subscription' },
      {
        type: 'object',
        properties: {
          secret: nullable({
            type: 'string',
            description: 'The signing secret (whsec_…); shown only here.',
          }),
        },
      },
    ],
  },
  SubscriptionPage: {
    type: 'object',
    properties: {
      items: { type: 'array', items: { $ref: '#/components/schemas/Subscription' } },
      nextCursor: nullable(string),
    },
  },
  PingResult: {
    type: 'object',
    properties: {
      eventId: string,
      delivered: { type: 'boolean' },
      statusCode: nullable(integer),
      durationMs: { type: 'number' },
      error: nullable(string),
    },
  },
  RotatedSecret: {
    type: 'object',
    properties: { secret: string, previousSecretExpiresAt: nullable(dateTime) },
  },
  Replay: {
    type: 'object',
    properties: {
      id: string,
      subscriptionId: string,
      from: { type: 'object' },
      to: nullable({
        type: 'object',
        description:
          'null: up to the end offsets Kafka had when the replay first started (the same ends if it is started again)',
      }),
      status: {
        type: 'string',
        enum: ['requested', 'running', 'completed', 'failed', 'cancelled'],
        description:
          'A replay whose instance stops goes back to requested and is run again from its beginning',
      },
      requestedAt: dateTime,
      startedAt: nullable(dateTime),
      finishedAt: nullable(dateTime),
      error: nullable(string),
      restarts: {
        ...integer,
        description:
          'Times it was started again from its beginning after the instance running it stopped',
      },
      progress: {
        type: 'object',
        properties: {
          scanned: integer,
          matched: integer,
          delivered: integer,
          deadLettered: integer,
        },
      },
    },
  },
  DeliveryAttemptPage: {
    type: 'object',
    properties: {
      items: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            id: string,
            eventId: string,
            type: string,
            attempt: integer,
            at: dateTime,
            status: { type: 'string', enum: ['succeeded', 'failed'] },
            statusCode: nullable(integer),
            durationMs: { type: 'number' },
            error: nullable(string),
            responseBody: nullable(string),
            replay: { type: 'boolean' },
            test: { type: 'boolean' },
          },
        },
      },
      nextCursor: nullable(string),
    },
  },
  DeadLetterPage: {
    type: 'object',
    properties: {
      items: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            id: string,
            eventId: string,
            type: string,
            topic: string,
            partition: integer,
            offset: string,
            key: nullable(string),
            attempts: integer,
            lastStatus: nullable(integer),
            lastError: nullable(string),
            firstAttemptAt: dateTime,
            deadLetteredAt: dateTime,
            redrivenAt: nullable(dateTime),
          },
        },
      },
      nextCursor: nullable(string),
    },
  },
  Stats: {
    type: 'object',
    properties: {
      delivered: integer,
      failed: integer,
      pending: integer,
      deadLettered: {
        ...integer,
        description:
          'Deliveries dead-lettered since the subscription was created; letters dropped from the dead-letter list by its retention still count',
      },
      lagEvents: integer,
      lastSuccessAt: nullable(dateTime),
      lastFailureAt: nullable(dateTime),
    },
  },
  ApiKey: {
    type: 'object',
    properties: {
      id: string,
      name: string,
      tenant: string,
      scopes: {
        type: 'array',
        items: {
          type: 'object',
          properties: { scope: string, types: nullable({ type: 'array', items: string }) },
        },
      },
      createdAt: dateTime,
    },
  },
  CreatedApiKey: {
    allOf: [
      { $ref: '#/components/schemas/ApiKey' },
      { type: 'object', properties: { key: { type: 'string', description: 'Shown only here.' } } },
    ],
  },
  EventType: {
    type: 'object',
    properties: {
      type: string,
      tmfEventType: string,
      channel: string,
      topic: string,
      title: nullable(string),
      summary: nullable(string),
      description: nullable(string),
      key: nullable({ type: 'string', description: 'JSON pointer to the partition key' }),
      schema: { type: 'object' },
      example: { nullable: true },
    },
  },
  Hub: {
    type: 'object',
    properties: {
      id: string,
      callback: string,
      query: { type: 'string', example: 'eventType=OrderCreateEvent,OrderStateChangeEvent' },
    },
  },
  HealthReport: {
    type: 'object',
    description:
      "Terminus's report of a passing health check (`/health/live` has no checks; `/health/ready` runs `process` and each connection's).",
    required: ['status', 'details'],
    properties: {
      status: { type: 'string', enum: ['ok'] },
      info: healthChecks('The checks that passed'),
      error: healthChecks('The checks that failed: none'),
      details: healthChecks('Every check'),
    },
    example: {
      status: 'ok',
      info: { process: { status: 'up' }, kafka: { status: 'up' }, redis: { status: 'up' } },
      error: {},
      details: { process: { status: 'up' }, kafka: { status: 'up' }, redis: { status: 'up' } },
    },
  },
  HealthProblem: {
    description:
      "A failing health check: a problem (`status` 503, `code` http.503) whose `detail` names the failing checks (`Not ready: redis, kafka`) and that also carries Terminus's report of each check.",
    allOf: [
      { $ref: '#/components/schemas/Problem' },
      {
        type: 'object',
        required: ['details'],
        properties: {
          info: healthChecks('The checks that passed'),
          error: healthChecks('The checks that failed'),
          details: healthChecks('Every check'),
        },
      },
    ],
    example: {
      type: 'urn:herald:problem:http.503',
      title: 'Service Unavailable',
      status: 503,
      detail: 'Not ready: redis',
      code: 'http.503',
      instance: '/health/ready',
      info: { process: { status: 'up' }, kafka: { status: 'up' } },
      error: { redis: { status: 'down', message: 'redis connection is reconnecting' } },
      details: {
        process: { status: 'up' },
        kafka: { status: 'up' },
        redis: { status: 'down', message: 'redis connection is reconnecting' },
      },
    },
  },
} satisfies Record<string, SchemaObject>;

/** Health checks by name, each `up` or `down` (with a `message` saying why). */
function healthChecks(description: string): SchemaObject {
  return {
    type: 'object',
    description,
    additionalProperties: {
      type: 'object',
      required: ['status'],
      properties: { status: { type: 'string', enum: ['up', 'down'] }, message: string },
    },
  };
}

/**
 * The 503 of every operation that needs Redis (see RedisDeadline): for a class's
 * `@ApiResponse(REDIS_UNAVAILABLE)`.
 */
export const REDIS_UNAVAILABLE = {
  status: 503,
  description:
    'Redis did not answer in time (`store.unavailable`). A change answered so may still be made when Redis answers, except a creation, which is then undone: read it back before repeating it.',
  schema: { $ref: '#/components/schemas/Problem' } as SchemaObject,
  headers: {
    'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' } },
  },
} satisfies { status: number; description: string; schema: SchemaObject; headers: object };

/**
 * An error response for `@ApiResponse`: a problem, with the `code` it carries named in its
 * description (as `store.unavailable` is in REDIS_UNAVAILABLE's), so clients can tell which
 * resource refused them.
 */
export function problemResponse(status: number, code: string, description: string) {
  return { status, description: `${description} (\`${code}\`)`, schema: ref('Problem') };
}

/** `{ $ref }` to a named response schema. */
export function ref(name: keyof typeof RESPONSE_SCHEMAS): SchemaObject {
  return { $ref: `#/components/schemas/${name}` } as SchemaObject;
}
