import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import type { RedisConnection } from '@herald/store';
import { freePort } from '@herald/test-harness';

export const REPO_ROOT = resolve(__dirname, '../../..');

/** A child process started by a benchmark, killed on `stop()`. */
export interface BenchProcess {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

async function waitUntil(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
}

/** The embedded broker as its own process on a data folder, as Kafka would run. */
export async function startBrokerProcess(
  dataDir: string,
): Promise<{ brokers: string; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      join(REPO_ROOT, 'libs/kafka-broker/bin/herald-broker.js'),
      '--port',
      String(port),
      '--data',
      dataDir,
    ],
    {
      stdio: 'ignore',
    },
  );
  const { connect } = await import('node:net');
  await waitUntil(
    () =>
      new Promise<boolean>((ok) => {
        const socket = connect(port, '127.0.0.1');
        socket.once('connect', () => (socket.destroy(), ok(true)));
        socket.once('error', () => ok(false));
      }),
    'broker',
  );
  return { brokers: `127.0.0.1:${port}`, stop: stopper(child) };
}

/**
 * A Herald app (or any TS entry point) as a child process, awaited until `/health/ready` is 200.
 * The chosen port goes to it in `portVariable` (null: in `args` only, where `{port}` is replaced).
 */
export async function startAppProcess(
  entry: string,
  portVariable: string | null,
  env: Record<string, string>,
  args: string[] = [],
): Promise<BenchProcess> {
  const port = await freePort();
  const child = spawnEntry(
    entry,
    args.map((a) => a.replace('{port}', String(port))),
    {
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      ...(portVariable === null ? {} : { [portVariable]: String(port) }),
      ...env,
    },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(
    async () => (await fetch(`${url}/health/ready`)).status === 200,
    `${entry} ready`,
  );
  return { url, port, process: child, stop: stopper(child) };
}

/** A TS entry point as a child process with no readiness check (it says nothing); killed on `stop()`. */
export function startScriptProcess(
  entry: string,
  args: string[],
): { process: ChildProcess; stop(): Promise<void> } {
  const child = spawnEntry(entry, args, {});
  return { process: child, stop: stopper(child) };
}

/** A TS entry point run by Node through swc, from the repository root, stderr passed through. */
function spawnEntry(entry: string, args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [...profileArgs(), '-r', '@swc-node/register', entry, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, SWC_NODE_PROJECT: join(REPO_ROOT, 'tsconfig.base.json'), ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** With BENCH_PROFILE_DIR set, each app writes a CPU profile there when it stops. */
function profileArgs(): string[] {
  const dir = process.env.BENCH_PROFILE_DIR;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

/** Removes a run's keys (the Redis may be shared, and idempotency records live a day). */
export async function deletePrefix(redis: RedisConnection, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, found] = await redis.client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (found.length > 0) await redis.client.del(...found);
    cursor = next;
  } while (cursor !== '0');
}

const READING = '## Reading these numbers';

/**
 * Writes a results file, keeping its hand-written "Reading these numbers" section (everything
 * from that heading on), so a new run updates the table without losing the analysis. Not while
 * profiling (BENCH_PROFILE_DIR): the profiler slows every app down, so the numbers are not the
 * table's.
 */
export function writeResults(path: string, generated: string): void {
  if (process.env.BENCH_PROFILE_DIR) {
    process.stdout.write(`profiling: ${path} is left as it was\n`);
    return;
  }
  const previous = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const at = previous.indexOf(READING);
  const reading = at === -1 ? '' : `\n${previous.slice(at)}`;
  writeFileSync(path, `${generated.trimEnd()}\n${reading}`);
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The `p`th percentile of already sorted values (nearest rank); NaN when there are none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
