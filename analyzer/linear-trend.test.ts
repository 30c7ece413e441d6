import { describe, expect, it } from 'vitest';
import { fitLinearTrend, tQuantile, tQuantile975 } from './linear-trend.js';

describe('linear trend', () => {
  it('recovers an exact line with a zero-width interval', () => {
    const xs = [0, 1, 2, 3, 4];
    const t = fitLinearTrend(
      xs,
      xs.map((x) => 3 + 2 * x),
    );
    expect(t.slope).toBeCloseTo(2, 12);
    expect(t.intercept).toBeCloseTo(3, 12);
    expect(t.slopeHigh - t.slopeLow).toBeCloseTo(0, 12);
    expect(t.rSquared).toBeCloseTo(1, 12);
  });

  it('matches a hand-worked fit with its standard error and interval', () => {
    // x = 1..5, y = 2, 4, 5, 4, 5: slope 0.6, intercept 2.2, SSE 2.4, se = sqrt(2.4/3/10) = 0.28284.
    const t = fitLinearTrend([1, 2, 3, 4, 5], [2, 4, 5, 4, 5]);
    expect(t.slope).toBeCloseTo(0.6, 10);
    expect(t.intercept).toBeCloseTo(2.2, 10);
    expect(t.slopeStdError).toBeCloseTo(0.282843, 5);
    expect(t.slopeLow).toBeCloseTo(0.6 - 3.182 * 0.282843, 4);
    expect(t.slopeHigh).toBeCloseTo(0.6 + 3.182 * 0.282843, 4);
  });

  it('covers the true slope of noisy data about 95% of the time', () => {
    let seed = 12345;
    const gauss = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const u = (seed + 1) / 2 ** 31;
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const v = (seed + 1) / 2 ** 31;
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    };
    let covered = 0;
    const trials = 2_000;
    for (let trial = 0; trial < trials; trial++) {
      const xs = Array.from({ length: 20 }, (_, i) => i);
      const t = fitLinearTrend(
        xs,
        xs.map((x) => 10 + 0.5 * x + gauss()),
      );
      if (t.slopeLow <= 0.5 && 0.5 <= t.slopeHigh) covered++;
    }
    expect(covered / trials).toBeGreaterThan(0.93);
    expect(covered / trials).toBeLessThan(0.97);
  });

  it('uses the t table for small samples and tends to the normal quantile', () => {
    expect(tQuantile975(1)).toBe(12.706);
    expect(tQuantile975(30)).toBe(2.042);
    expect(tQuantile975(60)).toBeCloseTo(2.0003, 3);
    expect(tQuantile975(10_000)).toBeCloseTo(1.96, 2);
  });

  it('refuses fewer than three samples', () => {
    expect(() => fitLinearTrend([1, 2], [1, 2])).toThrow(/at least 3/);
  });
});

describe("Student's t quantiles of any tail", () => {
  it('matches the published table: within 0.5 % from 7 degrees of freedom at 99.9 %, 0.1 % at 97.5 %', () => {
    // One-sided 99.9 % quantiles from the standard table.
    const t999: Array<[number, number]> = [
      [7, 4.785],
      [9, 4.297],
      [15, 3.733],
      [20, 3.552],
      [30, 3.385],
      [60, 3.232],
    ];
    for (const [df, t] of t999) expect(Math.abs(tQuantile(0.999, df) / t - 1)).toBeLessThan(0.005);
    for (let df = 7; df <= 30; df++)
      expect(Math.abs(tQuantile(0.975, df) / tQuantile975(df) - 1)).toBeLessThan(0.001);
  });
});
