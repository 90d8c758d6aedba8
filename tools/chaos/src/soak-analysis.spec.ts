import { memoryTrend } from './soak-analysis';

const MIB = 1024 * 1024;

/** One sample every 10 s for an hour, RSS from `rss(t)` in MiB. */
function series(rss: (t: number) => number) {
  return Array.from({ length: 361 }, (_, i) => ({ t: i * 10, rssBytes: rss(i * 10) * MIB }));
}

describe('memoryTrend', () => {
  it('calls a flat series with noise and a warm-up climb flat', () => {
    const trend = memoryTrend(
      'fanout',
      series((t) => (t < 600 ? 200 + t / 10 : 260) + Math.sin(t) * 6),
    );
    expect(trend.growing).toBe(false);
  });

  it('calls a steady leak of 60 MiB an hour growing', () => {
    const trend = memoryTrend(
      'fanout',
      series((t) => 250 + (t / 3600) * 60),
    );
    expect(trend.growing).toBe(true);
    expect(trend.slopePerHour / MIB).toBeCloseTo(60, 0);
  });

  it('does not fail on one late spike', () => {
    const trend = memoryTrend(
      'fanout',
      series((t) => (t > 3500 ? 330 : 250)),
    );
    expect(trend.growing).toBe(false);
  });
});
