import { ConcurrencyLimit } from './concurrency-limit';

/** Runs rounds against an endpoint whose latency is `latencyOf(limit)`, the lane always busy. */
function drive(limit: ConcurrencyLimit, latencyOf: (inFlight: number) => number, rounds: number) {
  const seen: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const size = Math.max(limit.limit, 10);
    for (let i = 0; i < size; i++) {
      limit.noteLimited();
      limit.sample(latencyOf(limit.limit));
    }
    seen.push(limit.limit);
  }
  return seen;
}

describe('ConcurrencyLimit', () => {
  it('starts at its floor and doubles while latency does not rise, up to its maximum', () => {
    const limit = new ConcurrencyLimit(256, 8);
    expect(limit.limit).toBe(8);
    // A remote endpoint: 50 ms whatever the load.
    const seen = drive(limit, () => 50, 12);
    expect(seen.slice(0, 5)).toEqual([16, 32, 64, 128, 256]);
    expect(limit.limit).toBe(256);
  });

  it('settles where a receiver that serves 10 at a time queues only a few', () => {
    const limit = new ConcurrencyLimit(1024, 4);
    // Serves 10 at once in 1 ms; more wait their turn.
    const seen = drive(limit, (inFlight) => Math.max(1, inFlight / 10), 200);
    const settled = seen.slice(-50);
    expect(Math.max(...settled)).toBeLessThanOrEqual(24);
    expect(Math.min(...settled)).toBeGreaterThanOrEqual(10);
  });

  it('cuts back when latency rises with the load, and tells of the cut', () => {
    const cuts: [number, number][] = [];
    const limit = new ConcurrencyLimit(512, 8, (from, to) => cuts.push([from, to]));
    drive(limit, () => 20, 10);
    expect(limit.limit).toBe(512);
    // The endpoint starts queueing: 2 ms a request beyond 40 at once.
    drive(limit, (inFlight) => 20 + Math.max(0, inFlight - 40) * 2, 40);
    expect(limit.limit).toBeLessThan(80);
    expect(cuts.length).toBeGreaterThan(0);
    expect(cuts[0]![0]).toBe(512);
  });

  it('takes latency that varies by itself, not with the load, for no queue', () => {
    const limit = new ConcurrencyLimit(512, 8);
    // A remote endpoint: 35 to 65 ms whatever the load (a fixed pseudo-random sequence).
    let seed = 42;
    const noisy = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return 35 + (30 * seed) / 2 ** 31;
    };
    drive(limit, noisy, 300);
    expect(limit.limit).toBe(512);
  });

  it('does not grow while the lanes have no more work than it allows', () => {
    const limit = new ConcurrencyLimit(256, 8);
    for (let i = 0; i < 1000; i++) limit.sample(50);
    expect(limit.limit).toBe(8);
  });

  it('never goes below its floor, however slow the endpoint turns', () => {
    const limit = new ConcurrencyLimit(256, 8);
    drive(limit, () => 10, 10);
    drive(limit, () => 15_000, 20); // timeouts
    expect(limit.limit).toBe(8);
  });

  it('with the floor at the maximum, never changes', () => {
    const limit = new ConcurrencyLimit(64, 64);
    drive(limit, (inFlight) => inFlight * 10, 20);
    expect(limit.limit).toBe(64);
  });
});
