import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { sendProblem } from '@herald/http-server';
import type { Logger } from '@herald/observability';
import { UnsupportedBodyTypeError } from '../subscriptions/subscriptions.errors';

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/**
 * This API takes JSON only. Before any parser runs: a body in another media type gets 415
 * (Fastify would otherwise parse text/plain and form bodies), `application/merge-patch+json`
 * (RFC 7396, what PATCH means here) is read as JSON, and an empty body counts as no body, so
 * `POST /pause` with a stray `content-type: application/json` still works.
 */
export function acceptJsonBodiesOnly(app: NestFastifyApplication, logger: Logger): void {
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', (request, reply, done) => {
      const headers = request.headers;
      const contentType = headers['content-type'];
      const hasBody =
        headers['transfer-encoding'] !== undefined ||
        (headers['content-length'] !== undefined && headers['content-length'] !== '0');
      if (!hasBody) {
        delete headers['content-type'];
        done();
        return;
      }
      if (contentType === undefined || !JSON_TYPE.test(contentType)) {
        sendProblem(
          new UnsupportedBodyTypeError(contentType ?? 'a body without content-type'),
          request,
          reply,
          logger,
        );
        return;
      }
      headers['content-type'] = 'application/json';
      done();
    });
}
