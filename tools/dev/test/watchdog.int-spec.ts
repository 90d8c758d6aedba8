import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../src/gateway';
import { processStartTime } from '../src/process-identity';
import { Watchdog } from '../src/watchdog';
import { isRunning } from './process-tree.fixture';

import { waitFor } from '@herald/kafka/testing';

/**
 * The watchdog stops what the launcher started when the launcher is gone (its pipe closes), and
 * nothing else: a watched process that exited may have left its pid to an unrelated one.
 */

const sleepers: ChildProcess[] = [];

/** A process in a group of its own, as the launcher's children are; SIGKILLed after the test. */
function startSleeper(): ChildProcess & { pid: number } {
  const sleeper = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
  sleepers.push(sleeper);
  return sleeper as ChildProcess & { pid: number };
}

afterEach(() => {
  for (const sleeper of sleepers.splice(0)) if (sleeper.exitCode === null) sleeper.kill('SIGKILL');
});

/** The watchdog process as the launcher starts it (with `args`), its stderr collected. */
function spawnWatchdog(...args: string[]) {
  const watchdog = spawn(
    process.execPath,
    ['-r', '@swc-node/register', join(__dirname, '../src/watchdog.main.ts'), ...args],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, SWC_NODE_PROJECT: join(REPO_ROOT, 'tsconfig.base.json') },
      stdio: ['pipe', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  watchdog.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise((resolve) => watchdog.once('exit', resolve));
  return { watchdog, exited, stderr: () => stderr };
}

describe('the watchdog', () => {
  it('stops the process group of a process it watches once the launcher is gone', async () => {
    const sleeper = startSleeper();
    const watchdog = new Watchdog({ cwd: REPO_ROOT, env: process.env });
    watchdog.watch(sleeper.pid, 'sleeper');
    // As when the launcher dies: its end of the pipe closes.
    await watchdog.close();
    await waitFor(() => !isRunning(sleeper.pid), {
      what: 'the sleeper to exit',
      timeoutMs: 10_000,
    });
  }, 20_000);

  it('leaves alone a process that now has the pid of one it watched', async () => {
    const sleeper = startSleeper();
    // The watchdog as the launcher starts it, told of a process that had this pid before.
    const { watchdog, exited, stderr } = spawnWatchdog();
    const earlier = Number(processStartTime(sleeper.pid)) - 1;
    watchdog.stdin.end(`watch ${sleeper.pid} ${earlier} redis-server\n`);
    await exited;
    expect(isRunning(sleeper.pid)).toBe(true);
    expect(stderr()).toContain(`not stopping redis-server (pid ${sleeper.pid})`);
  }, 20_000);

  it("names the launcher by the pid it was given, not by its own parent's", async () => {
    const sleeper = startSleeper();
    const { watchdog, exited, stderr } = spawnWatchdog('4242');
    watchdog.stdin.end(`watch ${sleeper.pid} ${processStartTime(sleeper.pid)} sleeper\n`);
    await exited;
    expect(stderr()).toContain('the launcher (pid 4242) ended without stopping what it started');
    await waitFor(() => !isRunning(sleeper.pid), {
      what: 'the sleeper to exit',
      timeoutMs: 10_000,
    });
  }, 20_000);
});
