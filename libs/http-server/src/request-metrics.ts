import type { FastifyAdapter } from '@nestjs/platform-fastify';
import type { Observability } from '@herald/observability';

/**
 * Times every request into `herald_http_request_duration_seconds`. The route label is Fastify's
 * route template (`/v1/subscriptions/:id`), or `unmatched` for 404s, so its values stay bounded.
 */
export function instrumentRequests(
  adapter: FastifyAdapter,
  { metrics, logger }: Observability,
): void {
  adapter.getInstance().addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    metrics.httpRequestDuration.observe(
      { route, method: request.method, status_class: `${Math.floor(reply.statusCode / 100)}xx` },
      seconds,
    );
    logger.debug(
      { method: request.method, route, status: reply.statusCode, ms: reply.elapsedTime },
      'request',
    );
    done();
  });
}
