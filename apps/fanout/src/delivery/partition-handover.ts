import type { TrackerSnapshot } from './offset-tracker';

/**
 * How many (record, subscription) pairs a hand-over names at most. A partition holds at most
 * its backlog bound of unsettled records (5,000 by default); past this many pairs (about 1 MB of
 * JSON) the rest are left out, and those tasks are only sent again.
 */
export const MAX_HANDOVER_DONE = 200_000;

/** A hand-over as stored: offsets below `end` are settled except `pending`. */
interface HandoverRecord {
  readonly v: 1;
  /**
   * Written when the owner let the partition go (its attempts in flight finished): the last
   * word. Otherwise a progress note the owner writes as it goes, for a successor after a crash.
   * Absent: final.
   */
  readonly final?: boolean;
  readonly end: number;
  readonly pending: readonly number[];
  /** Subscription ids `done` refers to by position. */
  readonly subscriptions: readonly string[];
  /** For a pending record: the positions of the subscriptions whose tasks of it are settled. */
  readonly done: readonly (readonly [number, readonly number[]])[];
}

/**
 * What the previous owner of a partition had settled past its committed offset: the new owner
 * reads the partition from the committed offset and skips those tasks rather than sending them
 * again (SPEC §6, no duplicates without failures). Everything it says is settled for good
 * (delivered, dead-lettered, parked in Redis, or dropped with its subscription), so an old
 * hand-over is never wrong, only less complete.
 */
export class PartitionHandover {
  private constructor(
    /** Written as the owner let the partition go, not as a progress note (see HandoverRecord). */
    readonly final: boolean,
    /** Offsets from here on were never read by the owner that wrote it. */
    readonly end: number,
    private readonly pending: ReadonlySet<number>,
    private readonly done: ReadonlyMap<number, readonly string[]>,
  ) {}

  /** The hand-over's text, or null when it is not one this version wrote. */
  static decode(text: string): PartitionHandover | null {
    let record: HandoverRecord;
    try {
      record = JSON.parse(text) as HandoverRecord;
    } catch {
      return null;
    }
    if (
      record?.v !== 1 ||
      !Number.isSafeInteger(record.end) ||
      !Array.isArray(record.pending) ||
      !Array.isArray(record.subscriptions) ||
      !Array.isArray(record.done) ||
      !record.pending.every((offset) => Number.isSafeInteger(offset)) ||
      !record.subscriptions.every((id) => typeof id === 'string')
    )
      return null;
    const done = new Map<number, string[]>();
    for (const entry of record.done as unknown[]) {
      if (!Array.isArray(entry)) return null;
      const [offset, positions] = entry as unknown[];
      if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || !Array.isArray(positions))
        return null;
      const ids: string[] = [];
      for (const position of positions as unknown[]) {
        const id = typeof position === 'number' ? record.subscriptions[position] : undefined;
        if (id === undefined) return null;
        ids.push(id);
      }
      done.set(offset, ids);
    }
    return new PartitionHandover(record.final !== false, record.end, new Set(record.pending), done);
  }

  /**
   * The hand-over for the next owner: `own` (this owner's reading) over what it inherited, for
   * the records it never reached. One that read nothing and inherited nothing settles nothing
   * (`end` 0), and is still written: the next owner waits for it.
   */
  static encode(
    own: TrackerSnapshot,
    inherited: PartitionHandover | undefined,
    { final = true, maxDone = MAX_HANDOVER_DONE }: { final?: boolean; maxDone?: number } = {},
  ): { text: string; end: number; pending: number; leftOut: number } {
    const ownEnd = own.end ?? 0;
    const pending = [...own.pending];
    const done = new Map(own.done);
    let end = ownEnd;
    if (inherited && inherited.end > ownEnd) {
      end = inherited.end;
      for (const offset of [...inherited.pending].sort((a, b) => a - b))
        if (offset >= ownEnd) pending.push(offset);
      for (const [offset, ids] of inherited.done) if (offset >= ownEnd) done.set(offset, [...ids]);
    }
    const positions = new Map<string, number>();
    const entries: [number, number[]][] = [];
    let named = 0;
    let leftOut = 0;
    for (const [offset, ids] of done) {
      if (named + ids.length > maxDone) {
        leftOut += ids.length;
        continue;
      }
      named += ids.length;
      entries.push([
        offset,
        ids.map((id) => {
          let position = positions.get(id);
          if (position === undefined) {
            position = positions.size;
            positions.set(id, position);
          }
          return position;
        }),
      ]);
    }
    const record: HandoverRecord = {
      v: 1,
      final,
      end,
      pending,
      subscriptions: [...positions.keys()],
      done: entries,
    };
    return { text: JSON.stringify(record), end, pending: pending.length, leftOut };
  }

  /** True when the record at `offset` was settled, every task of it. */
  settled(offset: number): boolean {
    return offset < this.end && !this.pending.has(offset);
  }

  /** The subscriptions whose tasks of a pending record were settled, if any. */
  doneFor(offset: number): readonly string[] | undefined {
    return this.done.get(offset);
  }
}
