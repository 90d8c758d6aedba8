import { OffsetIndex } from './offset-index';

describe('OffsetIndex', () => {
  function indexOf(entries: [number, number][]): OffsetIndex {
    const index = new OffsetIndex();
    for (const [offset, position] of entries) index.add(offset, position);
    return index;
  }

  it('finds the position of the last entry at or before an offset by binary search', () => {
    const entries = Array.from({ length: 1000 }, (_, i): [number, number] => [
      10 * (i + 1),
      4096 * (i + 1),
    ]);
    const index = indexOf(entries);
    expect(index.lookup(0)).toBe(0);
    expect(index.lookup(9)).toBe(0);
    expect(index.lookup(10)).toBe(4096);
    expect(index.lookup(19)).toBe(4096);
    expect(index.lookup(5555)).toBe(4096 * 555);
    expect(index.lookup(10_000)).toBe(4096 * 1000);
    expect(index.lookup(1e9)).toBe(4096 * 1000);
  });

  it('round-trips through its file form and refuses torn or inconsistent files', () => {
    const index = indexOf([
      [3, 100],
      [9, 250],
      [20, 900],
    ]);
    const data = index.serialize();
    expect(data).toHaveLength(24);
    const parsed = OffsetIndex.parse(data, 1000, 30)!;
    expect([parsed.lookup(8), parsed.lookup(9), parsed.lookup(100)]).toEqual([100, 250, 900]);
    expect(OffsetIndex.parse(data.subarray(0, 20), 1000, 30)).toBeNull();
    expect(OffsetIndex.parse(data, 900, 30)).toBeNull();
    expect(OffsetIndex.parse(data, 1000, 20)).toBeNull();
    expect(
      OffsetIndex.parse(Buffer.concat([data.subarray(8), data.subarray(0, 8)]), 1000, 30),
    ).toBeNull();
  });
});
