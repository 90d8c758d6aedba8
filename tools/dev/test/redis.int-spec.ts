import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MissingRedisError, startOrReuseRedis, UntrustedRedisError } from '../src/gateway';
import { probeRedis } from '../src/probes';
import { startTlsRedis, type TlsRedis } from './tls-redis.fixture';

import { freePort, pingRedis, startRedisServer } from '@herald/test-harness';

/**
 * The Redis `npm start` and the tests' global setup find or start (tools/testing/redis-harness.js
 * and the launcher's use of it): what answers at REDIS_URL, what the apps are given, what is
 * printed.
 */

const connections = new WeakMap<Server, Set<Socket>>();

/** Listens on a free 127.0.0.1 port with `server`; resolves with the port. */
async function listen(server: Server): Promise<number> {
  const open = new Set<Socket>();
  connections.set(server, open);
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return port;
}

/** Closes `server`, ending the connections it still holds (a peer that never answers holds them). */
function close(server: Server): Promise<void> {
  for (const socket of connections.get(server) ?? []) socket.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('the Redis probe', () => {
  const servers: Server[] = [];

  afterEach(async () => {
    await Promise.all(servers.splice(0).map(close));
  });

  it('finds the Redis the tests use', async () => {
    expect(await pingRedis(process.env.REDIS_URL!)).toBe(true);
  });

  it.each([
    ['hangs up at once (a TLS Redis without a handshake)', () => createServer((s) => s.end())],
    ['answers HTTP and closes', () => createHttpServer()],
    ['accepts and never answers', () => createServer(() => undefined)],
  ])(
    'answers "no Redis here" within its timeout when the peer %s',
    async (_, make) => {
      const server = make();
      servers.push(server);
      const port = await listen(server);
      const started = Date.now();
      expect(await pingRedis(`redis://127.0.0.1:${port}`, 500)).toBe(false);
      expect(Date.now() - started).toBeLessThan(1500);
    },
    5_000,
  );
});

describe('the Redis probe for a rediss:// URL', () => {
  let redis: TlsRedis;
  // The default user of a Redis without a password takes any (the tests' Redis, behind TLS here).
  const password = `pw-${randomUUID()}`;
  const url = () => `rediss://default:${password}@127.0.0.1:${redis.port}`;

  beforeAll(async () => {
    redis = await startTlsRedis(process.env.REDIS_URL!);
  });

  afterAll(async () => {
    await redis?.stop();
  });

  it('finds a Redis behind TLS whose certificate it trusts, and authenticates to it', async () => {
    expect(await probeRedis(url(), { ca: redis.certificate })).toEqual({ answers: true });
    expect(redis.received()).toContain(password);
  });

  it('says why it will not use one whose certificate it does not trust, and sends it nothing', async () => {
    const before = redis.received().length;
    expect(await probeRedis(url())).toEqual({
      answers: false,
      untrustedCertificate: 'DEPTH_ZERO_SELF_SIGNED_CERT',
    });
    expect(redis.received().slice(before)).toBe('');
  });
});

describe('redis-server as npm start runs it', () => {
  let dir: string;
  const servers: Server[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'herald-redis-'));
  });

  afterEach(async () => {
    await Promise.all(servers.splice(0).map(close));
    rmSync(dir, { recursive: true, force: true });
  });

  it("says why redis-server could not start, in redis-server's words", async () => {
    const taken = createServer();
    servers.push(taken);
    const port = await listen(taken);
    await expect(startRedisServer({ port, dir })).rejects.toThrow(/Address already in use/);
  });

  it('gives the apps the Redis it started, not a REDIS_URL nothing answers at, and prints no password', async () => {
    const password = `pw-${randomUUID()}`;
    // As copied from docker-compose.yml: a host name only Compose resolves.
    const given = `redis://:${password}@redis.invalid:${await freePort()}`;
    const printed: string[] = [];
    const redis = await startOrReuseRedis(given, dir, (line) => printed.push(line));
    try {
      expect(redis.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
      expect(await pingRedis(redis.url)).toBe(true);
      expect(printed.join('\n')).toContain(redis.url);
      expect(printed.join('\n')).not.toContain(password);
    } finally {
      await redis.stop();
    }
    expect(await pingRedis(redis.url)).toBe(false);
  });

  it("starts redis-server on another port when REDIS_URL's port holds something else", async () => {
    const other = createHttpServer();
    servers.push(other);
    const port = await listen(other);
    const redis = await startOrReuseRedis(`redis://127.0.0.1:${port}`, dir);
    try {
      expect(redis.url).not.toBe(`redis://127.0.0.1:${port}`);
      expect(await pingRedis(redis.url)).toBe(true);
    } finally {
      await redis.stop();
    }
  });

  it('reuses the Redis at REDIS_URL and prints it without its password', async () => {
    // The default user of a Redis without a password takes any password (the tests' Redis).
    const url = new URL(process.env.REDIS_URL!);
    const password = url.password || `pw-${randomUUID()}`;
    if (!url.password) [url.username, url.password] = ['default', password];
    const printed: string[] = [];
    const redis = await startOrReuseRedis(url.toString(), dir, (line) => printed.push(line));
    expect(redis.url).toBe(url.toString());
    expect(printed.join('\n')).toContain('using the one at');
    expect(printed.join('\n')).not.toContain(password);
  });

  it('stops, naming REDIS_URL without its password, at a rediss:// Redis whose certificate it does not trust', async () => {
    const tlsRedis = await startTlsRedis(process.env.REDIS_URL!);
    const password = `pw-${randomUUID()}`;
    const printed: string[] = [];
    try {
      const outcome = await startOrReuseRedis(
        `rediss://default:${password}@127.0.0.1:${tlsRedis.port}`,
        dir,
        (line) => printed.push(line),
      ).then(
        async (redis) => {
          await redis.stop();
          return redis;
        },
        (error: unknown) => error,
      );
      // Not a redis-server of its own instead, which the apps would use without a word.
      expect(outcome).toBeInstanceOf(UntrustedRedisError);
      const { message } = outcome as UntrustedRedisError;
      expect(message).toContain(`127.0.0.1:${tlsRedis.port}`);
      expect(message).toContain('DEPTH_ZERO_SELF_SIGNED_CERT');
      expect(message).toContain('NODE_EXTRA_CA_CERTS');
      expect(message).not.toContain(password);
      expect(printed).toEqual([]);
    } finally {
      await tlsRedis.stop();
    }
  });

  it('names REDIS_URL without its password when no Redis can be had', () => {
    const error = new MissingRedisError('redis://herald:hunter2@redis.example:6379');
    expect(error.message).toContain('redis.example:6379');
    expect(error.message).not.toContain('hunter2');
  });
});
