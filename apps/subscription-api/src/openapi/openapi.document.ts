import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
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
      'Subscriptions (webhooks and durable streams), API keys, the event catalog and the TMF688 hub, and HTTP ingest (served by ingest-bridge, on its own port). Authenticate with Authorization: Bearer <API key>. Errors are RFC 9457 problems (application/problem+json).',
    )
    .setVersion(version)
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An API key (hk_…)' })
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (controller, method) =>
      `${controller.replace(/Controller$/, '').replace(/^./, (c) => c.toLowerCase())}_${method}`,
  });
  document.paths = { ...document.paths, ...INGEST_PATHS };
  document.components = {
    ...document.components,
    schemas: { ...(document.components?.schemas ?? {}), ...RESPONSE_SCHEMAS, ...INGEST_SCHEMAS },
  };
  return document;
}
