/**
 * Where a partition's reading stands: every offset below `end` is settled except those in
 * `pending`, and `done` names, for a pending record, the subscriptions whose tasks are settled.
 */
export interface TrackerSnapshot {
  /** The offset after the last record added (undefined before the first). */
  readonly end: number | undefined;
  /** Offsets read and not yet settled, ascending. */
  readonly pending: readonly number[];
  readonly done: ReadonlyMap<number, readonly string[]>;
}

/**
 * One partition's read-but-unsettled records. Records are added in offset order with the number
 * of delivery tasks made from them; a record is settled once each of its tasks is (delivered,
 * dead-lettered, durably parked or dropped). The committable offset is the first unsettled one:
 * everything below it is done, so a crash after committing it loses nothing, and work done past
 * it is only redone. What is settled past it is known too (`snapshot`), for handing the
 * partition over to another instance without sending that work again.
 */
export class OffsetTracker {
  private readonly order: number[] = [];
  private head = 0;
  private readonly remaining = new Map<number, number>();
  /** For a record with some tasks settled and some not: the settled tasks' subscriptions. */
  private readonly done = new Map<number, string[]>();
  /**
   * By subscription: its tasks given and not yet settled, and the offset of the last record it
   * was given one of (see holdingBack).
   */
  private readonly readers = new Map<string, { unsettled: number; lastOffset: number }>();
  private nextOffset: number | undefined;

  /** True when `offset` was already added (Kafka hands it again after the group rejoins). */
  seen(offset: number): boolean {
    return this.nextOffset !== undefined && offset < this.nextOffset;
  }

  /**
   * Adds a record with its number of tasks still to settle (0: settled at once); `done` names
   * subscriptions whose tasks of it a previous owner settled. Offsets must increase.
   */
  add(offset: number, tasks: number, done?: readonly string[]): void {
    if (this.seen(offset)) throw new RangeError(`offset ${offset} was already added`);
    this.nextOffset = offset + 1;
    if (tasks <= 0) {
      this.compact();
      return;
    }
    this.order.push(offset);
    this.remaining.set(offset, tasks);
    if (done !== undefined && done.length > 0) this.done.set(offset, [...done]);
  }

  /** `tasks` more tasks of the pending record at `offset` to settle (it was routed again). */
  addTasks(offset: number, tasks: number): void {
    const left = this.remaining.get(offset);
    if (left === undefined) throw new RangeError(`offset ${offset} is not pending`);
    this.remaining.set(offset, left + tasks);
  }

  /** One task of the record at `offset`, for `subscriptionId`, is settled. */
  settle(offset: number, subscriptionId: string): void {
    const left = this.remaining.get(offset);
    if (left === undefined) return;
    const reader = this.readers.get(subscriptionId);
    if (reader !== undefined && reader.unsettled > 0) reader.unsettled -= 1;
    if (left > 1) {
      this.remaining.set(offset, left - 1);
      const done = this.done.get(offset);
      if (done) done.push(subscriptionId);
      else this.done.set(offset, [subscriptionId]);
    } else {
      this.remaining.delete(offset);
      this.done.delete(offset);
      this.compact();
    }
  }

  /** Where reading stands, past the committable offset included. */
  snapshot(): TrackerSnapshot {
    this.compact();
    const pending: number[] = [];
    for (let i = this.head; i < this.order.length; i++) {
      const offset = this.order[i]!;
      if (this.remaining.has(offset)) pending.push(offset);
    }
    return { end: this.nextOffset, pending, done: new Map(this.done) };
  }

  /** The offset to commit (the first not settled), or undefined before the first record. */
  committable(): number | undefined {
    this.compact();
    return this.order[this.head] ?? this.nextOffset;
  }

  /** Records read but not yet settled. */
  backlog(): number {
    return this.remaining.size;
  }

  /** One task of the pending record at `offset` was given to `subscriptionId` (see holdingBack). */
  given(subscriptionId: string, offset: number): void {
    const reader = this.readers.get(subscriptionId);
    if (reader === undefined)
      this.readers.set(subscriptionId, { unsettled: 1, lastOffset: offset });
    else {
      reader.unsettled += 1;
      reader.lastOffset = offset;
    }
  }

  /**
   * The subscriptions holding the partition's reading back: each with at least `least` tasks
   * of it unsettled, and more than twice as many as another subscription reading it has (one
   * that keeps up, or at least goes twice as fast). A subscription reads it while it has tasks
   * unsettled or was given a record from the first pending one on; one that has neither (long
   * deleted, or its types no longer on this partition) is forgotten here. None when one
   * subscription alone reads it, or when those that do are about as far behind as each other.
   */
  holdingBack(least: number): string[] {
    const oldest = this.committable();
    let fewest = Infinity;
    for (const [subscriptionId, reader] of this.readers) {
      if (reader.unsettled === 0 && (oldest === undefined || reader.lastOffset < oldest))
        this.readers.delete(subscriptionId);
      else fewest = Math.min(fewest, reader.unsettled);
    }
    const behind: string[] = [];
    for (const [subscriptionId, reader] of this.readers)
      if (reader.unsettled >= least && reader.unsettled > 2 * fewest) behind.push(subscriptionId);
    return behind;
  }

  private compact(): void {
    while (this.head < this.order.length && !this.remaining.has(this.order[this.head]!))
      this.head++;
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order.splice(0, this.head);
      this.head = 0;
    }
  }
}
