import { describe, expect, it } from 'vitest';
import { compareTrials } from './comparison.js';

/** Trials of a metric with multiplicative noise of about `noise` (seeded, so the test is exact). */
function trials(n: number, center: number, noise: number, seed: number): number[] {
  let s = seed;
  const next = () => {
    s = (s * 16807) % 2147483647;
    return s / 2147483647;
  };
  return Array.from({ length: n }, () => {
    const g = Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
    return center * Math.exp(noise * g);
  });
}

describe('comparison of trials', () => {
  it('never calls A/A samples with 5% noise a regression, and mostly unchanged', () => {
    let unchanged = 0;
    let regressions = 0;
    for (let seed = 1; seed <= 100; seed++) {
      const c = compareTrials(
        trials(10, 100, 0.05, seed),
        trials(10, 100, 0.05, seed + 1000),
        'lower-is-better',
        {
          resamples: 2_000,
        },
      );
      if (c.verdict === 'unchanged') unchanged++;
      if (c.verdict === 'regression') regressions++;
    }
    expect(regressions).toBe(0);
    // The rest are inconclusive: with 10 trials the median's interval sometimes reaches ±10 %,
    // and the gate then asks for more trials instead of guessing.
    expect(unchanged).toBeGreaterThanOrEqual(75);
  });

  it('calls a 25% slower candidate a regression', () => {
    const c = compareTrials(trials(10, 100, 0.05, 7), trials(10, 125, 0.05, 8), 'lower-is-better');
    expect(c.verdict).toBe('regression');
    expect(c.low).toBeGreaterThan(1.1);
    expect(c.ratio).toBeGreaterThan(1.15);
  });

  it('calls a 25% faster candidate an improvement', () => {
    const c = compareTrials(trials(10, 100, 0.05, 7), trials(10, 75, 0.05, 8), 'lower-is-better');
    expect(c.verdict).toBe('improvement');
  });

  it('reads throughput the other way round', () => {
    const c = compareTrials(trials(10, 1000, 0.05, 3), trials(10, 750, 0.05, 4), 'higher-is-better');
    expect(c.verdict).toBe('regression');
    expect(c.high).toBeLessThan(0.9);
  });

  it('says inconclusive, with more trials to run, when noise hides a change near the threshold', () => {
    const c = compareTrials(trials(3, 100, 0.25, 11), trials(3, 112, 0.25, 12), 'lower-is-better');
    expect(c.verdict).toBe('inconclusive');
    expect(c.trialsNeeded).toBeGreaterThan(3);
  });

  it('gives the same interval for the same seed', () => {
    const a = trials(8, 100, 0.1, 1);
    const b = trials(8, 110, 0.1, 2);
    expect(compareTrials(a, b, 'lower-is-better')).toEqual(compareTrials(a, b, 'lower-is-better'));
  });

  it('refuses a comparison with fewer than two trials per side', () => {
    expect(() => compareTrials([1], [1, 2], 'lower-is-better')).toThrow(/at least 2 trials/);
  });
});
