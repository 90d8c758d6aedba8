// Test kit: one broker per test file on a free port, plus small helpers for naming and waiting.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { freePort } from '@herald/test-harness';
import { startBroker, type RunningBroker } from './broker';
import type { BrokerOptions } from './broker.options';
import { createJsonLogger, silentLogger, type BrokerLogger } from './broker.logger';

export type { RunningBroker } from './broker';

/**
 * Starts an in-memory broker on a free port, quiet unless `HERALD_BROKER_LOG` is set in the test
 * process (then it logs JSON lines to stderr). Stop it in `afterAll`.
 */
export function startTestBroker(options: BrokerOptions = {}): Promise<RunningBroker> {
  return startBroker({ port: 0, initialRebalanceDelayMs: 0, logger: testLogger(), ...options });
}

function testLogger(): BrokerLogger {
  // Only the kit reads this switch: tests opt into broker logs when debugging.
  return process.env['HERALD_BROKER_LOG'] ? createJsonLogger() : silentLogger;
}

/** A topic or group name no other test uses: `prefix-<random>`. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  {
    timeoutMs = 15_000,
    intervalMs = 20,
    what = 'condition',
  }: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** The broker CLI running as a child process (tests that stop, freeze, kill or restart it). */
export interface BrokerProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly brokers: string;
  /** Everything it logged so far (JSON lines). */
  logs(): string;
  /** Resolves with the exit code once the process has ended. */
  readonly exited: Promise<number | null>;
  /** Sends `signal` (SIGTERM: a clean stop) unless it has ended, then waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `herald-broker` with its data in `dataDir`, on `port` (default: a free one; pass the
 * same port to start it again on the same data), and resolves once it is listening.
 */
export async function startBrokerProcess(
  dataDir: string,
  { port, timeoutMs = 30_000 }: { port?: number; timeoutMs?: number } = {},
): Promise<BrokerProcess> {
  const listenOn = port ?? (await freePort());
  const child = spawn(
    process.execPath,
    [join(__dirname, '../bin/herald-broker.js'), '--port', String(listenOn), '--data', dataDir],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let logs = '';
  child.stderr?.on('data', (chunk: Buffer) => (logs += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  try {
    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`the broker exited early:\n${logs}`);
        return logs.includes('"msg":"broker listening"');
      },
      { timeoutMs, what: `the broker on port ${listenOn}` },
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    child,
    port: listenOn,
    brokers: `127.0.0.1:${listenOn}`,
    logs: () => logs,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
