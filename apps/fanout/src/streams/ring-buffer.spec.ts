import { RingBuffer } from './ring-buffer';

describe('RingBuffer', () => {
  it('numbers items and keeps the newest maxItems', () => {
    const evicted: string[] = [];
    const ring = new RingBuffer<string>(3, Infinity, (item) => evicted.push(item));
    expect(['a', 'b', 'c', 'd', 'e'].map((item) => ring.push(item))).toEqual([0, 1, 2, 3, 4]);
    expect(ring.oldestSeq).toBe(2);
    expect(ring.nextSeq).toBe(5);
    expect(ring.length).toBe(3);
    expect([1, 2, 3, 4, 5].map((seq) => ring.get(seq))).toEqual([
      undefined,
      'c',
      'd',
      'e',
      undefined,
    ]);
    expect(evicted).toEqual(['a', 'b']);
  });

  it('evicts by total size too, but always keeps the newest item', () => {
    const ring = new RingBuffer<string>(100, 10);
    ring.push('a', 4);
    ring.push('b', 4);
    expect(ring.length).toBe(2);
    ring.push('c', 4);
    expect(ring.oldestSeq).toBe(1);
    expect(ring.byteSize).toBe(8);
    ring.push('huge', 50);
    expect(ring.length).toBe(1);
    expect(ring.get(3)).toBe('huge');
  });

  it('is empty at first', () => {
    const ring = new RingBuffer<number>(2);
    expect(ring.oldestSeq).toBe(ring.nextSeq);
    expect(ring.get(0)).toBeUndefined();
    expect(() => new RingBuffer(0)).toThrow(RangeError);
  });

  it('cuts: evicts everything and leaves a number unused, so even a reader at the end is behind', () => {
    const evicted: string[] = [];
    const ring = new RingBuffer<string>(10, Number.POSITIVE_INFINITY, (item) => evicted.push(item));
    ring.push('a');
    ring.push('b');
    const atEnd = ring.nextSeq;
    ring.cut();
    expect(evicted).toEqual(['a', 'b']);
    expect(ring.length).toBe(0);
    expect(atEnd).toBeLessThan(ring.oldestSeq);
    expect(ring.push('c')).toBe(ring.oldestSeq);
    expect(ring.get(ring.oldestSeq)).toBe('c');
  });
});
