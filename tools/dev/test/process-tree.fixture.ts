import { readdirSync, readFileSync } from 'node:fs';

// The process tree as /proc shows it (Linux; the launcher tests that use it run there): what a
// launcher started, and whether it is still running after the launcher is gone.

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces and parens). */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // gone meanwhile
  }
}

/** The processes whose parent is `pid`, now. */
export function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((child) => statFields(child)?.[1] === String(pid));
}

/** Every process below `pid` now: its children, theirs, and so on. */
export function descendantsOf(pid: number): number[] {
  const found: number[] = [];
  for (let level = childrenOf(pid); level.length > 0; level = level.flatMap(childrenOf))
    found.push(...level);
  return found;
}

/**
 * True while `pid` runs. An orphan that exited stays a zombie until its new parent waits for it,
 * and some inits (this machine's among them) never do: a zombie has exited, and holds no port.
 */
export function isRunning(pid: number): boolean {
  const state = statFields(pid)?.[0];
  return state !== undefined && state !== 'Z';
}

/** The command line of `pid`, its arguments joined by spaces; empty once it is gone. */
export function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').trim();
  } catch {
    return ''; // gone meanwhile
  }
}
