import { OffsetTracker } from './offset-tracker';

describe('OffsetTracker', () => {
  it('commits only below the first unsettled record', () => {
    const tracker = new OffsetTracker();
    expect(tracker.committable()).toBeUndefined();
    tracker.add(10, 2);
    tracker.add(11, 0);
    tracker.add(12, 1);
    expect(tracker.committable()).toBe(10);
    tracker.settle(12, 'sub_a');
    expect(tracker.committable()).toBe(10);
    tracker.settle(10, 'sub_a');
    expect(tracker.committable()).toBe(10);
    tracker.settle(10, 'sub_b');
    expect(tracker.committable()).toBe(13);
    expect(tracker.backlog()).toBe(0);
  });

  it('takes more tasks for a pending record, which then waits for them too', () => {
    const tracker = new OffsetTracker();
    tracker.add(4, 1);
    tracker.addTasks(4, 2);
    tracker.settle(4, 'check');
    tracker.settle(4, 'sub_a');
    expect(tracker.committable()).toBe(4);
    expect(tracker.snapshot().done.get(4)).toEqual(['check', 'sub_a']);
    tracker.settle(4, 'sub_b');
    expect(tracker.committable()).toBe(5);
    expect(() => tracker.addTasks(4, 1)).toThrow(RangeError);
  });

  it('skips gaps in offsets and ignores settling unknown offsets', () => {
    const tracker = new OffsetTracker();
    tracker.add(3, 1);
    tracker.add(7, 1);
    tracker.settle(5, 'sub_a');
    tracker.settle(3, 'sub_a');
    expect(tracker.committable()).toBe(7);
    tracker.settle(7, 'sub_a');
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
      tracker.settle(offset, 'sub_a');
      settled.add(offset);
      let expected = 0;
      while (settled.has(expected)) expected++;
      if (offset % 97 === 0) expect(tracker.committable()).toBe(expected);
    }
    expect(tracker.committable()).toBe(5000);
  });

  it('names the subscriptions ahead when most pending records wait on some subscriptions only', () => {
    const tracker = new OffsetTracker();
    // Four records, each for sub_a and sub_b; nothing settled: all wait on both alike.
    for (let offset = 0; offset < 4; offset++) tracker.add(offset, 2);
    expect(tracker.aheadOfBacklog()).toBeNull();
    // sub_a is done with one of four: still most wait on both.
    tracker.settle(0, 'sub_a');
    expect(tracker.aheadOfBacklog()).toBeNull();
    // Done with two of four: half wait on sub_b alone, and sub_a is done with the oldest.
    tracker.settle(1, 'sub_a');
    expect(tracker.aheadOfBacklog()).toEqual(['sub_a']);
    // The oldest settled for both, and sub_a done with the next two: the next pending one leads.
    tracker.settle(0, 'sub_b');
    tracker.settle(2, 'sub_a');
    expect(tracker.aheadOfBacklog()).toEqual(['sub_a']);
    // A later record partly settled while the oldest waits on all its subscriptions: no one is
    // ahead of it.
    const other = new OffsetTracker();
    other.add(0, 2);
    other.add(1, 2);
    other.settle(1, 'sub_b');
    expect(other.aheadOfBacklog()).toBeNull();
    expect(new OffsetTracker().aheadOfBacklog()).toBeNull();
  });

  it('knows what is settled past the committable offset, and which tasks of a record are', () => {
    const tracker = new OffsetTracker();
    expect(tracker.snapshot()).toEqual({ end: undefined, pending: [], done: new Map() });
    tracker.add(10, 3);
    tracker.add(11, 1);
    tracker.add(13, 0);
    tracker.add(14, 2, ['sub_z']);
    tracker.add(15, 1);
    tracker.settle(10, 'sub_a');
    tracker.settle(10, 'sub_b');
    tracker.settle(11, 'sub_a');
    tracker.settle(15, 'sub_a');
    expect(tracker.committable()).toBe(10);
    expect(tracker.snapshot()).toEqual({
      end: 16,
      pending: [10, 14],
      done: new Map([
        [10, ['sub_a', 'sub_b']],
        [14, ['sub_z']],
      ]),
    });
    tracker.settle(10, 'sub_c');
    tracker.settle(14, 'sub_a');
    expect(tracker.snapshot()).toEqual({
      end: 16,
      pending: [14],
      done: new Map([[14, ['sub_z', 'sub_a']]]),
    });
    tracker.settle(14, 'sub_b');
    expect(tracker.snapshot()).toEqual({ end: 16, pending: [], done: new Map() });
  });
});
