// One broker per data folder: two processes appending to the same segments would interleave
// batches and corrupt both logs. The lock is a file holding the owner's pid; a lock whose process
// is gone (SIGKILL) is taken over, since nothing else cleans it up.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataDirLockedError } from './storage.errors';

const LOCK_FILE = '.lock';
/** Folders locked by this process; a pid match alone cannot tell us from a predecessor. */
const heldHere = new Set<string>();

export class DataDirLock {
  private released = false;

  private constructor(private readonly dir: string) {}

  static acquire(dir: string): DataDirLock {
    if (heldHere.has(dir)) throw new DataDirLockedError(dir, process.pid);
    const file = path.join(dir, LOCK_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
        heldHere.add(dir);
        return new DataDirLock(dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = Number(fs.readFileSync(file, 'utf8'));
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new DataDirLockedError(dir, owner);
      }
      fs.rmSync(file, { force: true });
    }
    throw new DataDirLockedError(dir, -1);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    heldHere.delete(this.dir);
    fs.rmSync(path.join(this.dir, LOCK_FILE), { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else, so it still holds the folder.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
