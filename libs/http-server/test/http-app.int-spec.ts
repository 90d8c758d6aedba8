import { connect, type Socket } from 'node:net';
import { Module } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import {
  createObservability,
  ObservabilityModule,
  type Observability,
} from '@herald/observability';
import { startHttpApp } from '../src';

function appModule(observability: Observability) {
  @Module({ imports: [ObservabilityModule.forRoot(observability)] })
  class TestAppModule {}
  return TestAppModule;
}

function testObservability(): Observability {
  return createObservability('test', {
    logLevel: 'silent',
    healthCheckTimeoutMs: 200,
    shutdownTimeoutMs: 5000,
    metricsPerSubscription: false,
    tracing: { otlpEndpoint: undefined, serviceName: undefined },
  });
}

async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('an app started by startHttpApp', () => {
  let app: NestFastifyApplication;
  let observability: Observability;
  let base: string;
  let redisUp = true;
  let kafkaUp = true;

  beforeAll(async () => {
    observability = testObservability();
    observability.readiness.register('kafka', () =>
      kafkaUp ? Promise.resolve() : Promise.reject(new Error('broker refused')),
    );
    observability.readiness.register('redis', () =>
      redisUp ? Promise.resolve() : Promise.reject(new Error('ECONNREFUSED')),
    );
    app = await startHttpApp({
      module: appModule(observability),
      http: { port: 0, host: '127.0.0.1', maxRequestBytes: 1024 },
      observability,
    });
    const address = app.getHttpServer().address() as { port: number };
    base = `http://127.0.0.1:${address.port}`;
  });

  afterAll(async () => {
    await app.close();
  });

  it('is live and ready while its checks pass', async () => {
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
    const ready = await fetch(`${base}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'ok',
      details: { kafka: { status: 'up' }, redis: { status: 'up' } },
    });
  });

  it('answers 503 naming the failing check', async () => {
    redisUp = false;
    try {
      const ready = await fetch(`${base}/health/ready`);
      expect(ready.status).toBe(503);
      expect(ready.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await ready.json()).toEqual({
        type: 'urn:herald:problem:http.503',
        title: 'Service Unavailable',
        status: 503,
        detail: 'Not ready: redis',
        code: 'http.503',
        instance: '/health/ready',
        info: { process: { status: 'up' }, kafka: { status: 'up' } },
        error: { redis: { status: 'down', message: 'ECONNREFUSED' } },
        details: {
          process: { status: 'up' },
          kafka: { status: 'up' },
          redis: { status: 'down', message: 'ECONNREFUSED' },
        },
      });
    } finally {
      redisUp = true;
    }
  });

  it('names every failing check in the detail', async () => {
    redisUp = false;
    kafkaUp = false;
    try {
      const ready = await fetch(`${base}/health/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({
        detail: 'Not ready: kafka, redis',
        error: { kafka: { status: 'down' }, redis: { status: 'down' } },
      });
    } finally {
      redisUp = true;
      kafkaUp = true;
    }
  });

  it('fails a check that does not answer within its timeout', async () => {
    observability.readiness.register('slow', () => new Promise(() => undefined));
    try {
      const ready = await fetch(`${base}/health/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({
        detail: 'Not ready: slow',
        error: { slow: { status: 'down', message: 'no answer within 200 ms' } },
      });
    } finally {
      observability.readiness.register('slow', () => Promise.resolve());
    }
  });

  it('counts requests by route template and status class', async () => {
    await fetch(`${base}/no/such/route/123`);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(
      /herald_http_request_duration_seconds_count\{service="test",route="\/health\/ready",method="GET",status_class="2xx"\} \d+/,
    );
    expect(text).toMatch(
      /herald_http_request_duration_seconds_count\{service="test",route="unmatched",method="GET",status_class="4xx"\} 1/,
    );
    expect(text).not.toContain('/no/such/route');
  });

  it('is not ready once shutdown has begun', async () => {
    observability.readiness.markShuttingDown();
    const ready = await fetch(`${base}/health/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({
      detail: 'Not ready: process',
      error: { process: { status: 'down', message: 'shutting down' } },
    });
  });
});

describe('an app started by startHttpApp, while it closes', () => {
  it('answers a request that arrives once closing has begun with a 503 problem', async () => {
    const observability = testObservability();
    const app = await startHttpApp({
      module: appModule(observability),
      http: { port: 0, host: '127.0.0.1', maxRequestBytes: 1024 },
      observability,
    });
    const server = app.getHttpServer();
    const { port } = server.address() as { port: number };
    // A request half sent when closing begins: its connection is busy, so the server waits for
    // it, and the request arrives whole only after the server has stopped listening.
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    const socketClosed = new Promise((resolve) => socket.once('close', resolve));
    socket.write('GET /health/live?x=1 HTTP/1.1\r\nHost: herald.test\r\n');
    const serverSide = await accepted;
    await waitUntil(() => serverSide.bytesRead > 0, 'the server to read the first half');
    const logged = jest.spyOn(observability.logger, 'info');
    const closed = app.close();
    await waitUntil(() => !server.listening, 'the server to stop listening');
    socket.write('\r\n');
    await socketClosed;
    await closed;

    const [head = '', body = ''] = received.split('\r\n\r\n');
    const [statusLine, ...headerLines] = head.split('\r\n');
    const headers = Object.fromEntries(
      headerLines.map((line) => {
        const colon = line.indexOf(':');
        return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
      }),
    );
    expect(statusLine).toBe('HTTP/1.1 503 Service Unavailable');
    expect(headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(headers['retry-after']).toBe('1');
    expect(headers['connection']).toBe('close');
    expect(JSON.parse(body)).toEqual({
      type: 'urn:herald:problem:server.shutting_down',
      title: 'Service Unavailable',
      status: 503,
      detail: expect.stringContaining('shutting down') as string,
      code: 'server.shutting_down',
      instance: '/health/live',
    });
    expect(logged).toHaveBeenCalledWith(
      { refused: 1 },
      'refused requests that arrived while the server was closing',
    );
    // Timed like any other answer.
    expect(await observability.metrics.registry.metrics()).toMatch(
      /herald_http_request_duration_seconds_count\{service="test",route="\/health\/live",method="GET",status_class="5xx"\} 1/,
    );
  });

  it('closes a keep-alive connection once the request in flight when closing began is answered', async () => {
    const observability = testObservability();
    let checking = false;
    observability.readiness.register('slow', async () => {
      checking = true;
      await new Promise((resolve) => setTimeout(resolve, 300));
    });
    const app = await startHttpApp({
      module: appModule(observability),
      http: { port: 0, host: '127.0.0.1', maxRequestBytes: 1024 },
      observability,
    });
    const server = app.getHttpServer();
    const { port } = server.address() as { port: number };
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    const socketClosed = new Promise<'closed'>((resolve) =>
      socket.once('close', () => resolve('closed')),
    );
    // HTTP/1.1 keeps the connection by default; the answer is on its way when closing begins.
    socket.write('GET /health/ready HTTP/1.1\r\nHost: herald.test\r\n\r\n');
    await waitUntil(() => checking, 'the request to be in flight');
    const closed = app.close();
    // The server ends the connection after the answer, not after its keep-alive timeout (72 s).
    let giveUp: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      socketClosed,
      new Promise((resolve) => (giveUp = setTimeout(() => resolve('still open'), 5000))),
    ]);
    // Left running, the timer kept Jest's worker alive for 5 s after the file's tests.
    clearTimeout(giveUp);
    socket.destroy();
    await closed;
    expect(received).toMatch(/^HTTP\/1\.1 \d{3} /);
    expect(received.toLowerCase()).toContain('connection: close');
    expect(ended).toBe('closed');
  });
});
