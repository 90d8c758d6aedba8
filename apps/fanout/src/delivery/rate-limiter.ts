/**
 * A token bucket for one subscription's `maxPerSecond`: up to one second's worth of requests
 * may go at once, then they are spread at the configured rate.
 */
export class RateLimiter {
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly perSecond: number,
    nowMs: number,
  ) {
    this.tokens = Math.max(1, perSecond);
    this.refilledAt = nowMs;
  }

  /** Takes a token and returns 0, or returns how many ms until one is available. */
  take(nowMs: number): number {
    const capacity = Math.max(1, this.perSecond);
    this.tokens = Math.min(
      capacity,
      this.tokens + ((nowMs - this.refilledAt) * this.perSecond) / 1000,
    );
    this.refilledAt = nowMs;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) * 1000) / this.perSecond);
  }
}
