import { randomUUID } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { APPS, REPO_ROOT, startGateway, type Gateway, type GatewayOptions } from '../src/gateway';
import { portOpen } from '../src/probes';
import { commandLineOf, descendantsOf, isRunning } from './process-tree.fixture';

import { waitFor } from '@herald/kafka/testing';
import { freePort, pingRedis } from '@herald/test-harness';

describe('the gateway as npm start runs it', () => {
  let gateway: Gateway;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'herald-gateway-'));
    gateway = await startGateway({
      env: {
        // As `HERALD_DATA_DIR=… npm start` gives it: nothing of the repository's .data is used.
        HERALD_DATA_DIR: dataDir,
        // Blank counts as unset, as in the apps: the embedded broker.
        KAFKA_BROKERS: ' ',
        // As copied from docker-compose.yml: nothing answers here, so a redis-server is started.
        REDIS_URL: `redis://redis.invalid:${await freePort()}`,
        LOG_LEVEL: 'warn',
        // Its own key space in the shared Redis: nothing another run left there reaches it.
        HERALD_REDIS_PREFIX: `test:${randomUUID().slice(0, 8)}:`,
      },
      ports: {
        broker: await freePort(),
        'subscription-api': await freePort(),
        'ingest-bridge': await freePort(),
        fanout: await freePort(),
      },
    });
  }, 90_000);

  afterAll(async () => {
    await gateway?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps the broker, the redis-server, the admin key and the secret key in HERALD_DATA_DIR', () => {
    expect(gateway.dataDir).toBe(dataDir);
    expect(readdirSync(dataDir).sort()).toEqual(['admin-key', 'kafka', 'redis', 'secret.key']);
    expect(readFileSync(join(dataDir, 'admin-key'), 'utf8').trim()).toBe(gateway.adminKey);
    // Made by the apps (without HERALD_SECRET_KEY), read by each: one key, 32 bytes.
    expect(
      Buffer.from(readFileSync(join(dataDir, 'secret.key'), 'utf8').trim(), 'base64'),
    ).toHaveLength(32);
    expect(readdirSync(join(dataDir, 'kafka')).length).toBeGreaterThan(0);
  });

  it('gives the apps the redis-server it started', async () => {
    expect(gateway.redisUrl).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    expect(await pingRedis(gateway.redisUrl)).toBe(true);
  });

  it.each(APPS.map((app) => app.name))(
    '%s is ready, with Kafka and Redis checks up',
    async (name) => {
      const body = await waitFor(
        async () => {
          const response = await fetch(`${gateway.urls[name]}/health/ready`).catch(() => undefined);
          return response?.status === 200
            ? ((await response.json()) as { details: Record<string, { status: string }> })
            : undefined;
        },
        { what: `${name} ready`, timeoutMs: 20_000, intervalMs: 100 },
      );
      expect(body.details.kafka?.status).toBe('up');
      expect(body.details.redis?.status).toBe('up');
    },
  );

  it.each(APPS.map((app) => app.name))('%s serves default process metrics', async (name) => {
    const response = await fetch(`${gateway.urls[name]}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_heap_size_used_bytes');
    expect(text).toContain('herald_http_request_duration_seconds');
  });

  it.each(APPS.map((app) => app.name))('%s exits 0 within 10 s of SIGTERM', async (name) => {
    const managed = gateway.processes.get(name)!;
    const started = Date.now();
    const result = await managed.stop(10_000);
    expect(result).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('the gateway when the process that started it is SIGKILLed', () => {
  let dataDir: string;
  let launcher: ChildProcess | undefined;
  let started: number[] = [];

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'herald-gateway-'));
  });

  afterEach(() => {
    // A test that failed before killing it; the watchdog then stops what it started.
    if (launcher?.exitCode === null && launcher.signalCode === null) launcher.kill('SIGKILL');
    launcher = undefined;
    // Without the watchdog they outlive the test: they must not outlive the run too.
    for (const pid of started.filter(isRunning)) process.kill(pid, 'SIGKILL');
    started = [];
    rmSync(dataDir, { recursive: true, force: true });
  });

  /**
   * startGateway in a process of its own (gateway-process.fixture.ts) with `options`, and `env`
   * over this process's for that process itself; `lines` is what it printed so far.
   */
  function startLauncher(
    options: GatewayOptions,
    env: Record<string, string> = {},
  ): { child: ChildProcess; lines: string[]; exited: Promise<unknown> } {
    const child = spawn(
      process.execPath,
      [
        '-r',
        '@swc-node/register',
        join(__dirname, 'gateway-process.fixture.ts'),
        JSON.stringify(options),
      ],
      { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    launcher = child;
    const lines: string[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    return { child, lines, exited };
  }

  it('the broker, the redis-server it started and the apps all exit, and free their ports', async () => {
    const ports = {
      broker: await freePort(),
      'subscription-api': await freePort(),
      'ingest-bridge': await freePort(),
      fanout: await freePort(),
    };
    const redisPort = await freePort();
    const { child, lines, exited } = startLauncher({
      dataDir,
      ports,
      env: {
        KAFKA_BROKERS: ' ',
        // Nothing answers there, so a redis-server is started on that port.
        REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        LOG_LEVEL: 'warn',
        HERALD_REDIS_PREFIX: `test:${randomUUID().slice(0, 8)}:`,
      },
    });
    await waitFor(() => lines.includes('ready') || child.exitCode !== null, {
      timeoutMs: 90_000,
      what: 'the gateway to be ready',
    });
    expect(lines).toContain('ready');
    started = descendantsOf(child.pid!);
    const named = lines
      .map((line) => Number(/\(pid (\d+)\)/.exec(line)?.[1]))
      .filter((pid) => pid > 0);
    // redis-server, the broker and the three apps.
    expect(named).toHaveLength(5);
    expect(started).toEqual(expect.arrayContaining(named));

    child.kill('SIGKILL');
    await exited;
    await waitFor(() => !started.some(isRunning), {
      timeoutMs: 30_000,
      what: 'every process the gateway started to exit',
    }).catch(() => undefined); // the assertion below names the survivors
    expect(started.filter(isRunning)).toEqual([]);
    const openPorts = () =>
      Promise.all([...Object.values(ports), redisPort].map((port) => portOpen('127.0.0.1', port)));
    // A zombie whose other threads are still being torn down holds its sockets until the last.
    await waitFor(async () => !(await openPorts()).includes(true), {
      timeoutMs: 10_000,
      what: 'the ports to be free',
    }).catch(() => undefined); // the assertion below says which
    expect(await openPorts()).not.toContain(true);
  }, 150_000);

  it('a redis-server that has not answered yet exits too', async () => {
    // A redis-server slow to start: the real one, a minute after it was spawned.
    const bin = join(dataDir, 'bin');
    mkdirSync(bin);
    const wrapper = join(bin, 'redis-server');
    writeFileSync(wrapper, `#!/bin/sh\nsleep 60\nexec ${whichRedisServer()} "$@"\n`, {
      mode: 0o755,
    });
    const { child, exited } = startLauncher(
      {
        dataDir,
        env: {
          KAFKA_BROKERS: ' ',
          REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
          HERALD_REDIS_PREFIX: `test:${randomUUID().slice(0, 8)}:`,
        },
        ports: { broker: await freePort() },
      },
      // Where the launcher itself looks for redis-server.
      { PATH: `${bin}:${process.env.PATH}` },
    );
    const redisServer = await waitFor(
      () => descendantsOf(child.pid!).find((pid) => commandLineOf(pid).includes(wrapper)),
      { timeoutMs: 30_000, what: 'the launcher to spawn redis-server' },
    );
    started = descendantsOf(child.pid!);

    child.kill('SIGKILL');
    await exited;
    // With it, the sleep it runs (in its process group).
    await waitFor(() => !started.some(isRunning), {
      timeoutMs: 15_000,
      what: 'the redis-server the launcher was starting to exit',
    }).catch(() => undefined); // the assertion below names the survivors
    expect(started.filter(isRunning)).toEqual([]);
    expect(started).toContain(redisServer);
  }, 60_000);
});

/** The redis-server on this machine's PATH (the tests need one). */
function whichRedisServer(): string {
  const found = (process.env.PATH ?? '')
    .split(':')
    .filter((dir) => dir !== '')
    .map((dir) => join(dir, 'redis-server'))
    .find((path) => existsSync(path));
  if (found === undefined) throw new Error('redis-server is not installed');
  return found;
}

describe('a bad environment', () => {
  it.each([
    ['fanout', { FANOUT_PORT: 'eighty' }, 'FANOUT_PORT'],
    ['ingest-bridge', { REDIS_URL: 'http://not-redis' }, 'REDIS_URL'],
    ['subscription-api', { KAFKA_BROKERS: 'no-port-here' }, 'KAFKA_BROKERS'],
    ['fanout', { LOG_LEVEL: 'chatty' }, 'LOG_LEVEL'],
  ])(
    'stops %s with the variable named (%j)',
    async (app, env, variable) => {
      const child = spawn(
        process.execPath,
        ['-r', '@swc-node/register', `apps/${app}/src/main.ts`],
        {
          cwd: REPO_ROOT,
          env: { ...process.env, ...env, SWC_NODE_PROJECT: join(REPO_ROOT, 'tsconfig.base.json') },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(78);
      expect(stderr).toContain(`${variable}: expected`);
    },
    30_000,
  );
});
