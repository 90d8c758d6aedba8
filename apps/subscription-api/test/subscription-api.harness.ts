// Starts subscription-api in-process on a free port against the real Redis (under a fresh key
// prefix) and the shipped contract, and gives tests a small HTTP client.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { loadConfig } from '@herald/config';
import type { HostResolver } from '@herald/delivery';
import { startHttpApp } from '@herald/http-server';
import { createObservability } from '@herald/observability';
import { createTestStore } from '@herald/store/testing';
import { AppModule, SERVICE } from '../src/app.module';
import { subscriptionApiConfigFragments } from '../src/subscription-api.config';
import { configureSubscriptionApi } from '../src/subscription-api.setup';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';
const REPO_ROOT = join(__dirname, '..', '..', '..');

export interface ApiResponse<T = Record<string, unknown>> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
  readonly text: string;
}

export interface RequestOptions {
  /** API key; default the admin key; null sends no Authorization header. */
  readonly key?: string | null;
  readonly body?: unknown;
  /** A raw body sent as is (with `contentType`). */
  readonly raw?: string;
  readonly contentType?: string;
  readonly headers?: Record<string, string>;
  /** Aborts the request (a test's guard against a server that never answers). */
  readonly signal?: AbortSignal;
}

export type TestApi = Awaited<ReturnType<typeof startSubscriptionApi>>;

export async function startSubscriptionApi(
  options: { env?: Record<string, string>; resolver?: HostResolver } = {},
) {
  const store = await createTestStore();
  const env: Record<string, string> = {
    REDIS_URL: store.url,
    HERALD_REDIS_PREFIX: store.prefix,
    HERALD_ADMIN_KEY: ADMIN_KEY,
    HERALD_SECRET_KEY: randomBytes(32).toString('base64'),
    HERALD_CONTRACTS: join(REPO_ROOT, 'asyncapi'),
    SUBSCRIPTION_API_PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    // Nothing here talks to Kafka; an address that refuses at once keeps readiness honest.
    KAFKA_BROKERS: '127.0.0.1:1',
    HERALD_VERIFICATION_TIMEOUT_MS: '1500',
    ...options.env,
  };
  const config = loadConfig(subscriptionApiConfigFragments, env);
  const observability = createObservability(SERVICE, config.observability);
  const app: NestFastifyApplication = await startHttpApp({
    module: AppModule.forRoot(
      config,
      observability,
      options.resolver ? { resolver: options.resolver } : {},
    ),
    http: {
      ...config.http,
      maxRequestBytes: Math.min(config.http.maxRequestBytes, config.subscriptions.maxBodyBytes),
    },
    observability,
    configure: (nest) => configureSubscriptionApi(nest, observability.logger),
  });
  const { port } = app.getHttpServer().address() as { port: number };
  const base = `http://127.0.0.1:${port}`;

  async function request<T = Record<string, unknown>>(
    method: string,
    path: string,
    opts: RequestOptions = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    const key = opts.key === undefined ? ADMIN_KEY : opts.key;
    if (key !== null) headers['authorization'] = `Bearer ${key}`;
    let body: string | undefined;
    if (opts.raw !== undefined) {
      body = opts.raw;
      if (opts.contentType) headers['content-type'] = opts.contentType;
    } else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = opts.contentType ?? 'application/json';
    }
    const response = await fetch(`${base}${path}`, { method, headers, body, signal: opts.signal });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // Not JSON (HTML, YAML): tests read `text`.
    }
    return { status: response.status, headers: response.headers, body: parsed as T, text };
  }

  /** Creates an API key for `tenant` with `scopes` (as the admin) and returns the key. */
  async function createKey(tenant: string, scopes: unknown[]): Promise<string> {
    const created = await request<{ key: string }>('POST', '/v1/api-keys', {
      body: { name: `${tenant}-key`, tenant, scopes },
    });
    if (created.status !== 201) throw new Error(`key creation failed: ${created.text}`);
    return created.body.key;
  }

  return {
    base,
    app,
    store,
    config,
    observability,
    request,
    createKey,
    async close(): Promise<void> {
      await app.close();
      await store.cleanup();
    },
  };
}

/** Polls `check` until it returns something other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A resolver that answers from a table, for names the tests invent. */
export function tableResolver(table: Record<string, string[]>): HostResolver {
  return (hostname) => {
    const addresses = table[hostname];
    if (!addresses)
      return Promise.reject(Object.assign(new Error('no such name'), { code: 'ENOTFOUND' }));
    return Promise.resolve(
      addresses.map((address) => ({
        address,
        family: address.includes(':') ? (6 as const) : (4 as const),
      })),
    );
  };
}

/** Public-looking names tests subscribe with: every one resolves to a documentation-free public address. */
export const PUBLIC_RESOLVER = tableResolver({
  'hooks.example.com': ['93.184.216.34'],
  'partner.example.net': ['93.184.216.35'],
  'internal.example.com': ['10.1.2.3'],
});
