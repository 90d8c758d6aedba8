import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { processStartTime } from './process-identity';

export interface WatchdogOptions {
  /** Where `-r @swc-node/register` resolves: the repository root. */
  cwd: string;
  env: Record<string, string | undefined>;
  log?: (message: string) => void;
}

/**
 * Stops the launcher's children when the launcher dies without doing it: a SIGKILL, the OOM
 * killer, a crash of Node itself. They run in process groups of their own (so a Ctrl-C reaches
 * the launcher alone), so nothing else would: they would keep their ports and data folders, and
 * the next `npm start` would trip over them.
 *
 * The watchdog is a process of its own (watchdog.main.ts), in a session of its own, reading a pipe
 * from the launcher: the kernel closes the launcher's end however it ends, and at that end of
 * file the watchdog stops every process still watched (SIGTERM to its process group, SIGKILL
 * after 5 s), unless its pid now names another process (Linux; see process-identity.ts). One
 * process for every kind of child, redis-server too (which cannot watch its parent), and nothing
 * in the apps' code.
 */
export class Watchdog {
  private readonly child: ChildProcess;
  private readonly log: (message: string) => void;
  private closing = false;

  constructor(options: WatchdogOptions) {
    this.log = options.log ?? (() => undefined);
    this.child = spawn(
      process.execPath,
      // The launcher's pid as an argument: a launcher killed before the watchdog runs leaves it
      // an orphan, whose parent pid is then whoever adopted it.
      ['-r', '@swc-node/register', join(__dirname, 'watchdog.main.ts'), String(process.pid)],
      {
        cwd: options.cwd,
        env: { ...options.env, SWC_NODE_PROJECT: join(options.cwd, 'tsconfig.base.json') },
        // Its stderr is the launcher's, for the line that says what it stopped.
        stdio: ['pipe', 'ignore', 'inherit'],
        detached: true,
      },
    );
    // Neither the process nor the pipe keeps the launcher (or a test using the gateway) alive.
    this.child.unref();
    (this.child.stdin as Socket | null)?.unref();
    this.child.stdin?.on('error', () => undefined); // the exit below says why, once
    this.child.once('error', (error) => this.onGone(`could not start: ${error.message}`));
    this.child.once('exit', (code, signal) =>
      this.onGone(`exited (code ${code}, signal ${signal})`),
    );
  }

  /**
   * Stops the process group `pid` leads if the launcher dies before it calls `forget(pid)`. Call
   * it right after spawning: its start time, read now, is how the watchdog later tells it from a
   * process that was given the same pid after it exited.
   */
  watch(pid: number, name: string): void {
    this.send(`watch ${pid} ${processStartTime(pid) ?? '-'} ${name}`);
  }

  /** `pid` has exited: no longer the watchdog's (the system may give its number to another). */
  forget(pid: number): void {
    this.send(`forget ${pid}`);
  }

  /** Ends the watch; a process still watched then is stopped as if the launcher had died. */
  close(): Promise<void> {
    this.closing = true;
    // No pid: it never ran. No exit code or signal yet: it runs.
    const running =
      this.child.pid !== undefined &&
      this.child.exitCode === null &&
      this.child.signalCode === null;
    if (!running) return Promise.resolve();
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    // Held again so that the launcher's event loop lasts until the watchdog has exited.
    this.child.ref();
    this.child.stdin?.end();
    return exited;
  }

  private send(line: string): void {
    if (this.child.stdin?.writable) this.child.stdin.write(`${line}\n`);
  }

  private onGone(why: string): void {
    if (this.closing) return;
    this.log(
      `Watchdog (pid ${this.child.pid}) ${why}: a SIGKILL of the launcher would now leave its processes running.`,
    );
  }
}
