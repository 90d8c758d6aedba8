// What the console does with data it cannot trust (event payloads, descriptions, response bodies,
// problems): Debian's Chromium against a stand-in for subscription-api and fanout that serves the
// real build and answers with hostile data. No gateway: these tests are about rendering.
import { readFile } from 'node:fs/promises';
import { createServer, type ServerResponse, type Server } from 'node:http';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CONSOLE_DIST, ensureConsoleBuilt } from '../src/build/console-build';
import { CHROMIUM } from './console.harness';

const KEY = 'hk_untrusted_test';
/** Markup that runs script if anything puts it into the page as HTML. */
const MARKUP = '<img src=x onerror="window.__injected=1"><script>window.__injected=2</script>';
/** Nesting past what JSON.stringify can write back in Chromium (Node stops near 4,200 levels). */
const DEEP = 20_000;

const eventType = (type: string) => ({
  type,
  tmfEventType: 'OrderCreateEvent',
  channel: 'orders',
  topic: 'orders.v1',
  title: 'An order was created',
  summary: null,
  description: null,
  key: 'data.id',
  internal: false,
  schema: { type: 'object' },
  example: { id: 'o1' },
});

const subscription = {
  id: 'sub_1',
  tenant: 't',
  kind: 'webhook',
  url: 'javascript:window.__injected=3//https://example.com/',
  types: ['order.created'],
  filter: null,
  format: 'cloudevents',
  ordering: 'key',
  from: 'latest',
  maxInFlight: 16,
  maxPerSecond: null,
  retry: { schedule: ['5s'] },
  headers: { 'x-note': MARKUP },
  auth: null,
  verification: { mode: 'none', state: 'not_required', checkedAt: null, failure: MARKUP },
  description: MARKUP,
  metadata: {},
  status: 'disabled',
  statusReason: MARKUP,
  createdAt: '2026-01-01T00:00:00Z',
  updatedAt: '2026-01-01T00:00:00Z',
  version: 1,
};

const attempt = {
  id: 'att_1',
  eventId: MARKUP,
  type: 'order.created',
  attempt: 1,
  at: '2026-01-01T00:00:00Z',
  status: 'failed',
  statusCode: 500,
  durationMs: 5,
  error: MARKUP,
  responseBody: `<!doctype html><html><body>${MARKUP}<a href="javascript:window.__injected=4">x</a></body></html>`,
  replay: false,
  test: false,
};

/** A gap whose topic is markup and far longer than any topic: it must show as one short line of text. */
const HOSTILE_GAP = {
  topic: `${MARKUP}\n${'t'.repeat(100_000)}`,
  partition: 3,
  requestedOffset: MARKUP,
  resumedOffset: '250',
  skipped: 150,
  cursor: 'c0',
};

/**
 * Streamed events: a gap with markup in it, one event nested too deeply to write back as JSON,
 * one full of markup.
 */
function sseBody(): string {
  // JSON.stringify cannot write it: the text is built by hand.
  const deepText = `{"specversion":"1.0","id":"evt_deep","type":"order.created","source":"test","data":${'['.repeat(DEEP)}${']'.repeat(DEEP)}}`;
  const marked = {
    specversion: '1.0',
    id: 'evt_markup',
    type: 'order.created',
    source: MARKUP,
    data: { note: MARKUP, link: 'javascript:window.__injected=5' },
  };
  return (
    `id: c0\nevent: herald.stream.gap\ndata: ${JSON.stringify(HOSTILE_GAP)}\n\n` +
    `id: c1\nevent: order.created\ndata: ${deepText}\n\n` +
    `id: c2\nevent: order.created\ndata: ${JSON.stringify(marked)}\n\n` +
    `id: c2\nevent: herald.stream.end\ndata: ${JSON.stringify({ reason: 'subscription_paused', cursor: 'c2', message: MARKUP })}\n\n`
  );
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response
    .writeHead(status, {
      'content-type': status >= 400 ? 'application/problem+json' : 'application/json',
    })
    .end(JSON.stringify(body));
}

/** subscription-api and fanout on one origin: the console's build and hostile answers. */
async function startStandIn() {
  const server: Server = createServer((request, response) => {
    void (async () => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const path = url.pathname;
      const signedIn = request.headers.authorization === `Bearer ${KEY}`;
      if (path === '/console/config.json')
        return json(response, 200, { streamsUrl: `http://${request.headers.host}` });
      if (path.startsWith('/console/assets/')) {
        const file = await readFile(join(CONSOLE_DIST, path.slice('/console/'.length)));
        const type = path.endsWith('.css') ? 'text/css' : 'text/javascript';
        return response.writeHead(200, { 'content-type': type }).end(file);
      }
      if (path === '/console' || path.startsWith('/console/')) {
        const page = await readFile(join(CONSOLE_DIST, 'index.html'));
        return response
          .writeHead(200, {
            'content-type': 'text/html; charset=utf-8',
            // As subscription-api serves it (apps/subscription-api/src/console/console-files.ts).
            'content-security-policy':
              "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
          })
          .end(page);
      }
      if (path === '/v1/event-types')
        return json(response, 200, { items: [eventType('order.created')] });
      if (!signedIn)
        return json(response, 401, { status: 401, title: 'Unauthorized', detail: MARKUP });
      if (path === '/v1/streams/sse')
        return response.writeHead(200, { 'content-type': 'text/event-stream' }).end(sseBody());
      if (path === '/v1/subscriptions') return json(response, 200, { items: [subscription] });
      if (path === '/v1/subscriptions/sub_1') return json(response, 200, subscription);
      if (path === '/v1/subscriptions/sub_1/deliveries')
        return json(response, 200, { items: [attempt], nextCursor: null });
      if (path === '/v1/subscriptions/sub_1/dead-letters')
        return json(response, 200, { items: [], nextCursor: null });
      if (path === '/v1/subscriptions/sub_1/replays') return json(response, 200, { items: [] });
      return json(response, 400, {
        status: 400,
        title: MARKUP,
        detail: MARKUP,
        errors: [{ pointer: MARKUP, message: MARKUP }],
      });
    })().catch((error: unknown) => response.writeHead(500).end(String(error)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('the console with untrusted data', () => {
  let standIn: Awaited<ReturnType<typeof startStandIn>>;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await ensureConsoleBuilt();
    standIn = await startStandIn();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await standIn?.close();
  });

  beforeEach(async () => {
    page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    // Whatever the policy blocks (an inline script or style, a call elsewhere) is a defect too.
    page.on('console', (message) => {
      if (message.type() === 'error' && message.text().includes('Content Security Policy'))
        pageErrors.push(message.text());
    });
    // Signed in: the key in this tab's sessionStorage, as the sign-in page leaves it.
    await page.addInitScript(`sessionStorage.setItem('herald.console.apiKey', '${KEY}')`);
  });

  afterEach(async () => {
    await page.close();
    pageErrors.length = 0;
  });

  const injected = () => page.evaluate<unknown>('window.__injected');

  it('shows streamed events nested too deeply to print, and markup as text', async () => {
    await page.goto(`${standIn.origin}/console/tail`);
    await page.getByRole('button', { name: 'Start' }).click();
    await page
      .locator('[data-event-id="evt_markup"]')
      .or(page.getByRole('alert'))
      .first()
      .waitFor();
    // The page is still there, with both events, and says why the stream ended.
    expect(pageErrors).toEqual([]);
    expect(await page.getByRole('heading', { name: 'Live tail' }).count()).toBe(1);
    await page
      .getByRole('alert')
      .filter({ hasText: 'The live tail stopped.' })
      .filter({ hasText: 'window.__injected=1' })
      .waitFor();
    // The gap is told as text, its topic cut to what a topic can be.
    const gap = page.getByRole('alert').filter({ hasText: 'Events were skipped' });
    const told = await gap.getByRole('listitem').innerText();
    expect(told).toContain('Kafka no longer holds the records after your position on <img src=x');
    expect(told).toContain(
      '(up to 150 records, of any type); the tail resumed at the oldest held, offset 250.',
    );
    expect(told.length).toBeLessThan(600);
    const deep = page.locator('[data-event-id="evt_deep"]');
    await deep.getByText('Event evt_deep').click();
    await deep.getByText(/nests too deeply to show/).waitFor();
    const marked = page.locator('[data-event-id="evt_markup"]');
    await marked.getByText('Event evt_markup').click();
    await marked
      .getByText(/window.__injected=1/)
      .first()
      .waitFor();
    expect(await page.locator('a[href^="javascript:"]').count()).toBe(0);
    expect(await injected()).toBeUndefined();
    expect(pageErrors).toEqual([]);
  });

  it('shows descriptions, response bodies and problems as text', async () => {
    await page.goto(`${standIn.origin}/console/subscriptions/sub_1`);
    await page.getByRole('heading', { name: /window.__injected=1/ }).waitFor();
    await page.getByRole('table').getByText('Body', { exact: true }).click();
    await page.getByText('window.__injected=4').waitFor();
    // A refused action shows the problem's words as they are.
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByRole('alert').filter({ hasText: 'window.__injected=2' }).first().waitFor();
    expect(await page.locator('img, script:not([src])').count()).toBe(0);
    expect(await page.locator('a[href^="javascript:"]').count()).toBe(0);
    expect(await injected()).toBeUndefined();
    expect(pageErrors).toEqual([]);
  });
});
