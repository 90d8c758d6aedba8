import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type TLSSocket } from 'node:tls';
import { freePort } from '@herald/test-harness';

/** A Redis behind TLS, with a certificate nobody trusts unless told to. */
export interface TlsRedis {
  port: number;
  /** The self-signed certificate (PEM) and the file holding it, for `ca` or NODE_EXTRA_CA_CERTS. */
  certificate: string;
  certificateFile: string;
  /** TCP connections accepted, handshake or not. */
  accepted: number;
  /** Connections whose TLS handshake completed. */
  connections: number;
  /** The server name (SNI) each of them asked for, null for none. */
  servernames: (string | null)[];
  /**
   * Accepted connections not yet closed here (with their relay to Redis). Once it is 0, all a
   * client sent before hanging up has been read into `received()`.
   */
  openConnections(): number;
  /** Everything clients sent once their handshake completed, decrypted. */
  received(): string;
  stop(): Promise<void>;
}

/**
 * A rediss:// URL of `tlsRedis` with the credentials of `redisUrl` (the tests' Redis behind it),
 * or when it has none, the default user's with a made-up password, which a Redis 6 or later
 * without a password takes: either way a password the tests can look for.
 */
export function tlsRedisUrl(
  tlsRedis: TlsRedis,
  redisUrl: string,
): { url: string; password: string } {
  const url = new URL(redisUrl);
  const password = decodeURIComponent(url.password) || `pw-${randomUUID()}`;
  const user = url.password ? url.username : 'default';
  return {
    url: `rediss://${user}:${encodeURIComponent(password)}@127.0.0.1:${tlsRedis.port}`,
    password,
  };
}

/**
 * A self-signed certificate for 127.0.0.1 and localhost, valid for a day, made with openssl
 * (Node cannot make one). Its key and certificate are written to `dir`.
 */
function makeCertificate(dir: string): { key: string; keyFile: string; certificateFile: string } {
  const keyFile = join(dir, 'key.pem');
  const certificateFile = join(dir, 'cert.pem');
  try {
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'],
        ...['-nodes', '-days', '1', '-subj', '/CN=localhost'],
        ...['-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
        ...['-keyout', keyFile, '-out', certificateFile],
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
  } catch (error) {
    throw new Error(
      `openssl could not make the test certificate (apt-get install openssl): ${String(error)}`,
    );
  }
  return { key: readFileSync(keyFile, 'utf8'), keyFile, certificateFile };
}

/**
 * A TLS server on a free 127.0.0.1 port that relays each connection, decrypted, to the plain
 * Redis at `redisUrl` (the tests' Redis): a real Redis, reached as a rediss:// URL reaches one.
 */
export async function startTlsRedis(redisUrl: string): Promise<TlsRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-tls-redis-'));
  const { key, certificateFile } = makeCertificate(dir);
  const certificate = readFileSync(certificateFile, 'utf8');
  const backend = new URL(redisUrl);
  /** Every socket still open: accepted ones (mid-handshake too), their TLS side, the relays. */
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  let stopping = false;
  let received = '';
  const server = createServer({ key, cert: certificate }, (client: TLSSocket) => {
    redisOverTls.connections += 1;
    redisOverTls.servernames.push(client.servername || null);
    const redis = connect({ host: backend.hostname, port: Number(backend.port || 6379) });
    for (const socket of [client, redis]) track(socket);
    client.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    client.pipe(redis).pipe(client);
    client.once('close', () => redis.destroy());
    redis.once('close', () => client.destroy());
  });
  server.on('connection', (socket: Socket) => {
    redisOverTls.accepted += 1;
    track(socket);
    // Accepted while stop() ran: server.close() would wait for it.
    if (stopping) socket.destroy();
  });
  // A client that does not speak TLS (or does not trust the certificate) is no failure here.
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const redisOverTls: TlsRedis = {
    port: (server.address() as { port: number }).port,
    certificate,
    certificateFile,
    accepted: 0,
    connections: 0,
    servernames: [],
    openConnections: () => sockets.size,
    received: () => received,
    async stop() {
      stopping = true;
      const closed = new Promise((resolve) => server.close(resolve));
      for (const socket of sockets) socket.destroy();
      await closed;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return redisOverTls;
}

/** A real redis-server that speaks only TLS, with a password and a certificate nobody trusts. */
export interface TlsRedisServer {
  port: number;
  password: string;
  /** The self-signed certificate (PEM) and the file holding it, for `ca` or NODE_EXTRA_CA_CERTS. */
  certificate: string;
  certificateFile: string;
  stop(): Promise<void>;
}

/**
 * Starts `redis-server` on a free 127.0.0.1 port with `--tls-port` only (no plain port), a
 * certificate for 127.0.0.1 and localhost, and `--requirepass`; resolves once it says it is
 * ready (not by probing it: the probe is what the tests check).
 */
export async function startTlsRedisServer(): Promise<TlsRedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-tls-redis-server-'));
  const { keyFile, certificateFile } = makeCertificate(dir);
  const port = await freePort();
  const password = `pw-${randomUUID()}`;
  const child = spawn(
    'redis-server',
    [
      ...['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1'],
      ...['--tls-cert-file', certificateFile, '--tls-key-file', keyFile],
      ...['--tls-ca-cert-file', certificateFile, '--tls-auth-clients', 'no'],
      ...['--requirepass', password, '--save', '', '--appendonly', 'no', '--dir', dir],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(
        () => reject(new Error(`redis-server with TLS was not ready within 10 s:\n${output}`)),
        10_000,
      );
      const read = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          clearTimeout(deadline);
          resolve();
        }
      };
      child.stdout.on('data', read);
      child.stderr.on('data', read);
      child.once('error', (error) => {
        clearTimeout(deadline);
        reject(error);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(deadline);
        reject(new Error(`redis-server with TLS exited with ${code ?? signal}:\n${output}`));
      });
    });
  } catch (error) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    password,
    certificate: readFileSync(certificateFile, 'utf8'),
    certificateFile,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
