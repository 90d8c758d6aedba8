// Test-only helpers for storage specs: temporary data folders and opening storage in either mode.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openStorage, type LogBrokerStorage } from './broker-storage';
import type { StorageOptions } from './storage.types';

export type StorageMode = 'memory' | 'file';

/** A fresh folder under the OS temp dir; call the returned function to delete it. */
export function makeTempDir(label: string): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `herald-storage-${label}-`));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Opens storage per test in `mode`; `reopen` closes it and opens the same folder again (file
 * mode only). `cleanup` goes in afterEach.
 */
export function storageHarness(mode: StorageMode, options: Omit<StorageOptions, 'dataDir'> = {}) {
  let temp: { dir: string; remove: () => void } | null = null;
  let current: LogBrokerStorage | null = null;
  return {
    async open(extra: Omit<StorageOptions, 'dataDir'> = {}): Promise<LogBrokerStorage> {
      if (mode === 'file' && temp === null) temp = makeTempDir('spec');
      current = await openStorage({ ...options, ...extra, dataDir: temp?.dir });
      return current;
    },
    async reopen(extra: Omit<StorageOptions, 'dataDir'> = {}): Promise<LogBrokerStorage> {
      if (mode !== 'file') throw new Error('only file storage can be reopened');
      await current?.close();
      current = await openStorage({ ...options, ...extra, dataDir: temp!.dir });
      return current;
    },
    dir(): string {
      if (temp === null) throw new Error('no data folder in memory mode');
      return temp.dir;
    },
    async cleanup(): Promise<void> {
      await current?.close();
      current = null;
      temp?.remove();
      temp = null;
    },
  };
}

/** The folder of one partition of `topicId` inside `dataDir`. */
export function partitionDir(dataDir: string, topicId: Buffer, partition: number): string {
  return path.join(dataDir, 'topics', topicId.toString('hex'), String(partition));
}
