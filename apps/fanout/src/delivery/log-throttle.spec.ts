import { LogThrottle } from './log-throttle';

describe('LogThrottle', () => {
  it('lets one line a key through each interval', () => {
    let now = 1_000;
    const throttle = new LogThrottle(60_000, () => now);
    expect(throttle.due('sub_a')).toBe(true);
    expect(throttle.due('sub_a')).toBe(false);
    // Each key has its own interval, and no key is one of its own.
    expect(throttle.due('sub_b')).toBe(true);
    expect(throttle.due()).toBe(true);
    now += 59_999;
    expect(throttle.due('sub_a')).toBe(false);
    expect(throttle.due()).toBe(false);
    now += 1;
    expect(throttle.due('sub_a')).toBe(true);
    expect(throttle.due()).toBe(true);
    expect(throttle.due('sub_a')).toBe(false);
  });

  it('forgets its keys rather than grow past its bound', () => {
    const now = 0;
    const throttle = new LogThrottle(60_000, () => now, 3);
    for (const key of ['a', 'b', 'c']) expect(throttle.due(key)).toBe(true);
    expect(throttle.due('a')).toBe(false);
    // A fourth key clears the others: each may log once more.
    expect(throttle.due('d')).toBe(true);
    expect(throttle.due('a')).toBe(true);
    expect(throttle.due('d')).toBe(false);
  });
});
