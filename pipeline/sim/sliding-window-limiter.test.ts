import { describe, expect, it } from 'vitest';
import { SlidingWindowLimiter } from './sliding-window-limiter.js';

describe('SlidingWindowLimiter', () => {
  it('takes up to the limit within a minute and then refuses', () => {
    const limiter = new SlidingWindowLimiter(3);
    expect([0, 100, 200].map((t) => limiter.tryTake(1_000_000 + t, 1))).toEqual([0, 0, 0]);
    expect(limiter.tryTake(1_000_300, 1)).toBeGreaterThan(0);
    expect(limiter.remaining(1_000_300)).toBe(0);
  });

  it('tells a refused caller when the oldest second leaves the window', () => {
    const limiter = new SlidingWindowLimiter(2);
    limiter.take(10_500, 1); // second 10
    limiter.take(20_500, 1); // second 20
    // At 30.25 s, the take of second 10 leaves the window at 70 s.
    expect(limiter.tryTake(30_250, 1)).toBe(70_000 - 30_250);
    expect(limiter.tryTake(70_000, 1)).toBe(0);
  });

  it('frees the whole window a minute after the last take', () => {
    const limiter = new SlidingWindowLimiter(100);
    limiter.take(5_000, 60);
    limiter.take(9_000, 40);
    expect(limiter.remaining(9_000)).toBe(0);
    expect(limiter.resetMs(9_000)).toBe(60_000);
    expect(limiter.remaining(65_000)).toBe(60);
    expect(limiter.remaining(69_000)).toBe(100);
    expect(limiter.resetMs(69_000)).toBe(0);
  });

  it('counts amounts, not calls, for token limits', () => {
    const limiter = new SlidingWindowLimiter(300);
    expect(limiter.tryTake(0, 125)).toBe(0);
    expect(limiter.tryTake(1_000, 125)).toBe(0);
    expect(limiter.tryTake(2_000, 125)).toBe(60_000 - 2_000);
    expect(limiter.remaining(2_000)).toBe(50);
  });

  it('refuses for ever an amount larger than the limit on its own', () => {
    const limiter = new SlidingWindowLimiter(100);
    expect(limiter.tryTake(0, 101)).toBe(Number.POSITIVE_INFINITY);
    expect(limiter.remaining(0)).toBe(100);
  });

  it('enforces a per-minute limit over a shorter window: 600/min over 1 s is 10 per second, every second', () => {
    const limiter = new SlidingWindowLimiter(600, 1);
    const t0 = 1_000_000_000;
    const perSecond = new Array<number>(120).fill(0);
    // Two minutes of callers asking 100 times a second: 10 pass each second, never a burst of 600.
    for (let ms = 0; ms < 120_000; ms += 10)
      if (limiter.tryTake(t0 + ms, 1) === 0) perSecond[Math.floor(ms / 1000)]!++;
    expect(new Set(perSecond)).toEqual(new Set([10]));
    // A refused caller is told to come back when the second turns.
    expect(limiter.tryTake(t0 + 120_000 + 300, 1)).toBe(0);
    for (let k = 0; k < 9; k++) limiter.tryTake(t0 + 120_300, 1);
    expect(limiter.tryTake(t0 + 120_300, 1)).toBe(700);
  });
});
