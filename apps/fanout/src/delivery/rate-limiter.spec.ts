import { RateLimiter } from './rate-limiter';

describe('RateLimiter', () => {
  it('allows a burst of one second, then spreads requests at the rate', () => {
    const limiter = new RateLimiter(4, 0);
    expect([0, 0, 0, 0].map(() => limiter.take(0))).toEqual([0, 0, 0, 0]);
    expect(limiter.take(0)).toBe(250);
    expect(limiter.take(250)).toBe(0);
    expect(limiter.take(300)).toBe(200);
  });

  it('handles rates below one per second', () => {
    const limiter = new RateLimiter(0.5, 0);
    expect(limiter.take(0)).toBe(0);
    expect(limiter.take(1000)).toBe(1000);
    expect(limiter.take(2000)).toBe(0);
  });
});
