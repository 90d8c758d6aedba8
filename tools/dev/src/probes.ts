import { connect, createServer, isIP } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { pingRedis } from '@herald/test-harness';

/** True when a TCP connection to host:port opens within `timeoutMs`. */
export function portOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (open: boolean): void => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => done(true));
  });
}

/** The status code of GET url, or 0 when nothing answered. */
export async function httpStatus(url: string, timeoutMs = 1000): Promise<number> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

/** True when this process could listen on host:port now (nothing else holds it). */
export function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** What a probe of a Redis URL found. */
export interface RedisProbe {
  /** It accepted the URL's credentials and answered PING. */
  answers: boolean;
  /**
   * For a rediss: URL whose server presented a certificate this process does not trust: why
   * (OpenSSL's or Node's code, e.g. DEPTH_ZERO_SELF_SIGNED_CERT). Nothing was sent to it.
   */
  untrustedCertificate?: string;
}

export interface RedisProbeOptions {
  /** For the whole exchange, connect to PONG, in milliseconds; default 1000. */
  timeoutMs?: number;
  /** rediss: only: the CA certificates to trust instead of Node's (with NODE_EXTRA_CA_CERTS). */
  ca?: string | Buffer;
}

/**
 * Asks the Redis at `url` for PING, with its credentials, as the apps' client will reach it: over
 * TLS for a rediss: URL (whose credentials go only to a server whose certificate verifies), over
 * plain TCP for redis: (tools/testing's pingRedis).
 */
export async function probeRedis(
  url: string,
  { timeoutMs = 1000, ca }: RedisProbeOptions = {},
): Promise<RedisProbe> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { answers: false };
  }
  if (parsed.protocol !== 'rediss:') return { answers: await pingRedis(url, timeoutMs) };
  return pingRedisOverTls(parsed, timeoutMs, ca);
}

/** One command in RESP, Redis's wire format. */
function respCommand(...args: string[]): string {
  const parts = args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`);
  return `*${args.length}\r\n${parts.join('')}`;
}

/** AUTH (when the URL has a password: as its user, or as the default one), then PING. */
function authAndPing(url: URL): string[] {
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  if (password === '') return [respCommand('PING')];
  const auth = user === '' ? respCommand('AUTH', password) : respCommand('AUTH', user, password);
  return [auth, respCommand('PING')];
}

function pingRedisOverTls(
  url: URL,
  timeoutMs: number,
  ca: string | Buffer | undefined,
): Promise<RedisProbe> {
  return new Promise((resolve) => {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const socket = connectTls({
      host,
      port: Number(url.port || 6379),
      servername: isIP(host) === 0 ? host : undefined,
      ca,
      // Checked on secureConnect instead, to tell an untrusted server from an absent one.
      rejectUnauthorized: false,
    });
    let settled = false;
    const done = (probe: RedisProbe): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      socket.destroy();
      resolve(probe);
    };
    // One deadline for the whole exchange; the socket's idle timeout would not fire after a close.
    const deadline = setTimeout(() => done({ answers: false }), timeoutMs);
    socket.once('error', () => done({ answers: false }));
    socket.once('close', () => done({ answers: false }));
    const commands = authAndPing(url);
    socket.once('secureConnect', () => {
      // Node's own rule for every TLS client, the apps' Redis client too (they inherit this
      // environment): NODE_TLS_REJECT_UNAUTHORIZED=0 turns verification off.
      const verify = process.env.NODE_TLS_REJECT_UNAUTHORIZED !== '0';
      if (socket.authorized || !verify) socket.write(commands.join(''));
      else done({ answers: false, untrustedCertificate: String(socket.authorizationError) });
    });
    let seen = '';
    socket.on('data', (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      const replies = seen.split('\r\n').slice(0, -1);
      // An error reply (to AUTH or to PING) means this Redis will not serve us.
      if (replies.some((reply) => !reply.startsWith('+'))) done({ answers: false });
      else if (replies.length >= commands.length)
        done({ answers: replies[commands.length - 1] === '+PONG' });
    });
  });
}
