import 'reflect-metadata';
import type { DynamicModule, INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { NestPinoLogger, type Observability } from '@herald/observability';
import type { HttpServerConfig } from './http-server.config';
import { installGracefulShutdown, refuseRequestsWhileClosing } from './graceful-shutdown';
import { instrumentRequests } from './request-metrics';
import { ProblemDetailsFilter } from './problem-details.filter';
import {
  sendProblem,
  writeClientErrorProblem,
  type ProblemReply,
  type ProblemRequest,
} from './problem-details';

export interface HttpAppOptions {
  module: Type<unknown> | DynamicModule;
  http: HttpServerConfig;
  observability: Observability;
  /** False leaves body parsing to `configure` (Nest then registers no parsers of its own). */
  bodyParser?: boolean;
  /** Last touches before listening (content-type parsers, Swagger, WebSocket adapter). */
  configure?: (app: NestFastifyApplication) => void;
}

/**
 * Creates a Nest app on Fastify with Herald's logger, request metrics and graceful shutdown,
 * and starts listening. Every app's `main.ts` is this one call.
 */
export async function startHttpApp(options: HttpAppOptions): Promise<NestFastifyApplication> {
  const { http, observability } = options;
  const adapter = new FastifyAdapter({
    bodyLimit: http.maxRequestBytes,
    // Requests arriving while it closes get a problem instead (refuseRequestsWhileClosing).
    return503OnClosing: false,
    // A URL that does not decode (`/v1/events/%`) is refused before routing, so before Nest's
    // filters: answer it with a problem too.
    frameworkErrors: (error: Error, request: ProblemRequest, reply: unknown) =>
      sendProblem(error, request, reply as ProblemReply, observability.logger),
    clientErrorHandler: writeClientErrorProblem,
  });
  refuseRequestsWhileClosing(adapter, observability.logger);
  instrumentRequests(adapter, observability);

  const app = await NestFactory.create<NestFastifyApplication>(options.module, adapter, {
    logger: new NestPinoLogger(observability.logger.child({ component: 'nest' })),
    bufferLogs: false,
    abortOnError: false,
    bodyParser: options.bodyParser ?? true,
  });
  app.useGlobalFilters(new ProblemDetailsFilter(observability.logger));
  options.configure?.(app);
  installGracefulShutdown(app as INestApplication, observability);
  await app.listen(http.port, http.host);
  const address = app.getHttpServer().address();
  observability.logger.info({ address }, 'listening');
  return app;
}
