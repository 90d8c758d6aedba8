import type { NestFastifyApplication } from '@nestjs/platform-fastify';

/**
 * Ingest reads request bodies as bytes: it parses JSON itself (to answer with a precise problem)
 * and measures each event's size as sent. Accepts JSON and the CloudEvents JSON media types;
 * anything else is a 415 from Fastify before a handler runs.
 */
export function useRawJsonBodies(app: NestFastifyApplication, maxRequestBytes: number): void {
  const fastify = app.getHttpAdapter().getInstance();
  fastify.removeContentTypeParser('application/json');
  const options = { parseAs: 'buffer' as const, bodyLimit: maxRequestBytes };
  const keepBytes = (
    _request: unknown,
    body: string | Buffer,
    done: (error: null, body: Buffer) => void,
  ) => done(null, Buffer.isBuffer(body) ? body : Buffer.from(body));
  fastify.addContentTypeParser('application/json', options, keepBytes);
  fastify.addContentTypeParser(/^application\/[a-z0-9.-]+\+json(\s*;.*)?$/i, options, keepBytes);
}
