/**
 * A sliding window of per-minute limits, kept as one-second buckets: constant memory and constant
 * time per request, and it tells a refused caller exactly when enough capacity frees up. The window
 * is a minute by default; a shorter one enforces the same rate over shorter spans (limit × W ÷ 60
 * per W seconds), as providers say they may ("60,000 requests/minute may be enforced as 1,000
 * requests/second"), which smooths the once-a-minute bursts of a one-minute window.
 */
export class SlidingWindowLimiter {
  private readonly amounts: Float64Array;
  /** The epoch second each bucket holds, or −1 when empty. */
  private readonly seconds: Float64Array;
  private readonly limit: number;
  private used = 0;
  private expiredUpTo = -1;

  constructor(
    readonly limitPerMinute: number,
    readonly windowSeconds = 60,
  ) {
    this.amounts = new Float64Array(windowSeconds);
    this.seconds = new Float64Array(windowSeconds).fill(-1);
    this.limit = (limitPerMinute * windowSeconds) / 60;
  }

  /**
   * Takes `amount` when it fits in the window and returns 0; otherwise takes nothing and returns
   * the milliseconds until it would fit (Infinity when `amount` exceeds the limit on its own).
   */
  tryTake(nowMs: number, amount: number): number {
    const waitMs = this.waitMs(nowMs, amount);
    if (waitMs === 0) this.take(nowMs, amount);
    return waitMs;
  }

  /** Milliseconds until `amount` fits (0 when it fits now), without taking it. */
  waitMs(nowMs: number, amount: number): number {
    const second = Math.floor(nowMs / 1000);
    this.expire(second);
    if (this.used + amount <= this.limit) return 0;
    if (amount > this.limit) return Number.POSITIVE_INFINITY;
    const mustFree = this.used + amount - this.limit;
    let freed = 0;
    for (let s = second - this.windowSeconds + 1; s <= second; s++) {
      const i = s % this.windowSeconds;
      if (this.seconds[i] !== s) continue;
      freed += this.amounts[i]!;
      if (freed >= mustFree) return Math.max(1, (s + this.windowSeconds) * 1000 - nowMs);
    }
    return Math.max(1, (second + this.windowSeconds) * 1000 - nowMs);
  }

  /** Records `amount` unconditionally. */
  take(nowMs: number, amount: number): void {
    const second = Math.floor(nowMs / 1000);
    this.expire(second);
    const i = second % this.windowSeconds;
    if (this.seconds[i] !== second) {
      this.seconds[i] = second;
      this.amounts[i] = 0;
    }
    this.amounts[i]! += amount;
    this.used += amount;
  }

  /** Capacity left in the window now. */
  remaining(nowMs: number): number {
    this.expire(Math.floor(nowMs / 1000));
    return Math.max(0, this.limit - this.used);
  }

  /** Milliseconds until the window is empty again (the meaning of OpenAI's x-ratelimit-reset-*). */
  resetMs(nowMs: number): number {
    const second = Math.floor(nowMs / 1000);
    this.expire(second);
    for (let s = second; s > second - this.windowSeconds; s--) {
      if (this.seconds[s % this.windowSeconds] === s)
        return Math.max(0, (s + this.windowSeconds) * 1000 - nowMs);
    }
    return 0;
  }

  private expire(second: number): void {
    if (second === this.expiredUpTo) return;
    this.expiredUpTo = second;
    const oldestKept = second - this.windowSeconds + 1;
    for (let i = 0; i < this.windowSeconds; i++) {
      const s = this.seconds[i]!;
      if (s >= 0 && s < oldestKept) {
        this.used -= this.amounts[i]!;
        this.amounts[i] = 0;
        this.seconds[i] = -1;
      }
    }
  }
}
