import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Watchdog } from './watchdog';

export interface ManagedProcessOptions {
  name: string;
  command: string;
  args: string[];
  env: Record<string, string | undefined>;
  cwd: string;
  /** Resolves true once the process is serving (polled until `readyTimeoutMs`). */
  isReady: () => Promise<boolean>;
  readyTimeoutMs?: number;
  /** Receives each line the process prints; default: discard. */
  onLine?: (name: string, line: string) => void;
  /** Stops the process if the launcher dies without stopping it; default: none. */
  watchdog?: Watchdog;
}

/**
 * One child process the launcher owns: started, awaited until ready, stopped with SIGTERM (then
 * SIGKILL after a grace period), or killed outright by fault tests.
 */
export class ManagedProcess {
  private child: ChildProcess | undefined;
  private exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;

  constructor(readonly options: ManagedProcessOptions) {}

  get name(): string {
    return this.options.name;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  isRunning(): boolean {
    return (
      this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
    );
  }

  /**
   * Spawns the process and resolves once it is ready. Aborting `abort` ends the wait (rejecting
   * with its reason); the process is left to `stop()`, as when it is not ready in time.
   */
  async start(abort?: AbortSignal): Promise<void> {
    const { command, args, env, cwd, name, onLine } = this.options;
    // Its own process group: a terminal's Ctrl-C reaches only the launcher, which then stops the
    // children in order (apps before the broker and Redis they commit to).
    const child = spawn(command, args, {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.child = child;
    const { pid } = child;
    // No pid: it never ran (no such command), and 'exit' does not come.
    if (pid !== undefined) this.options.watchdog?.watch(pid, name);
    this.exit = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        if (pid !== undefined) this.options.watchdog?.forget(pid);
        resolve({ code, signal });
      }),
    );
    for (const stream of [child.stdout, child.stderr]) {
      const lines = createInterface({ input: stream });
      lines.on('line', (line) => onLine?.(name, line));
    }
    const deadline = Date.now() + (this.options.readyTimeoutMs ?? 60_000);
    while (Date.now() < deadline) {
      abort?.throwIfAborted();
      if (!this.isRunning()) {
        const { code, signal } = await this.exited();
        throw new Error(`${name} exited before it was ready (code ${code}, signal ${signal})`);
      }
      if (await this.options.isReady().catch(() => false)) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`${name} was not ready within ${this.options.readyTimeoutMs ?? 60_000} ms`);
  }

  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exit ?? Promise.resolve({ code: null, signal: null });
  }

  /** SIGTERM, and SIGKILL if it is still running after `graceMs`. Resolves with how it ended. */
  async stop(graceMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.isRunning()) return this.exited();
    this.child?.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    const result = await this.exited();
    clearTimeout(timer);
    return result;
  }

  /** SIGKILL: the crash a fault test wants. */
  async kill(): Promise<void> {
    if (!this.isRunning()) return;
    this.child?.kill('SIGKILL');
    await this.exited();
  }
}
