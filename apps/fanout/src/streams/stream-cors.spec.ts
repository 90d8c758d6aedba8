import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { loadConfig } from '@herald/config';
import { allowStreamOrigins } from './stream-cors';
import { streamsConfig } from './streams.config';

const CONSOLE = 'http://127.0.0.1:3000';

@Module({})
class EmptyModule {}

async function app(origins: readonly string[]) {
  const nest = await NestFactory.create<NestFastifyApplication>(EmptyModule, new FastifyAdapter(), {
    logger: false,
  });
  allowStreamOrigins(nest, origins);
  const fastify = nest.getHttpAdapter().getInstance();
  // Like the SSE handler: hijacks the reply and writes its own head.
  fastify.get('/v1/streams/sse', (_request, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
    reply.raw.end(': connected\n\n');
  });
  fastify.get('/v1/streams/poll', () => ({ events: [] }));
  fastify.get('/v1/subscriptions', () => ({ items: [] }));
  await nest.init();
  return nest;
}

describe('allowStreamOrigins', () => {
  it('lets an allowed origin read SSE, polls and their preflight, and nothing else', async () => {
    const server = await app([CONSOLE]);
    const sse = await server.inject({ url: '/v1/streams/sse', headers: { origin: CONSOLE } });
    expect(sse.headers['access-control-allow-origin']).toBe(CONSOLE);
    expect(sse.headers['vary']).toBe('Origin');
    expect(sse.headers['content-type']).toBe('text/event-stream');

    const poll = await server.inject({ url: '/v1/streams/poll', headers: { origin: CONSOLE } });
    expect(poll.headers['access-control-allow-origin']).toBe(CONSOLE);

    const preflight = await server.inject({
      method: 'OPTIONS',
      url: '/v1/streams/poll?wait=5',
      headers: {
        origin: CONSOLE,
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-headers']).toContain('authorization');
    expect(preflight.headers['access-control-allow-methods']).toBe('GET');

    const other = await server.inject({ url: '/v1/subscriptions', headers: { origin: CONSOLE } });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    await server.close();
  });

  it('says nothing to an origin it does not know', async () => {
    const server = await app([CONSOLE]);
    const sse = await server.inject({
      url: '/v1/streams/sse',
      headers: { origin: 'https://evil.example' },
    });
    expect(sse.statusCode).toBe(200);
    expect(sse.headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await server.inject({
      method: 'OPTIONS',
      url: '/v1/streams/sse',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
    });
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    await server.close();
  });

  it('answers any origin with * when configured so', async () => {
    const server = await app(['*']);
    const sse = await server.inject({
      url: '/v1/streams/sse',
      headers: { origin: 'https://console.example.com' },
    });
    expect(sse.headers['access-control-allow-origin']).toBe('*');
    await server.close();
  });
});

describe('STREAM_CORS_ORIGINS', () => {
  const parse = (value?: string) =>
    loadConfig(
      { streams: streamsConfig },
      value === undefined ? {} : { STREAM_CORS_ORIGINS: value },
    ).streams.corsOrigins;

  it('defaults to the console in development and takes a list or *', () => {
    expect(parse()).toEqual(['http://localhost:3000', 'http://127.0.0.1:3000']);
    expect(parse('https://console.example.com, http://localhost:5173')).toEqual([
      'https://console.example.com',
      'http://localhost:5173',
    ]);
    expect(parse('*')).toEqual(['*']);
  });

  it('refuses what is not an origin', () => {
    expect(() => parse('https://console.example.com/console')).toThrow(/STREAM_CORS_ORIGINS/);
    expect(() => parse('console.example.com')).toThrow(/STREAM_CORS_ORIGINS/);
  });
});
