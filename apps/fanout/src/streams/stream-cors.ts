import type { NestFastifyApplication } from '@nestjs/platform-fastify';

const STREAMS_PATH = '/v1/streams/';

/**
 * Lets pages from `origins` (or any, with `*`) read the stream endpoints from another origin: the
 * partner console at subscription-api's address opens SSE here. Applies to `/v1/streams/*` only,
 * and answers their CORS preflight. Keys travel as `?access_token=` or `Authorization`, never as
 * cookies, so credentials are not allowed.
 */
export function allowStreamOrigins(app: NestFastifyApplication, origins: readonly string[]): void {
  const anyOrigin = origins.includes('*');
  const allowed = new Set(origins);
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', (request, reply, done) => {
      const origin = request.headers.origin;
      if (
        origin === undefined ||
        !request.url.startsWith(STREAMS_PATH) ||
        !(anyOrigin || allowed.has(origin))
      ) {
        done();
        return;
      }
      // On the raw response: the SSE handler hijacks the reply and writes its head itself.
      reply.raw.setHeader('access-control-allow-origin', anyOrigin ? '*' : origin);
      if (!anyOrigin) reply.raw.setHeader('vary', 'Origin');
      if (request.method === 'OPTIONS' && request.headers['access-control-request-method']) {
        reply.raw.setHeader('access-control-allow-methods', 'GET');
        reply.raw.setHeader('access-control-allow-headers', 'authorization, last-event-id');
        reply.raw.setHeader('access-control-max-age', '600');
        void reply.code(204).send();
        return;
      }
      done();
    });
}
