import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Logger } from '@herald/observability';
import { HERALD_VERSION } from './app.module';
import { acceptJsonBodiesOnly } from './http/json-bodies';
import { OpenApiDocument, buildOpenApiDocument } from './openapi/openapi.document';

/** The last touches startHttpApp applies before listening (main.ts and the tests share them). */
export function configureSubscriptionApi(app: NestFastifyApplication, logger: Logger): void {
  acceptJsonBodiesOnly(app, logger);
  app.get(OpenApiDocument).set(buildOpenApiDocument(app, HERALD_VERSION));
}
