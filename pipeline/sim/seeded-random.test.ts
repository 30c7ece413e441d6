import { describe, expect, it } from 'vitest';
import { hashString, SeededRandom } from './seeded-random.js';

describe('SeededRandom', () => {
  it('gives the same sequence for the same seed', () => {
    const a = new SeededRandom(99);
    const b = new SeededRandom(99);
    const draws = Array.from({ length: 5 }, () => [a.next(), b.next()]);
    expect(draws.every(([x, y]) => x === y)).toBe(true);
    expect(new SeededRandom(100).next()).not.toBe(draws[0]![0]);
  });

  it('draws uniforms in [0, 1) with the right mean', () => {
    const random = new SeededRandom(1);
    let sum = 0;
    for (let i = 0; i < 100_000; i++) {
      const u = random.next();
      expect(u >= 0 && u < 1).toBe(true);
      sum += u;
    }
    expect(sum / 100_000).toBeCloseTo(0.5, 2);
  });

  it('draws lognormals around the median with the given spread', () => {
    const random = new SeededRandom(2);
    const draws = Array.from({ length: 20_001 }, () => random.logNormal(300, 0.5)).sort((x, y) => x - y);
    expect(draws[10_000]! / 300).toBeCloseTo(1, 1);
    // The 84th percentile of a lognormal sits at median × e^sigma.
    expect(draws[16_827]! / (300 * Math.exp(0.5))).toBeCloseTo(1, 1);
  });
});

describe('hashString', () => {
  it('is stable and depends on the text and the seed', () => {
    expect(hashString('site-1.sites.test', 1)).toBe(hashString('site-1.sites.test', 1));
    expect(hashString('site-1.sites.test', 1)).not.toBe(hashString('site-2.sites.test', 1));
    expect(hashString('site-1.sites.test', 1)).not.toBe(hashString('site-1.sites.test', 2));
  });
});
