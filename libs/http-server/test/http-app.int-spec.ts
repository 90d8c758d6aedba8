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

describe('an app started by startHttpApp', () => {
  let app: NestFastifyApplication;
  let observability: Observability;
  let base: string;
  let redisUp = true;

  beforeAll(async () => {
    observability = createObservability('test', {
      logLevel: 'silent',
      healthCheckTimeoutMs: 200,
      shutdownTimeoutMs: 5000,
      metricsPerSubscription: false,
      tracing: { otlpEndpoint: undefined, serviceName: undefined },
    });
    observability.readiness.register('kafka', () => Promise.resolve());
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
      expect(await ready.json()).toMatchObject({
        error: { redis: { status: 'down', message: 'ECONNREFUSED' } },
      });
    } finally {
      redisUp = true;
    }
  });

  it('fails a check that does not answer within its timeout', async () => {
    observability.readiness.register('slow', () => new Promise(() => undefined));
    try {
      const ready = await fetch(`${base}/health/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({
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
      error: { process: { status: 'down', message: 'shutting down' } },
    });
  });
});
