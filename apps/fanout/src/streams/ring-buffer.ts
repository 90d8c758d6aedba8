/**
 * A bounded FIFO whose items are numbered by a sequence that only grows: `push` appends and
 * evicts the oldest items while more than `maxItems` are held or their sizes sum to more than
 * `maxBytes` (the newest item always stays). Readers hold a sequence number and ask for what
 * follows it; a number below `oldestSeq` has been evicted.
 */
export class RingBuffer<T> {
  private readonly slots: (T | undefined)[];
  private readonly sizes: number[];
  private first = 0;
  private next = 0;
  private bytes = 0;

  constructor(
    readonly maxItems: number,
    readonly maxBytes = Number.POSITIVE_INFINITY,
    private readonly onEvict: (item: T) => void = () => undefined,
  ) {
    if (!Number.isInteger(maxItems) || maxItems < 1)
      throw new RangeError('maxItems must be a positive integer');
    this.slots = new Array<T | undefined>(maxItems);
    this.sizes = new Array<number>(maxItems).fill(0);
  }

  /** Sequence number of the oldest item held (equals `nextSeq` when empty). */
  get oldestSeq(): number {
    return this.first;
  }

  /** Sequence number the next pushed item gets. */
  get nextSeq(): number {
    return this.next;
  }

  get length(): number {
    return this.next - this.first;
  }

  get byteSize(): number {
    return this.bytes;
  }

  push(item: T, size = 0): number {
    if (this.length === this.maxItems) this.evictOldest();
    const seq = this.next++;
    this.slots[seq % this.maxItems] = item;
    this.sizes[seq % this.maxItems] = size;
    this.bytes += size;
    while (this.bytes > this.maxBytes && this.length > 1) this.evictOldest();
    return seq;
  }

  /**
   * Evicts every item and leaves one sequence number unused: every reader, one at the end
   * included, finds its next number evicted (below `oldestSeq`), as if it had fallen behind.
   */
  cut(): void {
    while (this.length > 0) this.evictOldest();
    this.next += 1;
    this.first = this.next;
  }

  /** The item numbered `seq`, or undefined when it was evicted or not written yet. */
  get(seq: number): T | undefined {
    if (seq < this.first || seq >= this.next) return undefined;
    return this.slots[seq % this.maxItems];
  }

  private evictOldest(): void {
    const slot = this.first % this.maxItems;
    const item = this.slots[slot];
    this.slots[slot] = undefined;
    this.bytes -= this.sizes[slot]!;
    this.sizes[slot] = 0;
    this.first++;
    if (item !== undefined) this.onEvict(item);
  }
}
