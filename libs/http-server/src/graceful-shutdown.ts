import type { INestApplication } from '@nestjs/common';
import type { FastifyAdapter } from '@nestjs/platform-fastify';
import type { Logger, Observability } from '@herald/observability';
import { sendShuttingDownProblem } from './problem-details';

/**
 * On SIGTERM or SIGINT: readiness goes down at once, then Nest closes (stop listening, module
 * shutdown hooks finish or hand back in-flight work and commit), then the process exits 0. If
 * that takes longer than the configured timeout, it exits 1 so an orchestrator is not kept waiting.
 */
export function installGracefulShutdown(
  app: INestApplication,
  { logger, readiness, config, tracer }: Observability,
): void {
  let closing = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (closing) return;
    closing = true;
    readiness.markShuttingDown();
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    app.close().then(
      () => {
        logger.info('shut down cleanly');
        logger.flush();
        // After close, so spans of requests that were still in flight are sent too; never rejects.
        void tracer.shutdown().then(() => process.exit(0));
      },
      (error: unknown) => {
        logger.error({ err: error }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  // `on`, not `once`: a second signal while closing must not fall through to the default (kill).
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

/**
 * Requests that still arrive once Fastify has begun to close (on a keep-alive connection, or one
 * whose request was half sent) are refused with a 503 problem `server.shutting_down` and
 * `Retry-After`, not Fastify's own body (`return503OnClosing` is off for that). They are timed
 * into the request histogram like any answer, and counted in one log line once the server closed.
 */
export function refuseRequestsWhileClosing(adapter: FastifyAdapter, logger: Logger): void {
  const fastify = adapter.getInstance();
  let closing = false;
  let refused = 0;
  fastify.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  fastify.addHook('onRequest', (request, reply, done) => {
    if (!closing) return done();
    refused += 1;
    sendShuttingDownProblem(request, reply);
  });
  // A request in flight when closing began is answered, and its keep-alive connection then
  // closed: left open, the server would wait for it until the keep-alive timeout (72 s), far
  // past the shutdown budget, and the process would exit 1.
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) void reply.header('connection', 'close');
    done(null, payload);
  });
  fastify.addHook('onClose', (_instance, done) => {
    if (refused > 0)
      logger.info({ refused }, 'refused requests that arrived while the server was closing');
    done();
  });
}
