// Small state files (topics, producer ids, index sidecars) are replaced whole: write a temporary
// sibling, optionally fsync it, rename over the old one. A crash leaves either the old or the new
// file, never a mix; a stray `.tmp` is removed at the next open.
import * as fs from 'node:fs';
import * as path from 'node:path';

export const TEMP_SUFFIX = '.tmp';

export function writeFileAtomic(file: string, data: Buffer | string, durable: boolean): void {
  const temp = file + TEMP_SUFFIX;
  const fd = fs.openSync(temp, 'w');
  try {
    fs.writeFileSync(fd, data);
    if (durable) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temp, file);
  if (durable) fsyncDirectory(path.dirname(file));
}

/** Makes a created, renamed or deleted directory entry survive a power cut. */
export function fsyncDirectory(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** The file's content, or null when it does not exist. */
export function readFileIfExists(file: string): Buffer | null {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
