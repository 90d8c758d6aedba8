import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  MissingRedisError,
  RefusedRedisError,
  startOrReuseRedis,
  UnreachableRedisError,
  UntrustedRedisError,
} from '../src/gateway';
import { probeRedis } from '../src/probes';
import {
  startTlsRedis,
  startTlsRedisServer,
  tlsRedisUrl,
  type TlsRedis,
  type TlsRedisServer,
} from './tls-redis.fixture';

import { waitFor } from '@herald/kafka/testing';
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
  let url: string;
  let password: string;

  beforeAll(async () => {
    redis = await startTlsRedis(process.env.REDIS_URL!);
    ({ url, password } = tlsRedisUrl(redis, process.env.REDIS_URL!));
  });

  afterAll(async () => {
    await redis?.stop();
  });

  it('finds a Redis behind TLS whose certificate it trusts, and authenticates to it', async () => {
    expect(await probeRedis(url, { ca: redis.certificate })).toEqual({ answers: true });
    expect(redis.received()).toContain(password);
  });

  it('says why it will not use one whose certificate it does not trust, and sends it nothing', async () => {
    const [before, accepted] = [redis.received().length, redis.accepted];
    expect(await probeRedis(url)).toEqual({
      answers: false,
      untrustedCertificate: 'DEPTH_ZERO_SELF_SIGNED_CERT',
    });
    // What the probe sent reaches the relay after the probe is done: read it all first.
    await waitFor(() => redis.accepted > accepted && redis.openConnections() === 0, {
      what: "the probe's connection to close at the relay",
    });
    expect(redis.received().slice(before)).toBe('');
  });

  it("passes on Redis's refusal of the credentials, without the password", async () => {
    const wrong = `rediss://nobody-${randomUUID().slice(0, 8)}:${password}@127.0.0.1:${redis.port}`;
    const probe = await probeRedis(wrong, { ca: redis.certificate });
    expect(probe).toEqual({ answers: false, errorReply: expect.stringMatching(/^WRONGPASS /) });
    expect(probe.errorReply).not.toContain(password);
  });

  it('says it got no TLS handshake from a Redis without TLS', async () => {
    const plain = new URL(process.env.REDIS_URL!);
    const probe = await probeRedis(`rediss://${plain.host}`, { timeoutMs: 500 });
    expect(probe).toEqual({
      answers: false,
      failure: expect.stringContaining('waited 500 ms for a TLS handshake'),
    });
  });
});

describe("the tests' Redis probe at a redis-server that speaks only TLS", () => {
  let server: TlsRedisServer;
  /** A rediss:// URL of it with its password, for the host `host`. */
  const urlFor = (host: string, password = server.password) =>
    `rediss://:${encodeURIComponent(password)}@${host}:${server.port}`;

  beforeAll(async () => {
    server = await startTlsRedisServer();
  });

  afterAll(async () => {
    await server?.stop();
  });

  it.each(['localhost', '127.0.0.1'])(
    'answers over TLS at rediss://…@%s, with the password',
    async (host) => {
      expect(await pingRedis(urlFor(host), undefined, { ca: server.certificate })).toBe(true);
    },
  );

  it('does not count a wrong password, a certificate it does not trust, or plain TCP as an answer', async () => {
    const ca = server.certificate;
    expect(await pingRedis(urlFor('localhost', 'wrong'), undefined, { ca })).toBe(false);
    expect(await pingRedis(urlFor('localhost'))).toBe(false);
    expect(
      await pingRedis(`redis://:${server.password}@127.0.0.1:${server.port}`, 500, { ca }),
    ).toBe(false);
  });

  /**
   * Jest's global setup as a developer would meet it, in a process of its own (Node reads
   * NODE_EXTRA_CA_CERTS at start): what `ensureRedis` gave or the error it threw.
   */
  async function ensureRedisIn(
    env: Record<string, string>,
  ): Promise<{ url?: string; started?: boolean; error?: string }> {
    const script = [
      `const { ensureRedis } = require(${JSON.stringify(require.resolve('@herald/test-harness'))});`,
      'ensureRedis().then(',
      '  async (redis) => { console.log(JSON.stringify({ url: redis.url, started: redis.started })); await redis.stop(); },',
      '  (error) => console.log(JSON.stringify({ error: error.message })),',
      ');',
    ].join('\n');
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], {
      env: { ...process.env, ...env },
      timeout: 20_000,
    });
    return JSON.parse(stdout) as { url?: string; started?: boolean; error?: string };
  }

  it("has Jest's global setup use a rediss:// REDIS_URL that answers, instead of starting a redis-server", async () => {
    // The certificate trusted through NODE_EXTRA_CA_CERTS.
    const url = urlFor('localhost');
    expect(
      await ensureRedisIn({ REDIS_URL: url, NODE_EXTRA_CA_CERTS: server.certificateFile }),
    ).toEqual({ url, started: false });
  });

  it("has Jest's global setup refuse a rediss:// REDIS_URL it cannot use, instead of starting a plain redis-server", async () => {
    // Its certificate not trusted (no NODE_EXTRA_CA_CERTS): the old code started a plain
    // redis-server and ran the tests against it.
    const untrusted = await ensureRedisIn({ REDIS_URL: urlFor('localhost') });
    expect(untrusted.error).toMatch(/TLS certificate is not trusted/);
    expect(untrusted.error).not.toContain(server.password);
    // The right certificate, a wrong password.
    const refused = await ensureRedisIn({
      REDIS_URL: urlFor('localhost', 'wrong'),
      NODE_EXTRA_CA_CERTS: server.certificateFile,
    });
    expect(refused.error).toMatch(/cannot serve the tests: it answered/);
    expect(refused.error).not.toContain('wrong');
  });
});

describe("the tests' Redis probe at a TLS relay to the tests' Redis", () => {
  let relay: TlsRedis;
  let url: string;

  beforeAll(async () => {
    relay = await startTlsRedis(process.env.REDIS_URL!);
    ({ url } = tlsRedisUrl(relay, process.env.REDIS_URL!));
  });

  afterAll(async () => {
    await relay?.stop();
  });

  it('names a host name by SNI, as the apps do, and no IP address', async () => {
    const byName = new URL(url);
    byName.hostname = 'localhost';
    expect(await pingRedis(byName.toString(), undefined, { ca: relay.certificate })).toBe(true);
    expect(await pingRedis(url, undefined, { ca: relay.certificate })).toBe(true);
    expect(relay.servernames).toEqual(['localhost', null]);
  });
});

describe('the TLS Redis fixture', () => {
  it('stops while a client has not begun its TLS handshake', async () => {
    const tlsRedis = await startTlsRedis(process.env.REDIS_URL!);
    const client = connect({ host: '127.0.0.1', port: tlsRedis.port });
    client.on('error', () => undefined); // reset by stop()
    await waitFor(() => tlsRedis.accepted === 1, { what: 'the connection accepted' });
    const deadline = new Promise((resolve) => setTimeout(resolve, 3_000, 'still stopping'));
    const outcome = await Promise.race([tlsRedis.stop().then(() => 'stopped'), deadline]);
    client.destroy();
    expect(outcome).toBe('stopped');
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
    const redis = await startOrReuseRedis(given, dir, { log: (line) => printed.push(line) });
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
    const redis = await startOrReuseRedis(url.toString(), dir, {
      log: (line) => printed.push(line),
    });
    expect(redis.url).toBe(url.toString());
    expect(printed.join('\n')).toContain('using the one at');
    expect(printed.join('\n')).not.toContain(password);
  });

  /** What startOrReuseRedis ends in, with what it printed; a Redis it started is stopped. */
  async function outcomeOf(url: string): Promise<{ outcome: unknown; printed: string[] }> {
    const printed: string[] = [];
    const outcome = await startOrReuseRedis(url, dir, { log: (line) => printed.push(line) }).then(
      async (redis) => {
        await redis.stop();
        return redis;
      },
      (error: unknown) => error,
    );
    return { outcome, printed };
  }

  it('stops, naming REDIS_URL without its password, at a rediss:// Redis whose certificate it does not trust', async () => {
    const tlsRedis = await startTlsRedis(process.env.REDIS_URL!);
    try {
      const { url, password } = tlsRedisUrl(tlsRedis, process.env.REDIS_URL!);
      const { outcome, printed } = await outcomeOf(url);
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

  it.each([
    ['nothing listens', async () => `127.0.0.1:${await freePort()}`, 'ECONNREFUSED'],
    [
      'a Redis without TLS listens',
      () => Promise.resolve(new URL(process.env.REDIS_URL!).host),
      'waited 3000 ms for a TLS handshake',
    ],
  ])(
    'starts no redis-server of its own for a rediss:// URL where %s, and says why',
    async (_, hostAndPort, why) => {
      const password = `pw-${randomUUID()}`;
      const url = `rediss://:${password}@${await hostAndPort()}`;
      const { outcome, printed } = await outcomeOf(url);
      expect(outcome).toBeInstanceOf(UnreachableRedisError);
      const { message } = outcome as UnreachableRedisError;
      expect(message).toContain(`rediss://***@${new URL(url).host}`);
      expect(message).toContain(why);
      expect(message).not.toContain(password);
      expect(printed).toEqual([]);
    },
    10_000,
  );

  it('stops at a Redis that refuses the credentials, instead of starting one that takes any', async () => {
    const password = `pw-${randomUUID()}`;
    const url = new URL(process.env.REDIS_URL!);
    [url.username, url.password] = [`nobody-${randomUUID().slice(0, 8)}`, password];
    const { outcome, printed } = await outcomeOf(url.toString());
    expect(outcome).toBeInstanceOf(RefusedRedisError);
    const { message } = outcome as RefusedRedisError;
    expect(message).toContain(`redis://***@${url.host}`);
    expect(message).toContain('WRONGPASS');
    expect(message).toContain('the user and password it expects');
    expect(message).not.toContain(password);
    expect(printed).toEqual([]);
  });

  it('has the watchdog watch the redis-server it starts, and forget it once it exited', async () => {
    const calls: string[] = [];
    const watchdog = {
      watch: (pid: number, name: string) => calls.push(`watch ${pid} ${name}`),
      forget: (pid: number) => calls.push(`forget ${pid}`),
    };
    const redis = await startOrReuseRedis(`redis://127.0.0.1:${await freePort()}`, dir, {
      watchdog,
    });
    try {
      expect(calls).toEqual([`watch ${redis.pid} redis-server`]);
      // It dies while the launcher runs: its pid is then free for any other process.
      process.kill(redis.pid!, 'SIGKILL');
      await waitFor(() => calls.length > 1, { what: 'the watchdog told', timeoutMs: 5_000 });
      expect(calls).toEqual([`watch ${redis.pid} redis-server`, `forget ${redis.pid}`]);
    } finally {
      await redis.stop();
    }
  });

  it('names REDIS_URL without its password when no Redis can be had', () => {
    const error = new MissingRedisError('redis://herald:hunter2@redis.example:6379');
    expect(error.message).toContain('redis.example:6379');
    expect(error.message).not.toContain('hunter2');
  });

  it.each([
    ['SELF_SIGNED_CERT_IN_CHAIN', 'NODE_EXTRA_CA_CERTS'],
    ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'NODE_EXTRA_CA_CERTS'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'NODE_EXTRA_CA_CERTS'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', "use one of them as REDIS_URL's host"],
    ['CERT_HAS_EXPIRED', 'renew it'],
  ])('says what to do about an untrusted certificate (%s)', (reason, hint) => {
    const { message } = new UntrustedRedisError('rediss://:hunter2@redis.example:6380', reason);
    expect(message).toContain(reason);
    expect(message).toContain(hint);
    if (!hint.includes('NODE_EXTRA_CA_CERTS')) expect(message).not.toContain('NODE_EXTRA_CA_CERTS');
    expect(message).not.toContain('hunter2');
  });
});
