import { randomUUID } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { startTestBroker, waitFor, type RunningBroker } from '@herald/kafka/testing';
import { freePort } from '@herald/test-harness';
import { APPS, REPO_ROOT, type AppName } from '../src/gateway';
import { portOpen } from '../src/probes';
import { childrenOf, descendantsOf, isRunning } from './process-tree.fixture';
import { startTlsRedis, tlsRedisUrl } from './tls-redis.fixture';

/**
 * `npm start` (tools/bootstrap.js start, which runs the launcher) starts the apps in process groups
 * of their own, so only the launcher can stop them. Whatever ends it — a signal while it is still
 * starting, a terminal that closes, an error of its own, an app that dies — must stop what it
 * started, and its exit status must say whether that was asked for.
 */

interface Launch {
  child: ChildProcess;
  /** Its standard output, line by line, as far as read. */
  lines: string[];
  stderr: () => string;
  exited: Promise<number | null>;
  ports: Record<AppName, number>;
  /** In the environment of every process it starts: its own Redis key prefix. */
  marker: string;
}

let broker: RunningBroker;
/** The launches of the running test, killed after it if still up. */
let launches: Launch[] = [];

beforeAll(async () => {
  broker = await startTestBroker();
});

afterAll(async () => {
  await broker?.stop();
});

afterEach(() => {
  for (const launched of launches.splice(0)) end(launched);
});

function end(launched: Launch): void {
  if (launched.child.exitCode === null) launched.child.kill('SIGKILL');
  killLeftovers(launched.marker);
}

/**
 * SIGKILLs what a failed test left running: every process whose environment holds `mark` (Linux;
 * elsewhere nothing), so a launcher that orphans its apps does not leave them holding ports.
 */
function killLeftovers(mark: string): void {
  if (!existsSync('/proc/self/environ')) return;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let environ: string;
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
    } catch {
      continue; // gone meanwhile, or not ours to read
    }
    if (environ.includes(`HERALD_REDIS_PREFIX=${mark}\0`)) process.kill(Number(pid), 'SIGKILL');
  }
}

async function launch(env: Record<string, string> = {}): Promise<Launch> {
  const marker = `test:${randomUUID().slice(0, 8)}:`;
  const ports = Object.fromEntries(
    await Promise.all(APPS.map(async (app) => [app.name, await freePort()])),
  ) as Record<AppName, number>;
  const child = spawn(process.execPath, [join(REPO_ROOT, 'tools/bootstrap.js'), 'start'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      ...Object.fromEntries(APPS.map((app) => [app.portVariable, String(ports[app.name])])),
      KAFKA_BROKERS: broker.brokers,
      HERALD_ADMIN_KEY: `test-admin-${randomUUID()}`,
      HERALD_REDIS_PREFIX: marker,
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const launched = { child, lines, stderr: () => stderr, exited, ports, marker };
  launches.push(launched);
  return launched;
}

function liveStatus(port: number): Promise<number> {
  return fetch(`http://127.0.0.1:${port}/health/live`).then(
    (response) => response.status,
    () => 0,
  );
}

/** The apps whose port still takes connections: what the next `npm start` would trip over. */
async function portsInUse({ ports }: Launch): Promise<AppName[]> {
  const open = await Promise.all(APPS.map((app) => portOpen('127.0.0.1', ports[app.name])));
  return APPS.filter((_, i) => open[i]).map((app) => app.name);
}

const running = (launched: Launch) => launched.lines.includes('Herald is running:');

describe('npm start interrupted while it starts', () => {
  it.each(['SIGINT', 'SIGHUP'] as const)(
    '%s stops the apps already up and exits 0',
    async (signal) => {
      const launched = await launch();
      await waitFor(async () => (await liveStatus(launched.ports['subscription-api'])) === 200, {
        timeoutMs: 150_000,
        intervalMs: 50,
        what: 'subscription-api, the first app, to answer',
      });
      expect(running(launched)).toBe(false);

      launched.child.kill(signal);
      expect(await launched.exited).toBe(0);
      expect(await portsInUse(launched)).toEqual([]);
    },
    180_000,
  );

  it('an error of its own (its output pipe breaks) stops the apps already up, exit 1', async () => {
    const launched = await launch();
    await waitFor(async () => (await liveStatus(launched.ports['subscription-api'])) === 200, {
      timeoutMs: 150_000,
      intervalMs: 50,
      what: 'subscription-api, the first app, to answer',
    });

    // Its next line of output fails with EPIPE, an error nothing in the launcher expects.
    launched.child.stdout?.destroy();
    expect(await launched.exited).toBe(1);
    expect(launched.stderr()).toContain('EPIPE');
    expect(await portsInUse(launched)).toEqual([]);
  }, 180_000);
});

describe('npm start running', () => {
  let launched: Launch;
  const password = `pw-${randomUUID()}`;

  beforeAll(async () => {
    // The default user of a Redis without a password takes any (the tests' Redis).
    const redisUrl = new URL(process.env.REDIS_URL!);
    if (!redisUrl.password) [redisUrl.username, redisUrl.password] = ['default', password];
    launched = await launch({ REDIS_URL: redisUrl.toString() });
    await waitFor(() => running(launched) || launched.child.exitCode !== null, {
      timeoutMs: 150_000,
      what: 'Herald is running',
    });
    launches = []; // shared by the tests below: ended after all of them
    expect(running(launched)).toBe(true);
  }, 180_000);

  afterAll(() => {
    if (launched) end(launched);
  });

  it("prints REDIS_URL's host and port without its credentials", () => {
    const output = launched.lines.join('\n');
    expect(output).toContain(`redis://***@${new URL(process.env.REDIS_URL!).host}`);
    expect(output).not.toContain(password);
  });

  it('stops the rest and exits 1 when an app exits unexpectedly', async () => {
    const fanout = launched.lines
      .map((line) => /^fanout: ready on \S+ \(pid (\d+)\)$/.exec(line)?.[1])
      .find(Boolean);
    expect(fanout).toBeDefined();
    process.kill(Number(fanout), 'SIGKILL');

    expect(await launched.exited).toBe(1);
    expect(launched.lines.join('\n')).toContain('fanout exited unexpectedly');
    expect(await portsInUse(launched)).toEqual([]);
  }, 60_000);
});

describe('npm start killed with SIGKILL', () => {
  it('takes every process it started with it, and frees their ports', async () => {
    const launched = await launch();
    await waitFor(() => running(launched) || launched.child.exitCode !== null, {
      timeoutMs: 150_000,
      what: 'Herald is running',
    });
    expect(running(launched)).toBe(true);
    // tools/bootstrap.js runs the launcher as its only child.
    const [launcher] = childrenOf(launched.child.pid!);
    const started = descendantsOf(launcher!);
    const apps = launched.lines
      .map((line) => Number(/ready on \S+ \(pid (\d+)\)$/.exec(line)?.[1]))
      .filter((pid) => pid > 0);
    expect(apps).toHaveLength(APPS.length);
    expect(started).toEqual(expect.arrayContaining(apps));

    process.kill(launcher!, 'SIGKILL');
    expect(await launched.exited).toBe(128 + 9);
    await waitFor(() => !started.some(isRunning), {
      timeoutMs: 30_000,
      what: 'every process the launcher started to exit',
    }).catch(() => undefined); // the assertion below names the survivors
    expect(started.filter(isRunning)).toEqual([]);
    // A process whose main thread has exited shows as a zombie while its other threads (fanout
    // runs 64 in libuv's pool) are still being torn down, and its sockets close with the last.
    await waitFor(async () => (await portsInUse(launched)).length === 0, {
      timeoutMs: 10_000,
      what: 'the ports to be free',
    }).catch(() => undefined); // the assertion below names the apps
    expect(await portsInUse(launched)).toEqual([]);
  }, 180_000);
});

describe('npm start with a Redis behind TLS (rediss://)', () => {
  it('gives the apps that Redis, and prints it without its password', async () => {
    const tlsRedis = await startTlsRedis(process.env.REDIS_URL!);
    const { url, password } = tlsRedisUrl(tlsRedis, process.env.REDIS_URL!);
    try {
      const launched = await launch({
        REDIS_URL: url,
        // How a machine trusts a Redis with a private CA: the launcher and the apps alike.
        NODE_EXTRA_CA_CERTS: tlsRedis.certificateFile,
      });
      await waitFor(() => running(launched) || launched.child.exitCode !== null, {
        timeoutMs: 150_000,
        what: 'Herald is running',
      });
      const output = launched.lines.join('\n');
      expect(output).toContain(`Redis: using the one at rediss://***@127.0.0.1:${tlsRedis.port}`);
      expect(output).not.toContain('started redis-server');
      expect(`${output}${launched.stderr()}`).not.toContain(password);
      for (const app of APPS) {
        const ready = await waitFor(
          async () => {
            const response = await fetch(
              `http://127.0.0.1:${launched.ports[app.name]}/health/ready`,
            ).catch(() => undefined);
            return response?.status === 200
              ? ((await response.json()) as { details: Record<string, { status: string }> })
              : undefined;
          },
          { timeoutMs: 30_000, intervalMs: 100, what: `${app.name} ready` },
        );
        expect(ready.details.redis?.status).toBe('up');
      }
      // The launcher's probe, then each app's own connections.
      expect(tlsRedis.connections).toBeGreaterThan(APPS.length);
    } finally {
      await tlsRedis.stop();
    }
  }, 180_000);
});

describe('npm start with a rediss:// Redis that does not answer', () => {
  it('stops, saying where and why, and starts no redis-server in its place', async () => {
    const password = `pw-${randomUUID()}`;
    const port = await freePort();
    const launched = await launch({ REDIS_URL: `rediss://:${password}@127.0.0.1:${port}` });
    await waitFor(() => launched.child.exitCode !== null, {
      timeoutMs: 60_000,
      what: 'npm start to stop',
    }).catch(() => undefined); // the assertion below says what it did instead
    expect(launched.child.exitCode).toBe(1);
    expect(launched.stderr()).toContain(
      `No Redis answers over TLS at rediss://***@127.0.0.1:${port} (ECONNREFUSED)`,
    );
    // Its message, not a stack trace.
    expect(launched.stderr()).not.toMatch(/^\s+at /m);
    expect(launched.lines.join('\n')).not.toContain('redis-server');
    expect(`${launched.lines.join('\n')}${launched.stderr()}`).not.toContain(password);
  }, 90_000);
});
