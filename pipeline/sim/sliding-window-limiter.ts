/** Width of the window; rate limits of LLM providers are per minute. */
const WINDOW_SECONDS = 60;

/**
 * A one-minute sliding window kept as sixty one-second buckets: constant memory and constant time
 * per request, and it tells a refused caller exactly when enough capacity frees up.
 */
export class SlidingWindowLimiter {
  private readonly amounts = new Float64Array(WINDOW_SECONDS);
  /** The epoch second each bucket holds, or −1 when empty. */
  private readonly seconds = new Float64Array(WINDOW_SECONDS).fill(-1);
  private used = 0;
  private expiredUpTo = -1;

  constructor(readonly limitPerMinute: number) {}

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
    if (this.used + amount <= this.limitPerMinute) return 0;
    if (amount > this.limitPerMinute) return Number.POSITIVE_INFINITY;
    const mustFree = this.used + amount - this.limitPerMinute;
    let freed = 0;
    for (let s = second - WINDOW_SECONDS + 1; s <= second; s++) {
      const i = s % WINDOW_SECONDS;
      if (this.seconds[i] !== s) continue;
      freed += this.amounts[i]!;
      if (freed >= mustFree) return Math.max(1, (s + WINDOW_SECONDS) * 1000 - nowMs);
    }
    return Math.max(1, (second + WINDOW_SECONDS) * 1000 - nowMs);
  }

  /** Records `amount` unconditionally. */
  take(nowMs: number, amount: number): void {
    const second = Math.floor(nowMs / 1000);
    this.expire(second);
    const i = second % WINDOW_SECONDS;
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
    return Math.max(0, this.limitPerMinute - this.used);
  }

  /** Milliseconds until the window is empty again (the meaning of OpenAI's x-ratelimit-reset-*). */
  resetMs(nowMs: number): number {
    const second = Math.floor(nowMs / 1000);
    this.expire(second);
    for (let s = second; s > second - WINDOW_SECONDS; s--) {
      if (this.seconds[s % WINDOW_SECONDS] === s) return Math.max(0, (s + WINDOW_SECONDS) * 1000 - nowMs);
    }
    return 0;
  }

  private expire(second: number): void {
    if (second === this.expiredUpTo) return;
    this.expiredUpTo = second;
    const oldestKept = second - WINDOW_SECONDS + 1;
    for (let i = 0; i < WINDOW_SECONDS; i++) {
      const s = this.seconds[i]!;
      if (s >= 0 && s < oldestKept) {
        this.used -= this.amounts[i]!;
        this.amounts[i] = 0;
        this.seconds[i] = -1;
      }
    }
  }
}
