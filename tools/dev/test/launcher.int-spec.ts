import { randomUUID } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { startTestBroker, waitFor, type RunningBroker } from '@herald/kafka/testing';
import { freePort, pingRedis } from '@herald/test-harness';
import { APPS, REPO_ROOT, type AppName } from '../src/gateway';
import { processStartTime } from '../src/process-identity';
import { portOpen } from '../src/probes';
import { childrenOf, commandLineOf, descendantsOf, isRunning } from './process-tree.fixture';
import { startTlsRedis, tlsRedisUrl, type TlsRedis } from './tls-redis.fixture';

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
  /** The processes it named in its output (`(pid N)`), with their start times then. */
  named: Map<number, string | undefined>;
  /** Its HERALD_DATA_DIR, a temporary folder of its own (removed by `end`). */
  dataDir?: string;
}

let broker: RunningBroker;
/** The launches of the running test, killed after it if still up. */
let launches: Launch[] = [];

/**
 * Launches that tests take over only once Herald is running (`launchAhead`, `take`). Starting
 * one is most of such a test's time, so they all start side by side before the first test,
 * instead of one after another, each with a broker of its own (the apps of two gateways on one
 * broker would join each other's consumer groups). A test does to its launch just what it did
 * to one it started itself.
 */
const aheadStarts = new Map<string, () => Promise<Launch>>();
const ahead = new Map<string, Promise<Launch>>();
const aheadBrokers: RunningBroker[] = [];

/** Registers a launch (while the describes are collected) to start before the first test. */
function launchAhead(
  name: string,
  env: () => Record<string, string> | Promise<Record<string, string>> = () => ({}),
  options: { via?: 'bootstrap' | 'npm' } = {},
): void {
  aheadStarts.set(name, async () => {
    const own = await startTestBroker();
    aheadBrokers.push(own);
    return launch({ KAFKA_BROKERS: own.brokers, ...(await env()) }, { ...options, ahead: true });
  });
}

/** The launch registered as `name`, from now on the running test's (ended after it). */
async function take(name: string): Promise<Launch> {
  const launched = await ahead.get(name)!;
  ahead.delete(name);
  launches.push(launched);
  return launched;
}

beforeAll(async () => {
  broker = await startTestBroker();
  for (const [name, start] of aheadStarts) {
    const started = start();
    started.catch(() => undefined); // rejected: the test that takes it says why
    ahead.set(name, started);
  }
});

afterAll(async () => {
  // Those a failing test never took.
  for (const started of ahead.values()) await started.then(end, () => undefined);
  await Promise.all([broker, ...aheadBrokers].map((b) => b?.stop()));
});

afterEach(() => {
  for (const launched of launches.splice(0)) end(launched);
});

function end(launched: Launch): void {
  // Found first: once it is killed, what it started is no longer below it.
  const leftovers = leftoversOf(launched);
  if (launched.child.exitCode === null) launched.child.kill('SIGKILL');
  for (const pid of leftovers) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // ESRCH: it exited meanwhile.
    }
  }
  if (launched.dataDir) rmSync(launched.dataDir, { recursive: true, force: true });
}

/**
 * What a failed test may have left running (Linux; elsewhere nothing), so that a launcher that
 * orphans its apps does not leave them holding ports: every process whose environment holds
 * the launch's marker, every process below one of them, and every process the launcher named
 * in its output that still runs. A redis-server it started is found by the last two only: it
 * writes its title over its environment, marker included.
 */
function leftoversOf({ child, marker, named }: Launch): number[] {
  if (!existsSync('/proc/self/environ')) return [];
  const marked: number[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let environ: string;
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
    } catch {
      continue; // gone meanwhile, or not ours to read
    }
    if (environ.includes(`HERALD_REDIS_PREFIX=${marker}\0`)) marked.push(Number(pid));
  }
  // Once it exited its pid may be another process's: only while it runs.
  const running = child.exitCode === null && child.signalCode === null ? [child.pid!] : [];
  const below = [...running, ...marked].flatMap(descendantsOf);
  const stillNamed = [...named]
    .filter(([pid, startTime]) => startTime !== undefined && processStartTime(pid) === startTime)
    .map(([pid]) => pid);
  return [...new Set([...marked, ...below, ...stillNamed])].filter(isRunning);
}

/**
 * Runs `command` as a launch: its output read line by line, what it names noted for `end`; the
 * running test's unless `ahead`.
 */
function startLaunch(
  command: string,
  args: string[],
  env: Record<string, string | undefined>,
  ports: Record<AppName, number>,
  marker: string,
  { dataDir, ahead = false }: { dataDir?: string; ahead?: boolean } = {},
): Launch {
  const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const named = new Map<number, string | undefined>();
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    const pid = Number(/\(pid (\d+)\)/.exec(line)?.[1]);
    if (pid > 0 && !named.has(pid)) named.set(pid, processStartTime(pid));
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const launched = { child, lines, stderr: () => stderr, exited, ports, marker, named, dataDir };
  if (!ahead) launches.push(launched);
  return launched;
}

/**
 * `tools/bootstrap.js start` on free ports with the tests' broker and Redis and a data folder of
 * its own, `env` over that; `npm start` (npm, the shell it runs the script in, then
 * tools/bootstrap.js) with `via: 'npm'`.
 */
async function launch(
  env: Record<string, string> = {},
  { via = 'bootstrap', ahead = false }: { via?: 'bootstrap' | 'npm'; ahead?: boolean } = {},
): Promise<Launch> {
  const marker = `test:${randomUUID().slice(0, 8)}:`;
  // Never the repository's .data: a developer's gateway may be running from it.
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-launch-'));
  const ports = Object.fromEntries(
    await Promise.all(APPS.map(async (app) => [app.name, await freePort()])),
  ) as Record<AppName, number>;
  const [command, args] =
    via === 'npm'
      ? ['npm', ['start']]
      : [process.execPath, [join(REPO_ROOT, 'tools/bootstrap.js'), 'start']];
  return startLaunch(
    command,
    args,
    {
      ...process.env,
      ...Object.fromEntries(APPS.map((app) => [app.portVariable, String(ports[app.name])])),
      KAFKA_BROKERS: broker.brokers,
      HERALD_ADMIN_KEY: `test-admin-${randomUUID()}`,
      HERALD_REDIS_PREFIX: marker,
      HERALD_DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      npm_config_update_notifier: 'false',
      ...env,
    },
    ports,
    marker,
    { dataDir, ahead },
  );
}

function liveStatus(port: number): Promise<number> {
  return fetch(`http://127.0.0.1:${port}/health/live`).then(
    (response) => response.status,
    () => 0,
  );
}

/** The apps whose port still takes connections: what the next `npm start` would trip over. */
async function portsInUse(
  { ports }: Launch,
  apps: readonly (typeof APPS)[number][] = APPS,
): Promise<AppName[]> {
  const open = await Promise.all(apps.map((app) => portOpen('127.0.0.1', ports[app.name])));
  return apps.filter((_, i) => open[i]).map((app) => app.name);
}

/** The apps the launcher said were ready (those that surely held their ports). */
const readyApps = ({ lines }: Launch) =>
  APPS.filter((app) => lines.some((line) => line.startsWith(`${app.name}: ready on `)));

/**
 * After a launch interrupted while starting: nothing it started runs (the app it was starting
 * included, ready or not), and the ports of the apps that were up are free again. The ports of
 * apps it had not started are not looked at: nothing holds them for the launch, so another test
 * may have been given one meanwhile (which once failed this check).
 */
async function expectAllStopped(launched: Launch): Promise<void> {
  expect(leftoversOf(launched)).toEqual([]);
  expect(await portsInUse(launched, readyApps(launched))).toEqual([]);
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
      await expectAllStopped(launched);
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
    await expectAllStopped(launched);
  }, 180_000);
});

describe('npm start running', () => {
  let launched: Launch;
  const password = `pw-${randomUUID()}`;

  launchAhead('running', () => {
    // The default user of a Redis without a password takes any (the tests' Redis).
    const redisUrl = new URL(process.env.REDIS_URL!);
    if (!redisUrl.password) [redisUrl.username, redisUrl.password] = ['default', password];
    return { REDIS_URL: redisUrl.toString() };
  });

  beforeAll(async () => {
    launched = await take('running');
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

  it("keeps its data in HERALD_DATA_DIR, and says where, not in the repository's .data", () => {
    expect(launched.lines).toContain(`  data              ${launched.dataDir}`);
    // The apps' development secret key (they have no HERALD_SECRET_KEY here).
    expect(readdirSync(launched.dataDir!)).toContain('secret.key');
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
  launchAhead('killed');

  it('takes every process it started with it, and frees their ports', async () => {
    const launched = await take('killed');
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

describe('npm start when a process it was started by is gone', () => {
  /**
   * Kills `top` (what the test ran) with `signal` once Herald is running, then expects every
   * process below it to exit, the apps' ports to be free, and the launcher to have said why.
   */
  async function killTopAndExpectAllGone(launched: Launch, signal: NodeJS.Signals): Promise<void> {
    await waitFor(() => running(launched) || launched.child.exitCode !== null, {
      timeoutMs: 150_000,
      what: 'Herald is running',
    });
    expect(running(launched)).toBe(true);
    const below = descendantsOf(launched.child.pid!);
    const launcher = below.find((pid) => commandLineOf(pid).includes('tools/dev/src/main.ts'));
    expect(launcher).toBeDefined();
    const apps = launched.lines
      .map((line) => Number(/ready on \S+ \(pid (\d+)\)$/.exec(line)?.[1]))
      .filter((pid) => pid > 0);
    expect(apps).toHaveLength(APPS.length);
    expect(below).toEqual(expect.arrayContaining(apps));

    launched.child.kill(signal);
    await launched.exited;
    await waitFor(() => !below.some(isRunning), {
      timeoutMs: 60_000,
      what: 'every process below it to exit',
    }).catch(() => undefined); // the assertion below names the survivors
    expect(below.filter(isRunning).map((pid) => `${pid} ${commandLineOf(pid)}`)).toEqual([]);
    // A zombie whose other threads are still being torn down holds its sockets until the last.
    await waitFor(async () => (await portsInUse(launched)).length === 0, {
      timeoutMs: 10_000,
      what: 'the ports to be free',
    }).catch(() => undefined); // the assertion below names the apps
    expect(await portsInUse(launched)).toEqual([]);
    // Stopped as on SIGTERM (apps first, each let finish), saying why.
    const output = launched.lines.join('\n');
    expect(output).toMatch(/^The process Herald was started by is gone: .+ \(pid \d+\)\.$/m);
    expect(launched.lines).toContain('Stopped.');
  }

  launchAhead('bootstrap gone');
  for (const signal of ['SIGKILL', 'SIGTERM'])
    launchAhead(`npm sent ${signal}`, undefined, { via: 'npm' });

  it('tools/bootstrap.js SIGKILLed: the launcher stops everything it started', async () => {
    const launched = await take('bootstrap gone');
    await killTopAndExpectAllGone(launched, 'SIGKILL');
    expect(launched.lines.join('\n')).toContain(
      `The process Herald was started by is gone: ${process.execPath} ${join(REPO_ROOT, 'tools/bootstrap.js')} start (pid ${launched.child.pid}).`,
    );
  }, 240_000);

  // npm forwards a SIGTERM to the shell it runs the script in, which dies of it, and exits.
  it.each(['SIGKILL', 'SIGTERM'] as const)(
    'npm start, npm sent %s: everything below npm stops',
    async (signal) => {
      const launched = await take(`npm sent ${signal}`);
      await killTopAndExpectAllGone(launched, signal);
    },
    240_000,
  );
});

describe('the cleanup after a failed launcher test', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'herald-leftovers-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  // redis-server writes its title over its environment, so the launch's marker is not in it.
  it.each([
    ['the launcher still runs and has not named it yet', false],
    ['the launcher is gone and had named it', true],
  ])('stops a redis-server the launcher started when %s', async (_, launcherGone) => {
    const port = await freePort();
    // A launcher as far as the cleanup can tell: the launch's marker in its environment.
    const script = [
      "const { spawn } = require('node:child_process');",
      "const redis = spawn('redis-server', process.argv.slice(1), { detached: true, stdio: 'ignore' });",
      launcherGone ? 'console.log(`started redis-server (pid ${redis.pid})`);' : '',
      'setInterval(() => undefined, 1000);',
    ].join('\n');
    const marker = `test:${randomUUID().slice(0, 8)}:`;
    const redisArgs = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir];
    const launched = startLaunch(
      process.execPath,
      ['-e', script, '--', ...redisArgs],
      { ...process.env, HERALD_REDIS_PREFIX: marker },
      {} as Record<AppName, number>,
      marker,
    );
    launches = []; // ended below
    const redis = await waitFor(() => childrenOf(launched.child.pid!)[0], {
      what: 'the launcher to spawn redis-server',
    });
    try {
      await waitFor(() => pingRedis(`redis://127.0.0.1:${port}`), {
        what: 'redis-server to answer',
      });
      if (launcherGone) {
        await waitFor(() => launched.named.has(redis), { what: 'the launcher to name it' });
        launched.child.kill('SIGKILL');
        await launched.exited;
      }
      end(launched);
      await waitFor(() => !isRunning(redis), { what: 'redis-server to exit' }).catch(
        () => undefined, // the assertion below says it did not
      );
      expect(isRunning(redis)).toBe(false);
    } finally {
      if (isRunning(redis)) process.kill(redis, 'SIGKILL');
    }
  });
});

describe('npm start with a Redis behind TLS (rediss://)', () => {
  let tlsRedis: TlsRedis | undefined;
  let password = '';

  launchAhead('tls', async () => {
    tlsRedis = await startTlsRedis(process.env.REDIS_URL!);
    const { url, password: itsPassword } = tlsRedisUrl(tlsRedis, process.env.REDIS_URL!);
    password = itsPassword;
    return {
      REDIS_URL: url,
      // How a machine trusts a Redis with a private CA: the launcher and the apps alike.
      NODE_EXTRA_CA_CERTS: tlsRedis.certificateFile,
    };
  });

  afterAll(async () => {
    await tlsRedis?.stop();
  });

  it('gives the apps that Redis, and prints it without its password', async () => {
    const launched = await take('tls');
    const tls = tlsRedis!;
    await waitFor(() => running(launched) || launched.child.exitCode !== null, {
      timeoutMs: 150_000,
      what: 'Herald is running',
    });
    const output = launched.lines.join('\n');
    expect(output).toContain(`Redis: using the one at rediss://***@127.0.0.1:${tls.port}`);
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
    expect(tls.connections).toBeGreaterThan(APPS.length);
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
