import { existsSync, readFileSync } from 'node:fs';

/** Whether this system shows processes in /proc (Linux), which is what tells one from another. */
export const canIdentifyProcesses = existsSync('/proc/self/stat');

/**
 * The fields of /proc/<pid>/stat after the command name (which may hold spaces and parens), so
 * field N of the file is `[N - 3]` here; undefined when no such process exists, or where there
 * is no /proc (macOS).
 */
export function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * When process `pid` started, in clock ticks since boot (field 22 of /proc/<pid>/stat): with the
 * pid, it names one process, where the pid alone may name a later one that was given the same
 * number. Undefined when no such process exists, or where there is no /proc (macOS).
 */
export function processStartTime(pid: number): string | undefined {
  return statFields(pid)?.[22 - 3];
}

/**
 * The arguments `pid` was started with (as it shows them: a process may retitle itself, as npm
 * does); empty once it is gone, or where there is no /proc (macOS).
 */
export function argumentsOf(pid: number): string[] {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
    // A retitled process pads its title with NULs.
    while (args.length > 0 && args[args.length - 1] === '') args.pop();
    return args;
  } catch {
    return [];
  }
}

/**
 * True while `pid` has not exited. An orphan that exited stays a zombie until its new parent
 * waits for it, and some inits (this machine's among them) never do: a zombie has exited, and
 * holds no port. Without /proc (macOS) `kill(pid, 0)` is all there is to go by.
 */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (!canIdentifyProcesses) return true;
  const state = statFields(pid)?.[0];
  return state !== undefined && state !== 'Z';
}
