import { TimeIndex } from './time-index';

describe('TimeIndex', () => {
  it('keeps only rising timestamps and finds the last entry strictly below a time', () => {
    const index = new TimeIndex();
    index.maybeAdd(100, 5);
    index.maybeAdd(100, 8);
    index.maybeAdd(90, 9);
    index.maybeAdd(200, 12);
    expect(index.entries).toBe(2);
    expect(index.lookup(50)).toBe(0);
    expect(index.lookup(100)).toBe(0);
    expect(index.lookup(101)).toBe(5);
    expect(index.lookup(200)).toBe(5);
    expect(index.lookup(201)).toBe(12);
    expect(index.lastTimestamp()).toBe(200);
  });

  it('round-trips through its file form and refuses torn files', () => {
    const index = new TimeIndex();
    index.maybeAdd(1_700_000_000_000, 0);
    index.maybeAdd(1_700_000_000_500, 40);
    const data = index.serialize();
    expect(data).toHaveLength(24);
    expect(TimeIndex.parse(data, 41)!.lookup(1_700_000_000_600)).toBe(40);
    expect(TimeIndex.parse(data, 40)).toBeNull();
    expect(TimeIndex.parse(data.subarray(0, 13), 41)).toBeNull();
  });
});
