import { existsSync, readFileSync } from 'node:fs';

/** Whether this system shows processes in /proc (Linux), which is what tells one from another. */
export const canIdentifyProcesses = existsSync('/proc/self/stat');

/**
 * When process `pid` started, in clock ticks since boot (field 22 of /proc/<pid>/stat): with the
 * pid, it names one process, where the pid alone may name a later one that was given the same
 * number. Undefined when no such process exists, or where there is no /proc (macOS).
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The fields after the command name (which may hold spaces and parens) start at field 3.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[22 - 3];
  } catch {
    return undefined;
  }
}
