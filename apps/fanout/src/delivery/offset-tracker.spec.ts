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

  it('names the subscriptions holding it back: far behind another one reading it, never one alone', () => {
    const tracker = new OffsetTracker();
    const give = (offset: number, subscriptions: string[]) => {
      tracker.add(offset, subscriptions.length);
      for (const id of subscriptions) tracker.given(id, offset);
    };
    // Another subscription read it once and is done: it reads none of what is pending now.
    give(0, ['sub_gone']);
    tracker.settle(0, 'sub_gone');
    // One subscription alone: its backlog is the partition's, kept in Kafka.
    for (let offset = 1; offset < 10; offset++) give(offset, ['sub_slow']);
    expect(tracker.holdingBack(4)).toEqual([]);
    // Another one reads it too (another type of the topic) and keeps up.
    for (let offset = 10; offset < 14; offset++) give(offset, ['sub_fast']);
    for (let offset = 10; offset < 14; offset++) tracker.settle(offset, 'sub_fast');
    expect(tracker.holdingBack(4)).toEqual(['sub_slow']);
    // Below the least that counts (a quarter of the bound, say): not holding it back.
    expect(tracker.holdingBack(11)).toEqual([]);
    // Both given the same records and about as far behind: going at one pace, neither is.
    const even = new OffsetTracker();
    for (let offset = 0; offset < 10; offset++) {
      even.add(offset, 2);
      even.given('sub_a', offset);
      even.given('sub_b', offset);
    }
    for (let offset = 0; offset < 4; offset++) even.settle(offset, 'sub_a');
    expect(even.holdingBack(4)).toEqual([]);
    // sub_a settles the rest: sub_b, with 10 left against none, holds it back.
    for (let offset = 4; offset < 10; offset++) even.settle(offset, 'sub_a');
    expect(even.holdingBack(4)).toEqual(['sub_b']);
    // A settle of a record not pending (settled already) counts for no one.
    even.settle(99, 'sub_b');
    expect(even.holdingBack(10)).toEqual(['sub_b']);
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
