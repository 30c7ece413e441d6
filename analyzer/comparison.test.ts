import { describe, expect, it } from 'vitest';
import { compareDifference, comparePairedTrials, compareTrials, decideChange } from './comparison.js';

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

  it('calls a change at half the threshold a regression once its interval is wholly above no change', () => {
    expect(decideChange({ point: 0.06, low: 0.01, high: 0.11 }, 0.1, 5).verdict).toBe('regression');
    expect(decideChange({ point: 0.06, low: -0.01, high: 0.13 }, 0.1, 5).verdict).toBe('inconclusive');
    expect(decideChange({ point: 0.04, low: 0.01, high: 0.07 }, 0.1, 5).verdict).toBe('unchanged');
    expect(decideChange({ point: -0.08, low: -0.12, high: -0.03 }, 0.1, 5).verdict).toBe('improvement');
  });

  it('asks for the trials that would narrow an inconclusive interval to half the threshold', () => {
    // Half-width 0.1 against a target of 0.05: four times the trials.
    expect(decideChange({ point: 0.02, low: -0.08, high: 0.12 }, 0.1, 5)).toEqual({
      verdict: 'inconclusive',
      trialsNeeded: 20,
    });
  });

  it('pairs trials by round, so a shift shared by both sides cancels', () => {
    const base = [30, 60, 35, 90, 40, 70];
    const head = base.map((x) => x * 1.12);
    const paired = comparePairedTrials(base, head, 'lower-is-better', { estimator: 'hodges-lehmann' });
    expect(paired.ratio).toBeCloseTo(1.12, 6);
    expect(paired.verdict).toBe('regression');
    expect(compareTrials(base, head, 'lower-is-better').verdict).toBe('inconclusive');
  });

  it('compares rates by their difference, not a ratio that 0 would make infinite', () => {
    const c = compareDifference([0, 0, 0, 0], [0.004, 0.005, 0.006, 0.005], 'lower-is-better', {
      threshold: 0.001,
    });
    expect(c.difference).toBeCloseTo(0.005, 9);
    expect(c.verdict).toBe('regression');
    expect(compareDifference([0, 0, 0], [0, 0, 0], 'lower-is-better', { threshold: 0.001 }).verdict).toBe(
      'unchanged',
    );
  });
});
