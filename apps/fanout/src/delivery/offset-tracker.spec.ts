import { OffsetTracker } from './offset-tracker';

describe('OffsetTracker', () => {
  it('commits only below the first unsettled record', () => {
    const tracker = new OffsetTracker();
    expect(tracker.committable()).toBeUndefined();
    tracker.add(10, 2);
    tracker.add(11, 0);
    tracker.add(12, 1);
    expect(tracker.committable()).toBe(10);
    tracker.settle(12);
    expect(tracker.committable()).toBe(10);
    tracker.settle(10);
    expect(tracker.committable()).toBe(10);
    tracker.settle(10);
    expect(tracker.committable()).toBe(13);
    expect(tracker.backlog()).toBe(0);
  });

  it('skips gaps in offsets and ignores settling unknown offsets', () => {
    const tracker = new OffsetTracker();
    tracker.add(3, 1);
    tracker.add(7, 1);
    tracker.settle(5);
    tracker.settle(3);
    expect(tracker.committable()).toBe(7);
    tracker.settle(7);
    expect(tracker.committable()).toBe(8);
  });

  it('recognises records read again after a rejoin', () => {
    const tracker = new OffsetTracker();
    tracker.add(0, 1);
    tracker.add(1, 1);
    expect(tracker.seen(1)).toBe(true);
    expect(tracker.seen(2)).toBe(false);
    expect(() => tracker.add(1, 1)).toThrow(RangeError);
  });

  it('stays correct over many records settled out of order', () => {
    const tracker = new OffsetTracker();
    const offsets = Array.from({ length: 5000 }, (_, i) => i);
    for (const offset of offsets) tracker.add(offset, 1);
    const shuffled = [...offsets].sort(() => Math.random() - 0.5);
    const settled = new Set<number>();
    for (const offset of shuffled) {
      tracker.settle(offset);
      settled.add(offset);
      let expected = 0;
      while (settled.has(expected)) expected++;
      if (offset % 97 === 0) expect(tracker.committable()).toBe(expected);
    }
    expect(tracker.committable()).toBe(5000);
  });
});
