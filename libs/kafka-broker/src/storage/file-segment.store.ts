// Segments as files in a partition folder, Kafka style: `00000000000000000042.log` holds the
// batches from offset 42, with `.index`, `.timeindex` and `.snapshot` sidecars of the same name.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TEMP_SUFFIX, fsyncDirectory, readFileIfExists, writeFileAtomic } from './atomic-file';
import type { PartitionStore, SegmentStore, SidecarKind } from './segment.store';

const LOG_SUFFIX = '.log';
const SIDECAR_KINDS: readonly SidecarKind[] = ['index', 'timeindex', 'snapshot'];

export function segmentFileName(baseOffset: number, suffix: string): string {
  return String(baseOffset).padStart(20, '0') + suffix;
}

export class FileSegmentStore implements SegmentStore {
  private length: number;
  private lastWriteMs: number;
  private closed = false;
  private inFlightSync: Promise<void> | null = null;
  private queuedSync: Promise<void> | null = null;
  private unsyncedWrites = false;

  constructor(private readonly fd: number) {
    const stat = fs.fstatSync(fd);
    this.length = stat.size;
    this.lastWriteMs = stat.mtimeMs;
  }

  size(): number {
    return this.length;
  }

  append(data: Buffer): void {
    let written = 0;
    try {
      while (written < data.length) {
        written += fs.writeSync(
          this.fd,
          data,
          written,
          data.length - written,
          this.length + written,
        );
      }
    } catch (error) {
      // A half-written append would surface as a torn batch to readers; take it back out.
      if (written > 0) fs.ftruncateSync(this.fd, this.length);
      throw error;
    }
    this.length += data.length;
    this.lastWriteMs = Date.now();
    this.unsyncedWrites = true;
  }

  read(position: number, length: number): Buffer {
    const end = Math.min(position + length, this.length);
    if (end <= position) return Buffer.alloc(0);
    const buf = Buffer.allocUnsafe(end - position);
    let done = 0;
    while (done < buf.length) {
      const n = fs.readSync(this.fd, buf, done, buf.length - done, position + done);
      if (n === 0) return buf.subarray(0, done);
      done += n;
    }
    return buf;
  }

  truncate(size: number): void {
    if (size >= this.length) return;
    fs.ftruncateSync(this.fd, size);
    this.length = size;
  }

  sync(): Promise<void> {
    if (this.closed || !this.unsyncedWrites) return this.inFlightSync ?? Promise.resolve();
    if (this.inFlightSync === null) return this.startSync();
    // An fsync already running may have started before our write: wait for the next one, which
    // every caller arriving meanwhile shares (group commit).
    this.queuedSync ??= this.inFlightSync.then(
      () => this.startQueuedSync(),
      () => this.startQueuedSync(),
    );
    return this.queuedSync;
  }

  modifiedMs(): number {
    return this.lastWriteMs;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const pending = this.queuedSync ?? this.inFlightSync;
    const closeFd = (): void => fs.closeSync(this.fd);
    if (pending === null) closeFd();
    else void pending.then(closeFd, closeFd);
  }

  private startQueuedSync(): Promise<void> {
    this.queuedSync = null;
    if (this.closed) return Promise.resolve();
    return this.startSync();
  }

  private startSync(): Promise<void> {
    this.unsyncedWrites = false;
    const done = new Promise<void>((resolve, reject) => {
      fs.fdatasync(this.fd, (error) => {
        this.inFlightSync = null;
        if (error) {
          this.unsyncedWrites = true;
          reject(error);
        } else {
          resolve();
        }
      });
    });
    this.inFlightSync = done;
    return done;
  }
}

export class FilePartitionStore implements PartitionStore {
  /** Creates the folder when missing and removes leftovers of interrupted writes and deletes. */
  constructor(
    private readonly dir: string,
    private readonly durable: boolean,
  ) {
    fs.mkdirSync(dir, { recursive: true });
    const names = new Set(fs.readdirSync(dir));
    for (const name of names) {
      if (name.endsWith(TEMP_SUFFIX)) {
        fs.rmSync(path.join(dir, name), { force: true });
        continue;
      }
      const dot = name.indexOf('.');
      const stem = dot < 0 ? name : name.slice(0, dot);
      if (name !== stem + LOG_SUFFIX && !names.has(stem + LOG_SUFFIX)) {
        // A sidecar whose log is gone: retention was interrupted between the two unlinks. Snapshots
        // are the exception; the one for the next segment is written just before that segment.
        if (!name.endsWith('.snapshot')) fs.rmSync(path.join(dir, name), { force: true });
      }
    }
  }

  segmentBaseOffsets(): number[] {
    return fs
      .readdirSync(this.dir)
      .filter((name) => /^\d{20}\.log$/.test(name))
      .map((name) => Number(name.slice(0, 20)))
      .sort((a, b) => a - b);
  }

  openSegment(baseOffset: number): SegmentStore {
    const file = path.join(this.dir, segmentFileName(baseOffset, LOG_SUFFIX));
    const existed = fs.existsSync(file);
    const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    if (!existed && this.durable) fsyncDirectory(this.dir);
    return new FileSegmentStore(fd);
  }

  readSidecar(baseOffset: number, kind: SidecarKind): Buffer | null {
    return readFileIfExists(this.sidecarPath(baseOffset, kind));
  }

  writeSidecar(baseOffset: number, kind: SidecarKind, data: Buffer): void {
    writeFileAtomic(this.sidecarPath(baseOffset, kind), data, this.durable);
  }

  removeSegment(baseOffset: number): void {
    fs.rmSync(path.join(this.dir, segmentFileName(baseOffset, LOG_SUFFIX)), { force: true });
    for (const kind of SIDECAR_KINDS)
      fs.rmSync(this.sidecarPath(baseOffset, kind), { force: true });
  }

  removeAll(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private sidecarPath(baseOffset: number, kind: SidecarKind): string {
    return path.join(this.dir, segmentFileName(baseOffset, '.' + kind));
  }
}
