import type { TrackerSnapshot } from './offset-tracker';

/**
 * How many runs of settled tasks a hand-over names at most (a run: one subscription's tasks of
 * consecutive pending records). A partition holds at most its backlog bound of unsettled records
 * (5,000 by default), and a subscription that keeps pace has its tasks settled in a run or a
 * few; past this many runs the rest are left out, and those tasks are only sent again.
 */
export const MAX_HANDOVER_RUNS = 200_000;

/** A hand-over as stored: offsets below `end` are settled except `pending`. */
interface HandoverRecord {
  readonly v: 2;
  /**
   * Written when the owner let the partition go (its attempts in flight finished): the last
   * word. Otherwise a progress note the owner writes as it goes, for a successor after a crash.
   */
  readonly final: boolean;
  readonly end: number;
  /** Ascending. */
  readonly pending: readonly number[];
  /** Subscription ids `done` refers to by position. */
  readonly subscriptions: readonly string[];
  /**
   * For a subscription (by position), the pending records whose task for it is settled: runs of
   * them as first and last index into `pending`, flattened (`[first, last, first, last, …]`).
   */
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
      record?.v !== 2 ||
      typeof record.final !== 'boolean' ||
      !Number.isSafeInteger(record.end) ||
      !Array.isArray(record.pending) ||
      !Array.isArray(record.subscriptions) ||
      !Array.isArray(record.done) ||
      !record.pending.every((offset) => Number.isSafeInteger(offset)) ||
      !record.subscriptions.every((id) => typeof id === 'string')
    )
      return null;
    // (Array.isArray above took them for any[].)
    const pending = record.pending as readonly number[];
    const subscriptions = record.subscriptions as readonly string[];
    const done = new Map<number, string[]>();
    for (const entry of record.done as unknown[]) {
      if (!Array.isArray(entry)) return null;
      const [position, runs] = entry as unknown[];
      const id = typeof position === 'number' ? subscriptions[position] : undefined;
      if (id === undefined || !Array.isArray(runs) || runs.length % 2 !== 0) return null;
      for (let r = 0; r < runs.length; r += 2) {
        const [first, last] = [runs[r] as unknown, runs[r + 1] as unknown];
        if (
          typeof first !== 'number' ||
          typeof last !== 'number' ||
          !Number.isInteger(first) ||
          !Number.isInteger(last) ||
          first < 0 ||
          last < first ||
          last >= pending.length
        )
          return null;
        for (let i = first; i <= last; i++) {
          const offset = pending[i]!;
          const ids = done.get(offset);
          if (ids) ids.push(id);
          else done.set(offset, [id]);
        }
      }
    }
    return new PartitionHandover(record.final, record.end, new Set(pending), done);
  }

  /**
   * The hand-over for the next owner: `own` (this owner's reading) over what it inherited, for
   * the records it never reached. One that read nothing and inherited nothing settles nothing
   * (`end` 0), and is still written: the next owner waits for it.
   */
  static encode(
    own: TrackerSnapshot,
    inherited: PartitionHandover | undefined,
    { final = true, maxRuns = MAX_HANDOVER_RUNS }: { final?: boolean; maxRuns?: number } = {},
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
    // Each subscription's settled tasks, as indexes into `pending`.
    const indexOf = new Map(pending.map((offset, i) => [offset, i]));
    const settledAt = new Map<string, number[]>();
    for (const [offset, ids] of done) {
      const index = indexOf.get(offset);
      if (index === undefined) continue;
      for (const id of ids) {
        const indexes = settledAt.get(id);
        if (indexes) indexes.push(index);
        else settledAt.set(id, [index]);
      }
    }
    const subscriptions: string[] = [];
    const entries: [number, number[]][] = [];
    let runsNamed = 0;
    let leftOut = 0;
    for (const [id, indexes] of settledAt) {
      indexes.sort((a, b) => a - b);
      const runs: number[] = [];
      for (let i = 0; i < indexes.length; i++) {
        const first = indexes[i]!;
        while (i + 1 < indexes.length && indexes[i + 1] === indexes[i]! + 1) i++;
        if (runsNamed >= maxRuns) {
          leftOut += indexes[i]! - first + 1;
          continue;
        }
        runs.push(first, indexes[i]!);
        runsNamed += 1;
      }
      if (runs.length === 0) continue;
      entries.push([subscriptions.length, runs]);
      subscriptions.push(id);
    }
    const record: HandoverRecord = { v: 2, final, end, pending, subscriptions, done: entries };
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
