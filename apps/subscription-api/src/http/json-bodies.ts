import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { sendProblem } from '@herald/http-server';
import type { Logger } from '@herald/observability';
import { UnsupportedBodyTypeError } from '../subscriptions/subscriptions.errors';

/** What every endpoint with a body takes (parameters such as `charset` allowed). */
const JSON_MEDIA_TYPE = 'application/json';
/** What PATCH takes besides: a JSON merge patch (RFC 7396), which is what PATCH means here. */
const MERGE_PATCH_MEDIA_TYPE = 'application/merge-patch+json';

/** The media types a request with `method` may send its body in. */
export function bodyMediaTypes(method: string): readonly string[] {
  return method.toUpperCase() === 'PATCH'
    ? [MERGE_PATCH_MEDIA_TYPE, JSON_MEDIA_TYPE]
    : [JSON_MEDIA_TYPE];
}

/** The media type of a `content-type` value, parameters left off, in lower case. */
function mediaTypeOf(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

/**
 * This API takes JSON only. Before any parser runs: a body in another media type gets 415 with
 * `Accept` (and, for PATCH, `Accept-Patch`, RFC 5789) naming what the endpoint takes: Fastify
 * would otherwise parse text/plain and form bodies, and a `+json` type such as
 * `application/json-patch+json` (RFC 6902, a list of operations) would be read as if it were
 * the document this API expects. `application/merge-patch+json` is read as JSON on PATCH, and an
 * empty body counts as no body, so `POST /pause` with a stray `content-type: application/json`
 * still works.
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
      const accepted = bodyMediaTypes(request.method);
      if (contentType === undefined || !accepted.includes(mediaTypeOf(contentType))) {
        reply.header('accept', accepted.join(', '));
        if (request.method.toUpperCase() === 'PATCH')
          reply.header('accept-patch', accepted.join(', '));
        sendProblem(
          new UnsupportedBodyTypeError(contentType ?? 'a body without content-type', accepted),
          request,
          reply,
          logger,
        );
        return;
      }
      headers['content-type'] = JSON_MEDIA_TYPE;
      done();
    });
}
