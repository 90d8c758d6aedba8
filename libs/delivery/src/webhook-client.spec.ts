import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { createAddressPolicy } from './address-policy';
import type { HostResolver } from './host-resolver';
import { decide } from './retry-policy';
import {
  WebhookClient,
  type WebhookAttemptResult,
  type WebhookClientOptions,
} from './webhook-client';
import { buildWebhookRequest } from './webhook-request';
import { checkWebhookUrl } from './webhook-url';
import { generateSecret } from './webhook-signature';

interface Receiver {
  readonly url: string;
  readonly port: number;
  readonly requests: Array<{
    method: string;
    url: string;
    headers: IncomingMessage['headers'];
    body: string;
  }>;
  connections: number;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function startReceiver(handler: Handler): Promise<Receiver> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      receiver.requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      });
      handler(req, res);
    });
  });
  server.on('connection', () => {
    receiver.connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const receiver: Receiver = {
    url: `http://127.0.0.1:${port}`,
    port,
    requests: [],
    connections: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return receiver;
}

const loopbackAllowed = createAddressPolicy(['127.0.0.0/8']);
const hookBody = JSON.stringify({ type: 'order.created', data: { id: 1 } });
const send = (client: WebhookClient, url: string, headers: Record<string, string> = {}) =>
  client.send({ url, headers: { 'content-type': 'application/json', ...headers }, body: hookBody });

describe('WebhookClient', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
  });

  async function receiver(handler: Handler): Promise<Receiver> {
    const started = await startReceiver(handler);
    cleanups.push(() => started.close());
    return started;
  }

  function client(options: Partial<WebhookClientOptions> = {}): WebhookClient {
    const created = new WebhookClient({ policy: loopbackAllowed, ...options });
    cleanups.push(() => created.close());
    return created;
  }

  it('POSTs the body and headers and returns status, headers, body and duration', async () => {
    const target = await receiver((_req, res) => {
      res.writeHead(202, { 'x-receipt': 'r-1' }).end('accepted');
    });
    const result = await send(client(), `${target.url}/hooks?x=1`, { 'webhook-id': 'evt-1' });
    expect(result).toMatchObject({
      kind: 'response',
      status: 202,
      body: 'accepted',
      bodyTruncated: false,
      headers: expect.objectContaining({ 'x-receipt': 'r-1' }) as Record<string, string>,
    });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    expect(target.requests).toEqual([
      expect.objectContaining({
        method: 'POST',
        url: '/hooks?x=1',
        body: hookBody,
        headers: expect.objectContaining({
          'webhook-id': 'evt-1',
          'content-type': 'application/json',
        }) as object,
      }),
    ]);
  });

  it('keeps only the first 2 KiB of a large body', async () => {
    const target = await receiver((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('é'.repeat(512 * 1024));
    });
    const result = await send(client(), target.url);
    expect(result).toMatchObject({ kind: 'response', status: 500, bodyTruncated: true });
    const body = result.kind === 'response' ? result.body : '';
    expect(Buffer.byteLength(body)).toBe(2048);
    expect(body).toBe('é'.repeat(1024));
  });

  it('drops a multi-byte character cut in half by the cap', async () => {
    const target = await receiver((_req, res) => res.end(`a${'€'.repeat(1000)}`));
    const result = await send(client(), target.url);
    const body = result.kind === 'response' ? result.body : '';
    expect(body).toBe(`a${'€'.repeat(682)}`);
  });

  it('reuses keep-alive connections, also after a body a little over the cap', async () => {
    const target = await receiver((req, res) =>
      res.end(req.url === '/big' ? 'x'.repeat(5000) : 'ok'),
    );
    const webhooks = client();
    const results: WebhookAttemptResult[] = [];
    for (let i = 0; i < 10; i += 1)
      results.push(await send(webhooks, `${target.url}/${i % 3 === 0 ? 'big' : 'small'}`));
    expect(results.every((r) => r.kind === 'response' && r.status === 200)).toBe(true);
    expect(target.requests).toHaveLength(10);
    // undici's pool learns a connection is free one tick after the response ends, so a send
    // issued at once may open a second connection; from then on both are reused.
    expect(target.connections).toBeLessThanOrEqual(2);
  });

  it('opens at most a pool its bound of connections, and pools by key do not share them', async () => {
    const held: ServerResponse[] = [];
    const target = await receiver((req, res) => {
      if (req.url?.startsWith('/hang')) held.push(res);
      else res.end('ok');
    });
    const webhooks = client({ requestTimeoutMs: 5000 });
    const hanging = Array.from({ length: 6 }, (_, i) =>
      webhooks.send(
        { url: `${target.url}/hang/${i}`, headers: {}, body: hookBody },
        { key: 'sub_slow', connections: 2 },
      ),
    );
    // sub_slow's two connections are busy with hanging requests; sub_fast still gets through.
    for (let i = 0; i < 5; i += 1)
      await expect(
        webhooks.send(
          { url: `${target.url}/fast/${i}`, headers: {}, body: hookBody },
          { key: 'sub_fast', connections: 2 },
        ),
      ).resolves.toMatchObject({ kind: 'response', status: 200 });
    expect(held).toHaveLength(2);
    expect(target.connections).toBeLessThanOrEqual(4);
    // Answering frees sub_slow's connections for the four requests that waited in its pool.
    while (held.length < 6 || held.some((res) => !res.writableEnded)) {
      for (const res of held) if (!res.writableEnded) res.end('late');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const results = await Promise.all(hanging);
    expect(results.every((r) => r.kind === 'response' && r.body === 'late')).toBe(true);
    expect(target.connections).toBeLessThanOrEqual(4);
    webhooks.release('sub_slow');
    await expect(
      webhooks.send(
        { url: `${target.url}/fast/again`, headers: {}, body: hookBody },
        { key: 'sub_slow', connections: 2 },
      ),
    ).resolves.toMatchObject({ kind: 'response', status: 200 });
  });

  it('does not follow redirects: a 3xx is returned as it is', async () => {
    const target = await receiver((req, res) => {
      if (req.url === '/moved') res.writeHead(302, { location: '/elsewhere' }).end();
      else res.writeHead(200).end('followed');
    });
    const result = await send(client(), `${target.url}/moved`);
    expect(result).toMatchObject({
      kind: 'response',
      status: 302,
      headers: { location: '/elsewhere' },
    });
    expect(target.requests.map((r) => r.url)).toEqual(['/moved']);
  });

  it('returns retry-after for the retry policy', async () => {
    const target = await receiver((_req, res) =>
      res.writeHead(429, { 'retry-after': '120' }).end(),
    );
    const result = await send(client(), target.url);
    expect(result).toMatchObject({ status: 429, headers: { 'retry-after': '120' } });
  });

  it('honours the longest of two Retry-After headers', async () => {
    const target = await receiver((_req, res) => {
      res.setHeader('retry-after', ['12', '18']);
      res.writeHead(503).end();
    });
    const result = await send(client(), target.url);
    expect(result).toMatchObject({ status: 503, headers: { 'retry-after': '12, 18' } });
    const lowestJitter = () => 0;
    expect(decide(result, 1, [10_000], lowestJitter)).toMatchObject({
      action: 'retry',
      delayMs: 18_000,
    });
  });

  describe('compressed responses', () => {
    const message = 'the receiver is down for maintenance; try again later. '.repeat(20);
    const encoders: Array<[string, (text: Buffer) => Buffer]> = [
      ['gzip', (text) => gzipSync(text)],
      ['br', (text) => brotliCompressSync(text)],
      ['deflate', (text) => deflateSync(text)],
    ];

    it('asks for an uncompressed body, so a receiver that compresses by default sends it plain', async () => {
      // Without Accept-Encoding a receiver may use any coding (RFC 9110 §12.5.3).
      const target = await receiver((req, res) => {
        const accepted = req.headers['accept-encoding'];
        if (accepted === undefined || accepted.includes('gzip'))
          res.writeHead(500, { 'content-encoding': 'gzip' }).end(gzipSync(message));
        else res.writeHead(500).end(message);
      });
      const request = buildWebhookRequest({
        event: {
          id: 'evt-1',
          type: 'order.created',
          source: 'urn:test',
          time: '2025-03-01T12:00:00.000Z',
          data: { id: 1 },
        },
        subscription: {
          id: 'sub-1',
          url: target.url,
          format: 'standard',
          secrets: [generateSecret()],
        },
        attempt: 1,
        nowMs: Date.now(),
        version: 'test',
      });
      const result = await client().send(request);
      expect(target.requests[0]?.headers['accept-encoding']).toBe('identity');
      expect(result).toMatchObject({ kind: 'response', status: 500, body: message.slice(0, 2048) });
    });

    it.each(encoders)(
      'keeps a note instead of %s bytes sent though not asked for, and reuses the connection',
      async (coding, encode) => {
        const small = encode(Buffer.from(message));
        const large = encode(randomBytes(8 * 1024)); // incompressible: over the 2 KiB cap
        const target = await receiver((req, res) => {
          res.writeHead(503, { 'content-encoding': coding });
          res.end(req.url === '/large' ? large : small);
        });
        const webhooks = client();
        const results: WebhookAttemptResult[] = [];
        for (const path of ['/small', '/large', '/small', '/large'])
          results.push(await send(webhooks, `${target.url}${path}`));
        expect(results[0]).toMatchObject({
          kind: 'response',
          status: 503,
          body: `[${coding}-encoded body, ${small.length} bytes, not shown]`,
          bodyTruncated: false,
        });
        expect(results[1]).toMatchObject({
          kind: 'response',
          status: 503,
          body: `[${coding}-encoded body, ${large.length} bytes, not shown]`,
          bodyTruncated: true,
        });
        // Drained as before: the connection is reused (see the keep-alive test for the 2).
        expect(target.connections).toBeLessThanOrEqual(2);
      },
    );

    it('cuts off a long compressed body as it does any long body, saying so', async () => {
      const huge = gzipSync(randomBytes(256 * 1024));
      const target = await receiver((_req, res) => {
        res.writeHead(500, { 'content-encoding': 'gzip' }).end(huge);
      });
      const result = await send(client(), target.url);
      expect(result).toMatchObject({ kind: 'response', status: 500, bodyTruncated: true });
      const body = result.kind === 'response' ? result.body : '';
      expect(body).toMatch(/^\[gzip-encoded body, at least \d+ bytes, not shown\]$/);
      expect(Number(/\d+/.exec(body)?.[0])).toBeLessThan(huge.length);
    });

    it('shows an identity-coded body, and names a hostile coding without echoing it', async () => {
      const hostile = `x${'\u00e9'.repeat(300)}`;
      const target = await receiver((req, res) => {
        res.setHeader('content-encoding', req.url === '/plain' ? 'Identity' : hostile);
        res.writeHead(500).end(message);
      });
      const webhooks = client();
      await expect(send(webhooks, `${target.url}/plain`)).resolves.toMatchObject({
        body: message.slice(0, 2048),
      });
      await expect(send(webhooks, `${target.url}/hostile`)).resolves.toMatchObject({
        body: `[unrecognised-encoded body, ${message.length} bytes, not shown]`,
      });
    });
  });

  describe('responses that are not quite HTTP', () => {
    /** A TCP server that answers each request with the next of `answers`, written as it is. */
    async function rawReceiver(answers: string[]): Promise<{ url: string }> {
      const sockets = new Set<Socket>();
      const server = createTcpServer((socket) => {
        sockets.add(socket);
        socket.on('error', () => undefined); // the client may close mid-answer
        socket.on('data', () => socket.write(answers.shift() ?? ''));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      cleanups.push(
        () =>
          new Promise<void>((resolve) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => resolve());
          }),
      );
      return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
    }
    const ok = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok';

    it.each<[string, unknown]>([
      ['999', 'invalid HTTP status 999'],
      ['600', 'invalid HTTP status 600'],
      [
        '099',
        expect.stringMatching(/^undici rejected the response: [^\n]*assert\(statusCode >= 100\)$/),
      ],
    ])(
      'reports status %s as a network error in one line, and the next attempt gets through',
      async (status, message) => {
        const target = await rawReceiver([
          `HTTP/1.1 ${status} Odd\r\nretry-after: 1\r\ncontent-length: 2\r\n\r\nno`,
          ok,
        ]);
        const webhooks = client();
        await expect(send(webhooks, target.url)).resolves.toMatchObject({
          kind: 'error',
          error: 'network',
          message,
        });
        await expect(send(webhooks, target.url)).resolves.toMatchObject({
          status: 200,
          body: 'ok',
        });
      },
    );

    it('skips 1xx informational responses and reads the final one', async () => {
      const target = await rawReceiver([
        'HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n' +
          'HTTP/1.1 503 Busy\r\nretry-after: 30\r\ncontent-length: 4\r\n\r\nbusy',
      ]);
      const result = await send(client(), target.url);
      expect(result).toMatchObject({ kind: 'response', status: 503, body: 'busy' });
      expect(result.kind === 'response' && result.headers).toEqual({
        'retry-after': '30',
        'content-length': '4',
      });
    });

    it('reports headers past 16 KiB and two Content-Length headers as network errors', async () => {
      const target = await rawReceiver([
        `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(64 * 1024)}\r\ncontent-length: 2\r\n\r\nok`,
        'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 9\r\n\r\nok',
        ok,
      ]);
      const webhooks = client();
      await expect(send(webhooks, target.url)).resolves.toMatchObject({
        kind: 'error',
        error: 'network',
        message: expect.stringContaining('UND_ERR_HEADERS_OVERFLOW') as string,
      });
      await expect(send(webhooks, target.url)).resolves.toMatchObject({
        kind: 'error',
        error: 'network',
        message: expect.stringContaining('UND_ERR_RES_CONTENT_LENGTH_MISMATCH') as string,
      });
      await expect(send(webhooks, target.url)).resolves.toMatchObject({ status: 200, body: 'ok' });
    });
  });

  it('reads response headers by lower-case name, joins repeats, and takes hostile names as plain keys', async () => {
    const target = await receiver((_req, res) => {
      res.setHeader('X-Receipt', 'r-9');
      res.setHeader('x-tag', ['a', 'b']);
      res.setHeader('__proto__', 'not a prototype');
      res.writeHead(200).end('ok');
    });
    const result = await send(client(), target.url);
    expect(result.kind).toBe('response');
    if (result.kind !== 'response') return;
    expect(result.headers['x-receipt']).toBe('r-9');
    expect(result.headers['x-tag']).toBe('a, b');
    expect(Object.getOwnPropertyDescriptor(result.headers, '__proto__')?.value).toBe(
      'not a prototype',
    );
    expect(Object.keys(result.headers)).toEqual(
      Object.keys(result.headers).map((name) => name.toLowerCase()),
    );
  });

  it('gives up on a receiver that never answers after the request timeout', async () => {
    const target = await receiver(() => undefined);
    const result = await send(client({ requestTimeoutMs: 300 }), target.url);
    expect(result).toMatchObject({
      kind: 'error',
      error: 'timeout',
      message: 'no complete response within 300 ms',
    });
    expect(result.durationMs).toBeGreaterThanOrEqual(290);
  });

  it('gives up on a body that stops arriving after the request timeout', async () => {
    const target = await receiver((_req, res) => {
      res.writeHead(200);
      res.write('partial');
    });
    const result = await send(client({ requestTimeoutMs: 300 }), target.url);
    expect(result).toMatchObject({ kind: 'error', error: 'timeout' });
  });

  it('counts DNS in the connect timeout', async () => {
    const hangingDns: HostResolver = () => new Promise(() => undefined);
    const result = await send(
      client({ resolver: hangingDns, connectTimeoutMs: 200 }),
      'http://slow-dns.test:1/',
    );
    expect(result).toMatchObject({
      kind: 'error',
      error: 'timeout',
      message: 'connect timed out after 200 ms',
    });
  });

  it('reports a refused connection as a connect error', async () => {
    const closed = await startReceiver(() => undefined);
    await closed.close();
    const result = await send(client(), closed.url);
    expect(result).toMatchObject({
      kind: 'error',
      error: 'connect',
      message: expect.stringContaining('ECONNREFUSED') as string,
    });
  });

  it('reports a header HTTP cannot carry as a request that cannot be sent, sending nothing', async () => {
    const target = await receiver((_req, res) => res.writeHead(204).end());
    const result = await send(client(), target.url, { authorization: 'Bearer тöken' });
    expect(result).toMatchObject({
      kind: 'error',
      error: 'invalid_request',
      message: expect.stringContaining('not sent') as string,
    });
    expect(target.requests).toEqual([]);
  });

  it('reports a name that does not resolve as a connect error', async () => {
    const noDns: HostResolver = () =>
      Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }));
    const result = await send(client({ resolver: noDns }), 'http://missing.test/');
    expect(result).toMatchObject({
      kind: 'error',
      error: 'connect',
      message: 'missing.test does not resolve to any address (ENOTFOUND)',
    });
  });

  it('refuses an IP literal the policy forbids without connecting', async () => {
    const target = await receiver((_req, res) => res.end('ok'));
    const result = await send(client({ policy: createAddressPolicy() }), target.url);
    expect(result).toMatchObject({
      kind: 'error',
      error: 'refused_address',
      message: '127.0.0.1 is a loopback address',
    });
    expect(target.connections).toBe(0);
  });

  it('connects to exactly the address it checked, with the URL host in the Host header', async () => {
    const target = await receiver((_req, res) => res.end('pinned'));
    const dns: HostResolver = (name) =>
      Promise.resolve(name === 'hooks.partner.test' ? [{ address: '127.0.0.1', family: 4 }] : []);
    const result = await send(
      client({ resolver: dns }),
      `http://hooks.partner.test:${target.port}/in`,
    );
    expect(result).toMatchObject({ kind: 'response', status: 200, body: 'pinned' });
    expect(target.requests[0]?.headers.host).toBe(`hooks.partner.test:${target.port}`);
  });

  it('refuses a name whose DNS answer turned private after registration (rebinding)', async () => {
    const target = await receiver((_req, res) => res.end('should not get here'));
    const url = `http://rebind.partner.test:${target.port}/hook`;
    let answer = '93.184.216.34';
    const rebindingDns: HostResolver = () => Promise.resolve([{ address: answer, family: 4 }]);
    const policy = createAddressPolicy();

    await expect(checkWebhookUrl(url, { policy, resolver: rebindingDns })).resolves.toMatchObject({
      addresses: [{ address: '93.184.216.34', family: 4 }],
    });
    answer = '127.0.0.1';
    const result = await send(client({ policy, resolver: rebindingDns }), url);
    expect(result).toMatchObject({
      kind: 'error',
      error: 'refused_address',
      message: 'rebind.partner.test resolves to 127.0.0.1, which is a loopback address',
    });
    expect(target.connections).toBe(0);
  });

  it('refuses a name when any of its addresses is forbidden', async () => {
    const target = await receiver((_req, res) => res.end('no'));
    const mixedDns: HostResolver = () =>
      Promise.resolve([
        { address: '93.184.216.34', family: 4 },
        { address: '127.0.0.1', family: 4 },
      ]);
    const result = await send(
      client({ policy: createAddressPolicy(), resolver: mixedDns }),
      `http://mixed.test:${target.port}/`,
    );
    expect(result).toMatchObject({ kind: 'error', error: 'refused_address' });
    expect(target.connections).toBe(0);
  });

  it('fails sends after close instead of throwing', async () => {
    const target = await receiver((_req, res) => res.end('ok'));
    const webhooks = new WebhookClient({ policy: loopbackAllowed });
    await expect(send(webhooks, target.url)).resolves.toMatchObject({ status: 200 });
    await webhooks.close();
    await expect(send(webhooks, target.url)).resolves.toMatchObject({
      kind: 'error',
      error: 'network',
    });
  });

  describe('over HTTPS', () => {
    const fixtures = join(__dirname, '../test/fixtures');
    // A self-signed certificate for hooks.partner.test, valid until 2126.
    const cert = readFileSync(join(fixtures, 'hooks-partner-test.cert.pem'));
    const key = readFileSync(join(fixtures, 'hooks-partner-test.key.pem'));
    const toLoopback: HostResolver = () => Promise.resolve([{ address: '127.0.0.1', family: 4 }]);

    async function httpsReceiver(): Promise<{ port: number; servernames: string[] }> {
      const servernames: string[] = [];
      const server = createHttpsServer({ cert, key }, (req, res) => {
        servernames.push(String((req.socket as TLSSocket).servername));
        req.resume();
        req.on('end', () => res.end('secure'));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      cleanups.push(
        () =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      );
      return { port: (server.address() as AddressInfo).port, servernames };
    }

    it('connects to the pinned address but presents and verifies the host name', async () => {
      const { port, servernames } = await httpsReceiver();
      const result = await send(
        client({ resolver: toLoopback, ca: [cert] }),
        `https://hooks.partner.test:${port}/`,
      );
      expect(result).toMatchObject({ kind: 'response', status: 200, body: 'secure' });
      expect(servernames).toEqual(['hooks.partner.test']);
    });

    it('refuses a certificate that does not name the URL host', async () => {
      const { port } = await httpsReceiver();
      const result = await send(
        client({ resolver: toLoopback, ca: [cert] }),
        `https://other.partner.test:${port}/`,
      );
      expect(result).toMatchObject({
        kind: 'error',
        error: 'connect',
        message: expect.stringContaining('ERR_TLS_CERT_ALTNAME_INVALID') as string,
      });
    });
  });
});
