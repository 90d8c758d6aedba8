import { connect, createServer, isIP, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';

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
  /**
   * A Redis is there but will not serve with these credentials: its error reply to AUTH or PING
   * (e.g. `WRONGPASS invalid username-password pair or user is disabled.`), the URL's password
   * cut out should it quote it.
   */
  errorReply?: string;
  /**
   * When nothing answered as Redis does: why (a connection error's code such as ECONNREFUSED, a
   * hang-up, something other than Redis answering, or the time it waited).
   */
  failure?: string;
}

export interface RedisProbeOptions {
  /**
   * For the whole exchange, connect (and TLS handshake) to PONG, in milliseconds; default 1000
   * for redis:, 3000 for rediss: (a Redis behind TLS is often a remote, managed one).
   */
  timeoutMs?: number;
  /** rediss: only: the CA certificates to trust instead of Node's (with NODE_EXTRA_CA_CERTS). */
  ca?: string | Buffer;
}

/**
 * Asks the Redis at `url` for PING, with its credentials, as the apps' client will reach it: over
 * TLS for a rediss: URL (whose credentials go only to a server whose certificate verifies), over
 * plain TCP for redis:.
 */
export async function probeRedis(
  url: string,
  { timeoutMs, ca }: RedisProbeOptions = {},
): Promise<RedisProbe> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { answers: false, failure: 'not a URL' };
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  const port = Number(parsed.port || 6379);
  if (parsed.protocol !== 'rediss:') {
    const socket = connect({ host, port });
    return pingOver(socket, 'connect', parsed, timeoutMs ?? 1000);
  }
  const socket = connectTls({
    host,
    port,
    servername: isIP(host) === 0 ? host : undefined,
    ca,
    // Checked on secureConnect instead, to tell an untrusted server from an absent one.
    rejectUnauthorized: false,
  });
  return pingOver(socket, 'secureConnect', parsed, timeoutMs ?? 3000, () => {
    // Node's own rule for every TLS client, the apps' Redis client too (they inherit this
    // environment): NODE_TLS_REJECT_UNAUTHORIZED=0 turns verification off.
    const verify = process.env.NODE_TLS_REJECT_UNAUTHORIZED !== '0';
    return socket.authorized || !verify
      ? undefined
      : { answers: false, untrustedCertificate: String(socket.authorizationError) };
  });
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

/** `reply` as it may be shown: without the URL's password (a proxy may quote the command). */
function printableReply(reply: string, url: URL): string {
  const password = decodeURIComponent(url.password);
  const shown = password === '' ? reply : reply.split(password).join('***');
  return shown.length > 200 ? `${shown.slice(0, 200)}…` : shown;
}

/**
 * Sends AUTH and PING on `socket` once it emits `connected`, unless `refuseToSend` then says why
 * not, and reads the replies. One deadline for the whole exchange: the socket's idle timeout
 * would not fire after a close.
 */
function pingOver(
  socket: Socket,
  connected: 'connect' | 'secureConnect',
  url: URL,
  timeoutMs: number,
  refuseToSend: () => RedisProbe | undefined = () => undefined,
): Promise<RedisProbe> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (probe: RedisProbe): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      socket.destroy();
      resolve(probe);
    };
    let waitingFor = 'a connection';
    // A Redis without TLS accepts the connection, then waits for a command in the handshake.
    if (connected === 'secureConnect')
      socket.once('connect', () => (waitingFor = 'a TLS handshake (a Redis without TLS waits so)'));
    const deadline = setTimeout(
      () => done({ answers: false, failure: `waited ${timeoutMs} ms for ${waitingFor}` }),
      timeoutMs,
    );
    socket.once('error', (error: NodeJS.ErrnoException) =>
      done({ answers: false, failure: error.code ?? error.message }),
    );
    socket.once('close', () =>
      done({ answers: false, failure: 'it closed the connection without a reply' }),
    );
    const commands = authAndPing(url);
    socket.once(connected, () => {
      const refused = refuseToSend();
      if (refused !== undefined) return done(refused);
      socket.write(commands.join(''));
      waitingFor = 'a reply';
    });
    let seen = '';
    socket.on('data', (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      const replies = seen.split('\r\n').slice(0, -1);
      // An error reply (to AUTH or to PING) means this Redis will not serve us.
      const error = replies.find((reply) => reply.startsWith('-'));
      if (error !== undefined)
        done({ answers: false, errorReply: printableReply(error.slice(1), url) });
      else if (replies.some((reply) => !reply.startsWith('+')))
        done({ answers: false, failure: 'something other than Redis answered' });
      else if (replies.length >= commands.length) {
        const pong = replies[commands.length - 1] === '+PONG';
        done(pong ? { answers: true } : { answers: false, failure: 'no PONG to PING' });
      }
    });
  });
}
