import { ConcurrencyLimit } from './concurrency-limit';

/**
 * Runs rounds against an endpoint whose latency is `latencyOf(limit, round)`, the lane always
 * busy.
 */
function drive(
  limit: ConcurrencyLimit,
  latencyOf: (inFlight: number, round: number) => number,
  rounds: number,
) {
  const seen: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const size = Math.max(limit.limit, 10);
    for (let i = 0; i < size; i++) {
      limit.noteLimited();
      limit.sample(latencyOf(limit.limit, round));
    }
    seen.push(limit.limit);
  }
  return seen;
}

/**
 * Lanes that always have work, sending to a receiver that serves `servers` requests at once, each
 * in `serviceMs(nowMs)`, the others waiting their turn: an attempt's latency is its wait and its
 * service. Attempts in flight when the limit changes come back as they would (in simulated time).
 * Returns each change of the limit, with the time of the attempt's end that made it.
 */
function serve(
  limit: ConcurrencyLimit,
  servers: number,
  serviceMs: (nowMs: number) => number,
  durationMs: number,
) {
  const freeAt: number[] = new Array<number>(servers).fill(0);
  const ends = new MinHeap();
  const changes: Change[] = [{ atMs: 0, limit: limit.limit }];
  let inFlight = 0;
  const send = (nowMs: number) => {
    for (; inFlight < limit.limit; inFlight++) {
      let server = 0;
      for (let i = 1; i < servers; i++) if (freeAt[i]! < freeAt[server]!) server = i;
      const startMs = Math.max(nowMs, freeAt[server]!);
      freeAt[server] = startMs + serviceMs(startMs);
      ends.push(freeAt[server]!, nowMs);
    }
    limit.noteLimited();
  };
  send(0);
  for (;;) {
    const [atMs, sentMs] = ends.pop();
    if (atMs > durationMs) return changes;
    inFlight -= 1;
    limit.sample(atMs - sentMs);
    if (limit.limit !== changes[changes.length - 1]!.limit)
      changes.push({ atMs, limit: limit.limit });
    send(atMs);
  }
}

interface Change {
  readonly atMs: number;
  readonly limit: number;
}

/** The limits in force between `fromMs` and `toMs`. */
function between(changes: Change[], fromMs: number, toMs = Infinity): number[] {
  const first = changes.findLastIndex(({ atMs }) => atMs <= fromMs);
  return changes
    .slice(first)
    .filter(({ atMs }) => atMs < toMs)
    .map(({ limit }) => limit);
}

/** Pairs ordered by their first number. */
class MinHeap {
  private readonly items: [number, number][] = [];

  push(key: number, value: number): void {
    const items = this.items;
    items.push([key, value]);
    for (let i = items.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (items[parent]![0] <= items[i]![0]) break;
      [items[parent], items[i]] = [items[i]!, items[parent]!];
      i = parent;
    }
  }

  pop(): [number, number] {
    const items = this.items;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length === 0) return top;
    items[0] = last;
    for (let i = 0; ;) {
      let least = i;
      for (const child of [2 * i + 1, 2 * i + 2])
        if (child < items.length && items[child]![0] < items[least]![0]) least = child;
      if (least === i) return top;
      [items[least], items[i]] = [items[i]!, items[least]!];
      i = least;
    }
  }
}

/** A fixed pseudo-random sequence in [0, 1). */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
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

  it('takes an endpoint that got slower whatever the load for unloaded again, and grows back', () => {
    const cuts: [number, number][] = [];
    const rebases: [number, number, number][] = [];
    const limit = new ConcurrencyLimit(1024, 32, (from, to) => cuts.push([from, to]), {
      onRebase: (fromMs, toMs, to) => rebases.push([fromMs, toMs, to]),
    });
    drive(limit, () => 5, 10);
    expect(limit.limit).toBe(1024);
    // Its database went from 5 to 50 ms a request, however many we send.
    const seen = drive(limit, () => 50, 30);
    // Two cuts test it (the attempts in flight at each are not judged), then they are undone.
    expect(cuts).toEqual([
      [1024, 512],
      [512, 256],
    ]);
    expect(rebases).toEqual([[5, 50, 1024]]);
    expect(Math.min(...seen)).toBe(256);
    expect(seen.slice(8)).toEqual(new Array(22).fill(1024));
  });

  it('takes an endpoint that got slower for unloaded again also when it was at its floor', () => {
    const rebases: number[] = [];
    const limit = new ConcurrencyLimit(1024, 32, undefined, {
      onRebase: (_fromMs, toMs) => rebases.push(toMs),
    });
    // The lanes had no more work than the floor allows.
    for (let i = 0; i < 1000; i++) limit.sample(5);
    expect(limit.limit).toBe(32);
    // It got slower, and the lanes then got busy: a cut cannot test it, the floor does.
    const seen = drive(limit, () => 50, 12);
    expect(rebases).toEqual([50]);
    expect(seen.slice(-4)).toEqual([1024, 1024, 1024, 1024]);
  });

  it('holds a receiver that queues near what it serves at once, however long it runs', () => {
    const rebases = jest.fn();
    const limit = new ConcurrencyLimit(1024, 32, undefined, { onRebase: rebases });
    // Serves 100 at once in 5 ms each (20,000 a second); more wait their turn.
    const changes = serve(limit, 100, () => 5, 20_000);
    // 150 in flight take 1.5 times the unloaded latency.
    const settled = between(changes, 1_000);
    expect(Math.min(...settled)).toBeGreaterThanOrEqual(100);
    expect(Math.max(...settled)).toBeLessThanOrEqual(160);
    expect(rebases).not.toHaveBeenCalled();
  });

  it('holds a receiver that got slower near what it serves at once then', () => {
    const limit = new ConcurrencyLimit(1024, 32);
    // 100 at once, 5 ms each, then 50 ms each from 2 s on (2,000 a second).
    const changes = serve(limit, 100, (nowMs) => (nowMs < 2_000 ? 5 : 50), 20_000);
    for (const settled of [between(changes, 1_000, 2_000), between(changes, 4_000)]) {
      expect(Math.min(...settled)).toBeGreaterThanOrEqual(100);
      expect(Math.max(...settled)).toBeLessThanOrEqual(160);
    }
  });

  it('does not take a few slow attempts for a queue', () => {
    const limit = new ConcurrencyLimit(1024, 32);
    // A remote endpoint: 20 to 30 ms, one attempt in 20 taking 500 ms, whatever the load.
    const next = random(42);
    const seen = drive(limit, () => (next() < 0.05 ? 500 : 20 + 10 * next()), 500);
    expect(seen.slice(5)).toEqual(new Array(495).fill(1024));
  });

  it('follows latency that wanders by itself without falling to its floor', () => {
    const limit = new ConcurrencyLimit(1024, 32);
    // Between 20 and 60 ms and back every 100 rounds, whatever the load.
    const seen = drive(
      limit,
      (_inFlight, round) => 40 + 20 * Math.sin((2 * Math.PI * round) / 100),
      500,
    );
    const settled = seen.slice(10);
    expect(Math.min(...settled)).toBeGreaterThanOrEqual(256);
    expect(settled.reduce((sum, value) => sum + value, 0) / settled.length).toBeGreaterThan(900);
  });

  it('does not take an endpoint that hangs for a slower one, unless told it does not hang', () => {
    const hanging = new ConcurrencyLimit(256, 8);
    const told = new ConcurrencyLimit(256, 8, undefined, { hangingMs: 60_000 });
    for (const limit of [hanging, told]) {
      drive(limit, () => 10, 10);
      drive(limit, () => 15_000, 40); // timeouts
    }
    expect(hanging.limit).toBe(8);
    expect(told.limit).toBe(256);
  });

  it('with the floor at the maximum, never changes', () => {
    const limit = new ConcurrencyLimit(64, 64);
    drive(limit, (inFlight) => inFlight * 10, 20);
    expect(limit.limit).toBe(64);
  });
});
