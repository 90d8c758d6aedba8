/**
 * Token buckets per API key, in memory: each key may publish `ratePerSecond` events sustained and
 * `burst` at once. Per process, so N ingest instances allow N times the rate; that is the
 * intended trade (no Redis round trip on the hot path).
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes `n` tokens; returns 0 when allowed, else the seconds to wait before retrying. */
  take(key: string, n: number): number {
    if (this.ratePerSecond <= 0) return 0;
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(
      this.burst,
      bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSecond,
    );
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= n) {
      bucket.tokens -= n;
      return 0;
    }
    return Math.max(1, Math.ceil((n - bucket.tokens) / this.ratePerSecond));
  }
}
