import { OffsetTracker } from './offset-tracker';
import { PartitionHandover } from './partition-handover';

/** A tracker that read 100..109, settled all but 103 and 107, and one task of 107. */
function trackerWithWork(): OffsetTracker {
  const tracker = new OffsetTracker();
  for (let offset = 100; offset < 110; offset++) tracker.add(offset, offset === 107 ? 2 : 1);
  for (let offset = 100; offset < 110; offset++)
    if (offset !== 103 && offset !== 107) tracker.settle(offset, 'sub_a');
  tracker.settle(107, 'sub_b');
  return tracker;
}

function roundTrip(text: string): PartitionHandover {
  const decoded = PartitionHandover.decode(text);
  if (!decoded) throw new Error('did not decode');
  return decoded;
}

describe('PartitionHandover', () => {
  it('says which records, and which tasks of a record, the previous owner settled', () => {
    const encoded = PartitionHandover.encode(trackerWithWork().snapshot(), undefined);
    expect(encoded).toMatchObject({ pending: 2, leftOut: 0 });
    const handover = roundTrip(encoded.text);
    expect(handover.end).toBe(110);
    // Below the committed offset (100) and past it, all settled but the two pending records.
    expect([42, 99, 100, 102, 104, 109].every((offset) => handover.settled(offset))).toBe(true);
    expect(handover.settled(103)).toBe(false);
    expect(handover.settled(107)).toBe(false);
    // Never read by that owner.
    expect(handover.settled(110)).toBe(false);
    expect(handover.doneFor(107)).toEqual(['sub_b']);
    expect(handover.doneFor(103)).toBeUndefined();
  });

  it('passes on what it inherited for the records the next owner never reached', () => {
    const inherited = roundTrip(
      PartitionHandover.encode(trackerWithWork().snapshot(), undefined).text,
    );
    // The next owner read 100..104 only, skipping what was settled, and settled 103 itself.
    const next = new OffsetTracker();
    for (let offset = 100; offset < 105; offset++)
      next.add(offset, inherited.settled(offset) ? 0 : 1);
    next.settle(103, 'sub_a');
    const merged = roundTrip(PartitionHandover.encode(next.snapshot(), inherited).text);
    expect(merged.end).toBe(110);
    expect(merged.settled(103)).toBe(true);
    expect(merged.settled(105)).toBe(true);
    expect(merged.settled(107)).toBe(false);
    expect(merged.doneFor(107)).toEqual(['sub_b']);
  });

  it('settles nothing when nothing was read or inherited', () => {
    const encoded = PartitionHandover.encode(new OffsetTracker().snapshot(), undefined);
    expect(encoded).toMatchObject({ end: 0, pending: 0 });
    expect(roundTrip(encoded.text).settled(0)).toBe(false);
  });

  it('names a subscription keeping pace in one run, and leaves out the runs past its bound', () => {
    const tracker = new OffsetTracker();
    // sub_a settled every pending record (one run, across the settled 102); sub_b every other
    // (one run each).
    for (let offset = 100; offset < 106; offset++) tracker.add(offset, offset === 102 ? 1 : 3);
    tracker.settle(102, 'sub_a');
    for (const offset of [100, 101, 103, 104, 105]) tracker.settle(offset, 'sub_a');
    for (const offset of [100, 103, 105]) tracker.settle(offset, 'sub_b');
    const whole = roundTrip(PartitionHandover.encode(tracker.snapshot(), undefined).text);
    expect(whole.doneFor(101)).toEqual(['sub_a']);
    expect(whole.doneFor(103)).toEqual(['sub_a', 'sub_b']);
    expect(whole.settled(102)).toBe(true);
    // Room for two runs: sub_a's one and sub_b's first; sub_b's other two (two tasks) are left out.
    const bounded = PartitionHandover.encode(tracker.snapshot(), undefined, { maxRuns: 2 });
    expect(bounded.leftOut).toBe(2);
    const handover = roundTrip(bounded.text);
    expect(handover.doneFor(100)).toEqual(['sub_a', 'sub_b']);
    expect(handover.doneFor(105)).toEqual(['sub_a']);
  });

  it.each([
    ['not JSON', '{'],
    [
      'another version',
      JSON.stringify({ v: 1, final: true, end: 5, pending: [], subscriptions: [], done: [] }),
    ],
    [
      'a bad end',
      JSON.stringify({ v: 2, final: true, end: '5', pending: [], subscriptions: [], done: [] }),
    ],
    [
      'a bad offset',
      JSON.stringify({ v: 2, final: true, end: 5, pending: [1.5], subscriptions: [], done: [] }),
    ],
    [
      'a run past its pending records',
      JSON.stringify({
        v: 2,
        final: true,
        end: 5,
        pending: [1],
        subscriptions: ['a'],
        done: [[0, [0, 1]]],
      }),
    ],
    [
      'a subscription it does not list',
      JSON.stringify({
        v: 2,
        final: true,
        end: 5,
        pending: [1],
        subscriptions: ['a'],
        done: [[3, [0, 0]]],
      }),
    ],
    ['null', 'null'],
  ])('refuses a stored text with %s', (_what, text) => {
    expect(PartitionHandover.decode(text)).toBeNull();
  });
});
