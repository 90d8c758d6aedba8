// The whole gateway as `npm start` runs it (broker, three apps as processes, real Redis), the
// console built, a webhook receiver on 127.0.0.1, and Debian's Chromium driven by playwright-core.
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { APPS, REPO_ROOT, startGateway, type Gateway } from '@herald/dev/src/gateway';
import { waitFor } from '@herald/kafka/testing';
import { RedisConnection, storeKeys } from '@herald/store';
import { freePort } from '@herald/test-harness';
import { CONSOLE_DIST, ensureConsoleBuilt } from '../src/build/console-build';

export { waitFor };

/** Debian's Chromium: browsers cannot be downloaded here, and CI installs this one. */
export const CHROMIUM = '/usr/bin/chromium';

export interface ReceivedRequest {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A webhook endpoint per path, each answering 204 until told to fail. */
export async function startReceiver() {
  const failing = new Set<string>();
  const received: ReceivedRequest[] = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const path = (request.url ?? '/').split('?')[0]!;
      received.push({ path, headers: request.headers, body });
      if (failing.has(path)) {
        response
          .writeHead(500, { 'content-type': 'text/plain' })
          .end('receiver failing on purpose');
      } else {
        response.writeHead(204).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url: (path: string) => `${base}${path}`,
    fail: (path: string) => failing.add(path),
    recover: (path: string) => failing.delete(path),
    requestsTo: (path: string) => received.filter((request) => request.path === path),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/** Starts everything a console test needs; `stop()` ends exactly what it started. */
export async function startConsoleWorld() {
  await ensureConsoleBuilt();
  const receiver = await startReceiver();
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-console-test-'));
  const ports = {
    broker: await freePort(),
    'subscription-api': await freePort(),
    'ingest-bridge': await freePort(),
    fanout: await freePort(),
  };
  const consoleOrigin = `http://127.0.0.1:${ports['subscription-api']}`;
  const redisPrefix = `test:${randomUUID().slice(0, 8)}:`;
  const logs: string[] = [];
  let gateway: Gateway | undefined;
  let browser: Browser | undefined;
  try {
    gateway = await startGateway({
      dataDir,
      ports,
      env: {
        KAFKA_BROKERS: undefined,
        LOG_LEVEL: 'warn',
        // Its own key space in the shared Redis: nothing another run left there reaches it.
        HERALD_REDIS_PREFIX: redisPrefix,
        // The receiver is on 127.0.0.1, which Herald refuses unless allowed.
        HERALD_ALLOWED_NETWORKS: '127.0.0.0/8',
        HERALD_CONSOLE_DIR: CONSOLE_DIST,
        HERALD_STREAMS_URL: `http://127.0.0.1:${ports.fanout}`,
        STREAM_CORS_ORIGINS: consoleOrigin,
      },
      onLine: (name, line) => {
        logs.push(`[${name}] ${line}`);
        if (logs.length > 500) logs.shift();
      },
    });
    const started = gateway;
    for (const app of APPS) {
      await waitFor(
        async () =>
          (await fetch(`${started.urls[app.name]}/health/ready`).catch(() => undefined))?.status ===
          200,
        { what: `${app.name} ready`, timeoutMs: 60_000, intervalMs: 100 },
      );
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  } catch (error) {
    await browser?.close();
    await gateway?.stop();
    await receiver.close();
    rmSync(dataDir, { recursive: true, force: true });
    throw new Error(`${String(error)}\nlast log lines:\n${logs.slice(-40).join('\n')}`);
  }
  const urls = gateway.urls;
  const adminKey = gateway.adminKey;
  const redisUrl = gateway.redisUrl;

  async function api<T = Record<string, unknown>>(
    method: string,
    url: string,
    key: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }> {
    const response = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: (text === '' ? null : JSON.parse(text)) as T };
  }

  const tenant = `console-${randomUUID().slice(0, 8)}`;
  /** A key of the partner's tenant with the scopes the console needs, nothing more. */
  async function createPartnerKey(name: string): Promise<{ id: string; key: string }> {
    const created = await api<{ id: string; key: string }>(
      'POST',
      `${urls['subscription-api']}/v1/api-keys`,
      adminKey,
      { name, tenant, scopes: ['subscriptions:read', 'subscriptions:write', 'streams:read'] },
    );
    if (created.status !== 201)
      throw new Error(`could not create the key ${name}: ${JSON.stringify(created.body)}`);
    return created.body;
  }
  const partnerKey = (await createPartnerKey('console-test')).key;

  const example = (
    await api<{ example: Record<string, unknown> }>(
      'GET',
      `${urls['subscription-api']}/v1/event-types/order.created`,
      partnerKey,
    )
  ).body.example;

  return {
    urls,
    adminKey,
    partnerKey,
    receiver,
    browser,
    consoleUrl: `${urls['subscription-api']}/console`,
    logs: () => logs.join('\n'),

    /** Creates a webhook subscription for the partner through the API. */
    async createSubscription(
      body: Record<string, unknown>,
    ): Promise<{ id: string; secret: string }> {
      const created = await api<{ id: string; secret: string }>(
        'POST',
        `${urls['subscription-api']}/v1/subscriptions`,
        partnerKey,
        { kind: 'webhook', verification: 'none', ...body },
      );
      if (created.status !== 201)
        throw new Error(`subscription refused: ${JSON.stringify(created.body)}`);
      return created.body;
    },

    createPartnerKey,

    /**
     * Damages a subscription's sealed secrets in Redis (as a bad restore would): Herald can no
     * longer open them, and says so.
     */
    async damageSecrets(id: string): Promise<void> {
      const redis = new RedisConnection({ url: redisUrl, prefix: redisPrefix }, 'test');
      await redis.connect();
      try {
        const key = storeKeys(redisPrefix).subscription(id);
        const sealed = await redis.client.hget(key, 'sealed');
        if (!sealed) throw new Error(`no sealed secrets stored for ${id}`);
        await redis.client.hset(key, 'sealed', sealed.slice(0, -6));
      } finally {
        await redis.close();
      }
    },

    /** Deletes an API key, as an administrator. */
    async deleteKey(id: string): Promise<void> {
      const deleted = await api(
        'DELETE',
        `${urls['subscription-api']}/v1/api-keys/${id}`,
        adminKey,
      );
      if (deleted.status >= 300)
        throw new Error(`could not delete the key ${id}: ${JSON.stringify(deleted.body)}`);
    },

    /** Publishes an order.created (the contract's example) and returns its event id. */
    async publishOrder(): Promise<string> {
      const published = await api<{ id: string }>(
        'POST',
        `${urls['ingest-bridge']}/v1/events/order.created`,
        adminKey,
        example,
      );
      if (published.status !== 202)
        throw new Error(`ingest refused: ${JSON.stringify(published.body)}`);
      return published.body.id;
    },

    /** Reads the partner's records of a subscription through the API. */
    read<T>(path: string): Promise<{ status: number; body: T }> {
      return api<T>('GET', `${urls['subscription-api']}${path}`, partnerKey);
    },

    async stop(): Promise<void> {
      await browser?.close();
      await gateway?.stop();
      await receiver.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export type ConsoleWorld = Awaited<ReturnType<typeof startConsoleWorld>>;

/**
 * Screenshots go to docs/console/ when HERALD_UPDATE_SCREENSHOTS=true (to refresh the docs),
 * otherwise to a temporary folder, so a test run leaves the work tree as it was.
 */
export function screenshotDir(update: boolean): string {
  const dir = update
    ? join(REPO_ROOT, 'docs', 'console')
    : join(tmpdir(), 'herald-console-screenshots');
  mkdirSync(dir, { recursive: true });
  return dir;
}

// Runs in the page (a string: the tests are type-checked without the DOM library).
const UNLABELLED_CONTROLS = `(() => {
  const problems = [];
  const visible = (element) => element.offsetParent !== null;
  for (const control of document.querySelectorAll('input, select, textarea')) {
    if (!visible(control) || control.type === 'hidden') continue;
    const labelled =
      (control.labels ? control.labels.length : 0) > 0 ||
      control.hasAttribute('aria-label') ||
      control.hasAttribute('aria-labelledby');
    if (!labelled) problems.push('unlabelled ' + control.tagName.toLowerCase() + ' #' + control.id);
  }
  for (const element of document.querySelectorAll('button, a[href]')) {
    if (!visible(element)) continue;
    const name = (element.textContent || '').trim() || element.getAttribute('aria-label');
    if (!name) problems.push('nameless ' + element.outerHTML.slice(0, 80));
  }
  return problems;
})()`;

/** Every visible form control has a label, every button and link a name. */
export function unlabelledControls(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(UNLABELLED_CONTROLS);
}
