/**
 * One partition's read-but-unsettled records. Records are added in offset order with the number
 * of delivery tasks made from them; a record is settled once each of its tasks is (delivered,
 * dead-lettered, durably parked or dropped). The committable offset is the first unsettled one:
 * everything below it is done, so a crash after committing it loses nothing, and work done past
 * it is only redone.
 */
export class OffsetTracker {
  private readonly order: number[] = [];
  private head = 0;
  private readonly remaining = new Map<number, number>();
  private nextOffset: number | undefined;

  /** True when `offset` was already added (Kafka hands it again after the group rejoins). */
  seen(offset: number): boolean {
    return this.nextOffset !== undefined && offset < this.nextOffset;
  }

  /** Adds a record with its number of tasks (0: settled at once). Offsets must increase. */
  add(offset: number, tasks: number): void {
    if (this.seen(offset)) throw new RangeError(`offset ${offset} was already added`);
    this.nextOffset = offset + 1;
    if (tasks <= 0) {
      this.compact();
      return;
    }
    this.order.push(offset);
    this.remaining.set(offset, tasks);
  }

  /** One task of the record at `offset` is settled. */
  settle(offset: number): void {
    const left = this.remaining.get(offset);
    if (left === undefined) return;
    if (left > 1) this.remaining.set(offset, left - 1);
    else {
      this.remaining.delete(offset);
      this.compact();
    }
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

  private compact(): void {
    while (this.head < this.order.length && !this.remaining.has(this.order[this.head]!))
      this.head++;
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order.splice(0, this.head);
      this.head = 0;
    }
  }
}
