import dns from 'node:dns';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { verifyWebhookSignature } from './webhook-signature';

/** One request as a test receiver saw it. */
export interface ReceivedWebhook {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** Whether `webhook-signature` verified with one of the receiver's secrets; undefined without secrets. */
  readonly signatureValid: boolean | undefined;
}

/** How the receiver answers a request: a response, or `'hang'` to never answer. */
export type WebhookResponder = (
  request: ReceivedWebhook,
) => { status: number; headers?: Record<string, string>; body?: string } | 'hang';

export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>`; allow 127.0.0.0/8 in the address policy to reach it. */
  readonly url: string;
  readonly port: number;
  /** Every request so far, in arrival order. */
  readonly received: readonly ReceivedWebhook[];
  /** TCP connections accepted so far (keep-alive tests). */
  readonly connections: number;
  respondWith(responder: WebhookResponder): void;
  /** Resolves once `count` requests have arrived; rejects after `timeoutMs` (default 10000). */
  waitFor(count: number, timeoutMs?: number): Promise<readonly ReceivedWebhook[]>;
  close(): Promise<void>;
}

export interface WebhookReceiverOptions {
  /** Secrets to verify `webhook-signature` with (any may match). */
  readonly secrets?: readonly string[];
  /** Default: 204 for everything. */
  readonly respond?: WebhookResponder;
}

/**
 * A real HTTP server on 127.0.0.1 and a free port that records webhook requests, checks their
 * signatures and answers as told: the receiving end for delivery tests in any project.
 */
export async function startWebhookReceiver(
  options: WebhookReceiverOptions = {},
): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const waiters = new Set<() => void>();
  const hanging = new Set<ServerResponse>();
  let responder: WebhookResponder = options.respond ?? (() => ({ status: 204 }));
  let connections = 0;

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const request: ReceivedWebhook = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body,
        signatureValid: checkSignature(req.headers, body, options.secrets),
      };
      received.push(request);
      for (const wake of [...waiters]) wake();
      const answer = responder(request);
      if (answer === 'hang') {
        hanging.add(res);
        return;
      }
      res.writeHead(answer.status, answer.headers).end(answer.body);
    });
  });
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    get connections() {
      return connections;
    },
    respondWith(next) {
      responder = next;
    },
    waitFor(count, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (received.length < count) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(received);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `expected ${count} webhook requests within ${timeoutMs} ms, got ${received.length}`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close() {
      return new Promise((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}

function checkSignature(
  headers: IncomingHttpHeaders,
  body: string,
  secrets: readonly string[] | undefined,
): boolean | undefined {
  if (!secrets || secrets.length === 0) return undefined;
  const id = headers['webhook-id'];
  const timestamp = Number(headers['webhook-timestamp']);
  const signature = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof signature !== 'string') return false;
  return secrets.some((secret) =>
    verifyWebhookSignature({ id, timestamp, body }, signature, secret),
  );
}

/** Connections a test tried to open to something other than this machine, refused unopened. */
export interface LoopbackTripwire {
  /** `host:port` (with the address a name resolved to) of every connection stopped. */
  readonly violations: readonly string[];
  restore(): void;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+|0\.0\.0\.0|::)$/i;

/**
 * Until `restore()`, every `net.connect` in this process (undici's included) may reach only
 * loopback: a connection to any other address fails before a packet is sent, and is recorded.
 * SSRF tests hand the webhook client private and cloud-metadata addresses; should the address
 * policy ever let one through, the test fails on `violations` instead of sending traffic there.
 */
export function confineToLoopback(): LoopbackTripwire {
  const violations: string[] = [];
  const original = net.connect;
  const stop = (where: string): net.Socket => {
    violations.push(where);
    const socket = new net.Socket();
    process.nextTick(() => socket.destroy(new Error(`test tripwire: no connection to ${where}`)));
    return socket;
  };
  const guarded = (options: net.NetConnectOpts, listener?: () => void): net.Socket => {
    if (typeof options !== 'object' || !('port' in options)) return original(options, listener);
    const host = options.host ?? 'localhost';
    const where = `${host}:${options.port}`;
    if (net.isIP(host) !== 0) {
      return LOOPBACK.test(host) ? original(options, listener) : stop(where);
    }
    const lookup = options.lookup ?? dns.lookup;
    const checkedLookup: net.LookupFunction = (hostname, lookupOptions, callback) => {
      lookup(hostname, lookupOptions, (error, address, family) => {
        if (error) return callback(error, address, family);
        const all = Array.isArray(address) ? address : [{ address, family }];
        const outside = all.filter((entry) => !LOOPBACK.test(entry.address));
        if (outside.length === 0) return callback(null, address, family);
        violations.push(...outside.map((entry) => `${host}=${entry.address}:${options.port}`));
        callback(
          Object.assign(new Error(`test tripwire: ${host} resolved outside loopback`), {
            code: 'ETRIPWIRE',
          }),
          '',
          0,
        );
      });
    };
    return original({ ...options, lookup: checkedLookup }, listener);
  };
  net.connect = guarded as typeof net.connect;
  return {
    violations,
    restore() {
      net.connect = original;
    },
  };
}
