import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { loadConfig } from '@herald/config';
import { httpServerConfig, startHttpApp } from '@herald/http-server';
import { createObservability, observabilityConfig } from '@herald/observability';
import { consoleConfig } from './console.config';
import { ConsoleModule } from './console.module';
import { consoleTarget } from './console-files';

const INDEX =
  '<!doctype html><title>Herald console</title><script src="/console/assets/app-1a2b.js"></script>';

async function serve(env: Record<string, string>) {
  const config = loadConfig(
    {
      http: httpServerConfig('CONSOLE_TEST_PORT', 0),
      observability: observabilityConfig,
      console: consoleConfig,
    },
    { HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...env },
  );
  const observability = createObservability('console-test', config.observability);
  const app: NestFastifyApplication = await startHttpApp({
    module: ConsoleModule.forRoot(config.console),
    http: config.http,
    observability,
  });
  const { port } = app.getHttpServer().address() as { port: number };
  return { app, base: `http://127.0.0.1:${port}` };
}

describe('the console at /console', () => {
  let dir: string;
  let app: NestFastifyApplication;
  let base: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'herald-console-'));
    mkdirSync(join(dir, 'dist', 'assets'), { recursive: true });
    writeFileSync(join(dir, 'dist', 'index.html'), INDEX);
    writeFileSync(join(dir, 'dist', 'assets', 'app-1a2b.js'), 'console.log("hi")');
    writeFileSync(join(dir, 'dist', '.build-hash'), 'abc');
    writeFileSync(join(dir, 'secret.txt'), 'not for the web');
    ({ app, base } = await serve({
      HERALD_CONSOLE_DIR: join(dir, 'dist'),
      HERALD_STREAMS_URL: 'https://streams.example.com/',
    }));
  });

  afterAll(async () => {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(['/console', '/console/', '/console/subscriptions/sub_123', '/console/tail?types=a.*'])(
    'answers %s with the single-page app',
    async (path) => {
      const response = await fetch(`${base}${path}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('cache-control')).toBe('no-cache');
      expect(response.headers.get('content-security-policy')).toContain(
        "connect-src 'self' https://streams.example.com",
      );
      expect(await response.text()).toBe(INDEX);
    },
  );

  it('serves hashed assets with their type, cached for good', async () => {
    const response = await fetch(`${base}/console/assets/app-1a2b.js`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(response.headers.get('cache-control')).toContain('immutable');
    expect(await response.text()).toBe('console.log("hi")');
  });

  it('tells the console where the streams API is', async () => {
    const response = await fetch(`${base}/console/config.json`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ streamsUrl: 'https://streams.example.com' });
  });

  it.each([
    '/console/assets/gone-9z9z.js',
    '/console/.build-hash',
    '/console/%2e%2e/secret.txt',
    '/console/..%2fsecret.txt',
    '/console/assets/..%5c..%5csecret.txt',
  ])('answers %s with a 404 problem and nothing from outside the build', async (path) => {
    const response = await fetch(`${base}${path}`);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    const text = await response.text();
    expect(text).not.toContain('not for the web');
    expect(JSON.parse(text)).toMatchObject({ status: 404, title: 'Not Found' });
  });

  it('refuses a malformed path', async () => {
    // Fastify answers this 400 itself, before routing.
    const response = await fetch(`${base}/console/%E0%A4%A.js`);
    expect(response.status).toBe(400);
  });

  it('says how to build the console when there is no build', async () => {
    const bare = await serve({ HERALD_CONSOLE_DIR: join(dir, 'nowhere') });
    try {
      const response = await fetch(`${bare.base}/console/subscriptions`);
      expect(response.status).toBe(404);
      const problem = (await response.json()) as { code: string; detail: string };
      expect(problem.code).toBe('console.build_not_found');
      expect(problem.detail).toContain('npm run build -w apps/console');
    } finally {
      await bare.app.close();
    }
  });
});

describe('consoleTarget', () => {
  it('tells files from client routes and refuses what could leave the build', () => {
    expect(consoleTarget('')).toEqual({ kind: 'page' });
    expect(consoleTarget('subscriptions/sub_1/edit')).toEqual({ kind: 'page' });
    expect(consoleTarget('assets/index-abc.css')).toEqual({
      kind: 'file',
      path: 'assets/index-abc.css',
    });
    for (const rest of [
      '../x.js',
      'a/../../x.js',
      '%2e%2e/x.js',
      'a%2f..%2fx.js',
      'a//b.js',
      '.env',
    ])
      expect(consoleTarget(rest)).toEqual({ kind: 'missing' });
  });
});
