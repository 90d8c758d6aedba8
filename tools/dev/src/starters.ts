import { basename } from 'node:path';
import {
  argumentsOf,
  canIdentifyProcesses,
  isRunning,
  processStartTime,
  statFields,
} from './process-identity';

// `npm start` is npm, running `sh -c "node tools/bootstrap.js start"` (dash, Debian's sh, does
// not exec the command), running tools/bootstrap.js, running the launcher. The launcher and what
// it starts do not die with those above it: a SIGKILL of any of them, or npm's own SIGTERM (which
// it forwards to the shell alone, which dies of it), would leave the gateway running, orphaned,
// holding its ports. So the launcher stops it when one of them is gone, as it does on SIGTERM.

/** A process above the launcher: while it runs, so does the gateway. */
export interface Starter {
  pid: number;
  /** Its start time (process-identity.ts), which tells it from a later process given its pid. */
  startTime?: string;
  /** Its command line as it showed it when the launcher started, for the log. */
  name: string;
}

export interface WatchStartersOptions {
  /** Environment of the launcher: `npm_lifecycle_event` in it says npm ran a script above it. */
  env: Record<string, string | undefined>;
  /** How often the starters above tools/bootstrap.js are looked at, in ms; default 500. */
  intervalMs?: number;
}

function starter(pid: number): Starter {
  return { pid, startTime: processStartTime(pid), name: argumentsOf(pid).join(' ') || 'process' };
}

function parentOf(pid: number): number | undefined {
  const ppid = Number(statFields(pid)?.[4 - 3]);
  return ppid > 0 ? ppid : undefined;
}

/** A shell running one command line (`sh -c "…"`), as npm runs a script; not an interactive one. */
function isCommandShell(pid: number): boolean {
  const [shell, flag] = argumentsOf(pid);
  return (
    shell !== undefined && /^(sh|dash|bash|zsh|ash|ksh)$/.test(basename(shell)) && flag === '-c'
  );
}

/**
 * The processes above the launcher's parent `parent` (tools/bootstrap.js) whose end must end the
 * gateway, nearest first: when npm ran it, the shells npm ran it in and npm itself; none when it
 * was run otherwise (from a terminal, by a supervisor: `nohup node tools/bootstrap.js start &`
 * outlives the shell it was typed in). Linux only: elsewhere there is no /proc to read them in.
 */
export function startersAbove(parent: number, env: Record<string, string | undefined>): Starter[] {
  if (!canIdentifyProcesses || env.npm_lifecycle_event === undefined) return [];
  const found: Starter[] = [];
  for (let pid = parentOf(parent); pid !== undefined && pid > 1; pid = parentOf(pid)) {
    found.push(starter(pid));
    if (!isCommandShell(pid)) break; // npm, or whatever ran the shell
  }
  return found;
}

function isGone({ pid, startTime }: Starter): boolean {
  return !isRunning(pid) || (startTime !== undefined && processStartTime(pid) !== startTime);
}

/**
 * Calls `onGone` (once) with why, when a process the launcher was started by is gone, however it
 * ended: tools/bootstrap.js, whose IPC channel to the launcher the kernel closes then, and, when
 * npm ran that, the shell and npm above it (looked at every `intervalMs`). Nothing when the
 * launcher has no IPC channel (run otherwise than by tools/bootstrap.js). Returns what stops the
 * watch. Neither the channel nor the timer keeps the launcher running.
 */
export function watchStarters(
  onGone: (why: string) => void,
  { env, intervalMs = 500 }: WatchStartersOptions,
): () => void {
  const channel = process.channel;
  if (channel === undefined) return () => undefined;
  const bootstrap = starter(process.ppid);
  const above = startersAbove(bootstrap.pid, env);
  let timer: NodeJS.Timeout | undefined;
  let watching = true;
  function stop(): void {
    watching = false;
    clearInterval(timer);
    process.off('disconnect', onDisconnect);
  }
  function gone(which: Starter): void {
    if (!watching) return;
    stop();
    onGone(`The process Herald was started by is gone: ${which.name} (pid ${which.pid}).`);
  }
  function onDisconnect(): void {
    gone(bootstrap);
  }
  channel.unref();
  process.once('disconnect', onDisconnect);
  // Gone before this listened.
  if (!process.connected) onDisconnect();
  if (watching && above.length > 0) {
    timer = setInterval(() => {
      const first = above.find(isGone);
      if (first) gone(first);
    }, intervalMs);
    timer.unref();
  }
  return stop;
}
