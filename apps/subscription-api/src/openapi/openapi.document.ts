import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { bodyMediaTypes } from '../http/json-bodies';
import { INGEST_PATHS, INGEST_SCHEMAS } from './ingest.openapi';
import { RESPONSE_SCHEMAS } from './openapi-schemas';

/**
 * Holds the OpenAPI document of the running app. It is generated from the controllers'
 * decorators after Nest has built the app (see configureSubscriptionApi), then served as is.
 */
export class OpenApiDocument {
  private document: OpenAPIObject | null = null;

  set(document: OpenAPIObject): void {
    this.document = document;
  }

  get(): OpenAPIObject {
    if (!this.document) throw new Error('the OpenAPI document has not been generated yet');
    return this.document;
  }
}

/** The REST API as OpenAPI 3.0, from the Nest controllers and the request schemas. */
export function buildOpenApiDocument(app: INestApplication, version: string): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Herald subscription API')
    .setDescription(
      'Subscriptions (webhooks and durable streams), API keys, the event catalog and the TMF688 hub, and HTTP ingest (served by ingest-bridge, on its own port). Authenticate with Authorization: Bearer <API key>. Errors are RFC 9457 problems (application/problem+json); a request that reaches a process once it has begun to close is answered 503 `server.shutting_down` with Retry-After, whatever the operation.',
    )
    .setVersion(version)
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An API key (hk_…)' })
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (controller, method) =>
      `${controller.replace(/Controller$/, '').replace(/^./, (c) => c.toLowerCase())}_${method}`,
  });
  documentBodyMediaTypes(document.paths);
  documentErrorsAsProblems(document.paths);
  documentHealthResponses(document.paths);
  document.paths = { ...document.paths, ...INGEST_PATHS };
  document.components = {
    ...document.components,
    schemas: { ...(document.components?.schemas ?? {}), ...RESPONSE_SCHEMAS, ...INGEST_SCHEMAS },
  };
  return document;
}

/** Errors are sent by the problem filter (@herald/http-server) in this media type, whatever the route. */
const PROBLEM_MEDIA_TYPE = 'application/problem+json';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/**
 * Nest's generator gives every response the operation's media type (application/json), errors
 * too; each error response (4xx and 5xx) is documented as the problem it is sent as, with the
 * schema it was given.
 */
function documentErrorsAsProblems(paths: OpenAPIObject['paths']): void {
  for (const item of Object.values(paths)) {
    for (const method of METHODS) {
      for (const [status, response] of Object.entries(item[method]?.responses ?? {})) {
        if (!/^[45]/.test(status) || !response || '$ref' in response) continue;
        const [documented] = Object.values(response.content ?? {});
        if (documented) response.content = { [PROBLEM_MEDIA_TYPE]: documented };
      }
    }
  }
}

/**
 * Each operation that takes a body takes it in the media types acceptJsonBodiesOnly lets
 * through (PATCH: a JSON merge patch too), with one schema, and answers any other with 415.
 */
function documentBodyMediaTypes(paths: OpenAPIObject['paths']): void {
  for (const item of Object.values(paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      const body = operation?.requestBody;
      if (!operation || !body || '$ref' in body) continue;
      const [documented] = Object.values(body.content);
      if (!documented) continue;
      const accepted = bodyMediaTypes(method);
      body.content = Object.fromEntries(accepted.map((type) => [type, documented]));
      const acceptedText = { schema: { type: 'string', example: accepted.join(', ') } };
      const documented415 = operation.responses['415'];
      operation.responses['415'] = {
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Problem' } } },
        ...(documented415 && !('$ref' in documented415) ? documented415 : {}),
        description: `The body is not ${accepted.join(' or ')} (\`subscriptions.unsupported_media_type\`)`,
        headers: {
          Accept: { description: 'The media types this operation takes', ...acceptedText },
          ...(method === 'patch'
            ? { 'Accept-Patch': { description: 'The patch formats it takes', ...acceptedText } }
            : {}),
        },
      };
    }
  }
}

/** The health endpoints (HealthController of @herald/observability). */
const HEALTH_PATHS = ['/health/live', '/health/ready'];

/**
 * Terminus documents its 503 with its own report (`status: "error"`), but the problem filter
 * sends it as a problem whose `status` is the HTTP status, the report's checks kept beside it.
 * Its 200 shows a `database` check in its examples, which Herald has not: ours has Herald's.
 */
function documentHealthResponses(paths: OpenAPIObject['paths']): void {
  for (const path of HEALTH_PATHS) {
    const responses = paths[path]?.get?.responses;
    if (!responses?.['503']) continue;
    responses['200'] = {
      description: 'Every check passed',
      content: {
        'application/json': {
          schema: { $ref: '#/components/schemas/HealthReport' },
          ...(path === '/health/live'
            ? { example: { status: 'ok', info: {}, error: {}, details: {} } }
            : {}),
        },
      },
    };
    responses['503'] = {
      description:
        'A check failed: which ones, in `error` (readiness also fails while the process shuts down)',
      content: {
        [PROBLEM_MEDIA_TYPE]: { schema: { $ref: '#/components/schemas/HealthProblem' } },
      },
    };
  }
}
