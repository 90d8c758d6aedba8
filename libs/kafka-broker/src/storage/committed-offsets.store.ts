// Committed consumer-group offsets. Every commit appends JSON lines to `committed-offsets.log`
// (one small write, no rewrite on the hot path); the file is compacted to the live entries at open
// and whenever superseded lines outnumber live ones several times over.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readFileIfExists, writeFileAtomic } from './atomic-file';
import type { FsyncScheduler, Syncable } from './fsync.scheduler';
import { CorruptStateError } from './storage.errors';
import type { CommittedOffset } from './storage.types';

const FILE_NAME = 'committed-offsets.log';
/** Compact once the file holds this many lines and at least `COMPACT_RATIO` lines per live entry. */
const COMPACT_MIN_LINES = 10000;
const COMPACT_RATIO = 4;

export interface GroupOffset {
  topic: string;
  partition: number;
  value: CommittedOffset;
}

/** One line of the file: a commit, or the removal of a partition's or a whole group's offsets. */
interface OffsetLine {
  g: string;
  t?: string;
  p?: number;
  o?: string;
  e?: number;
  m?: string | null;
  c?: number;
  x?: 'group' | 'partition';
}

function partitionKey(topic: string, partition: number): string {
  return `${partition}:${topic}`;
}

function commitLine(group: string, entry: GroupOffset): string {
  const line: OffsetLine = {
    g: group,
    t: entry.topic,
    p: entry.partition,
    o: String(entry.value.offset),
    e: entry.value.leaderEpoch,
    m: entry.value.metadata,
    c: entry.value.commitTimestampMs,
  };
  return JSON.stringify(line) + '\n';
}

export class CommittedOffsetsStore implements Syncable {
  private readonly groups = new Map<string, Map<string, GroupOffset>>();
  private readonly file: string | null;
  private fd: number | null = null;
  private linesInFile = 0;
  private liveEntries = 0;
  private inFlightSync: Promise<void> | null = null;

  /** `dataDir` undefined keeps offsets in memory only. */
  constructor(
    dataDir: string | undefined,
    private readonly fsync: FsyncScheduler,
  ) {
    this.file = dataDir === undefined ? null : path.join(dataDir, FILE_NAME);
    if (this.file === null) return;
    const data = readFileIfExists(this.file);
    if (data !== null) this.replay(data, this.file);
    this.compact();
  }

  commit(group: string, offsets: readonly GroupOffset[]): void {
    let text = '';
    for (const entry of offsets) {
      this.put(group, {
        topic: entry.topic,
        partition: entry.partition,
        value: { ...entry.value },
      });
      if (this.fd === null) continue;
      text += commitLine(group, entry);
    }
    this.write(text, offsets.length);
  }

  get(group: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.groups.get(group)?.get(partitionKey(topic, partition))?.value;
  }

  groupNames(): string[] {
    return [...this.groups.keys()];
  }

  offsetsOf(group: string): GroupOffset[] {
    return [...(this.groups.get(group)?.values() ?? [])];
  }

  deleteGroup(group: string): void {
    const entries = this.groups.get(group);
    if (entries === undefined) return;
    this.liveEntries -= entries.size;
    this.groups.delete(group);
    this.write(JSON.stringify({ g: group, x: 'group' } satisfies OffsetLine) + '\n', 1);
  }

  /** Forgets every group's offsets for a deleted topic, as Kafka does. */
  deleteTopic(topic: string): void {
    let text = '';
    let lines = 0;
    for (const [group, entries] of this.groups) {
      for (const [key, entry] of entries) {
        if (entry.topic !== topic) continue;
        entries.delete(key);
        this.liveEntries--;
        text +=
          JSON.stringify({
            g: group,
            t: topic,
            p: entry.partition,
            x: 'partition',
          } satisfies OffsetLine) + '\n';
        lines++;
      }
      if (entries.size === 0) this.groups.delete(group);
    }
    if (lines > 0) this.write(text, lines);
  }

  sync(): Promise<void> {
    const fd = this.fd;
    if (fd === null) return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => {
      fs.fdatasync(fd, (error) => {
        this.inFlightSync = null;
        if (error) reject(error);
        else resolve();
      });
    });
    this.inFlightSync = done;
    return done;
  }

  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    this.fsync.forget(this);
    fs.fdatasyncSync(fd);
    const closeFd = (): void => fs.closeSync(fd);
    if (this.inFlightSync === null) closeFd();
    else void this.inFlightSync.then(closeFd, closeFd);
  }

  private put(group: string, entry: GroupOffset): void {
    let entries = this.groups.get(group);
    if (entries === undefined) {
      entries = new Map();
      this.groups.set(group, entries);
    }
    const key = partitionKey(entry.topic, entry.partition);
    if (!entries.has(key)) this.liveEntries++;
    entries.set(key, entry);
  }

  private write(text: string, lines: number): void {
    if (this.fd === null || lines === 0) return;
    fs.writeSync(this.fd, text);
    this.linesInFile += lines;
    if (this.fsync.policy.mode === 'always') fs.fdatasyncSync(this.fd);
    else void this.fsync.afterWrite(this);
    if (
      this.inFlightSync === null &&
      this.linesInFile >= COMPACT_MIN_LINES &&
      this.linesInFile >= COMPACT_RATIO * this.liveEntries
    ) {
      this.compact();
    }
  }

  private replay(data: Buffer, file: string): void {
    const text = data.toString('utf8');
    const lines = text.split('\n');
    // Whatever follows the last newline is a line torn by a crash mid-write: never acknowledged.
    lines.pop();
    for (const [i, text] of lines.entries()) {
      let line: OffsetLine;
      try {
        line = JSON.parse(text) as OffsetLine;
      } catch (error) {
        throw new CorruptStateError(`${file} line ${i + 1}`, { cause: error });
      }
      if (line.x === 'group') {
        this.liveEntries -= this.groups.get(line.g)?.size ?? 0;
        this.groups.delete(line.g);
      } else if (line.x === 'partition') {
        const entries = this.groups.get(line.g);
        if (entries?.delete(partitionKey(line.t ?? '', line.p ?? -1))) this.liveEntries--;
      } else {
        this.put(line.g, {
          topic: line.t ?? '',
          partition: line.p ?? -1,
          value: {
            offset: BigInt(line.o ?? '0'),
            leaderEpoch: line.e ?? -1,
            metadata: line.m ?? null,
            commitTimestampMs: line.c ?? 0,
          },
        });
      }
    }
  }

  /** Rewrites the file with one line per live entry and reopens it for appends. */
  private compact(): void {
    if (this.file === null) return;
    let text = '';
    let lines = 0;
    for (const [group, entries] of this.groups) {
      for (const entry of entries.values()) {
        text += commitLine(group, entry);
        lines++;
      }
    }
    writeFileAtomic(this.file, text, true);
    if (this.fd !== null) {
      this.fsync.forget(this);
      fs.closeSync(this.fd);
    }
    this.fd = fs.openSync(this.file, 'a');
    this.linesInFile = lines;
  }
}
