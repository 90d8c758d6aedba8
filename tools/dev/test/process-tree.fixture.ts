// The process tree as /proc shows it (Linux; the launcher tests that use it run there): what a
// launcher started, and whether it is still running after the launcher is gone.

import { readdirSync } from 'node:fs';
import { argumentsOf, isRunning, statFields } from '../src/process-identity';

export { isRunning };

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

/** The command line of `pid`, its arguments joined by spaces; empty once it is gone. */
export function commandLineOf(pid: number): string {
  return argumentsOf(pid).join(' ');
}
