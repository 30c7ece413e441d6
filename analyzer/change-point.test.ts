import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../pipeline/sim/seeded-random.js';
import { analyzeSeries, bestSplit, findChangePoints } from './change-point.js';

/** Seeded series: levels of given relative sizes and lengths, multiplicative normal noise. */
function series(
  random: SeededRandom,
  levels: Array<{ level: number; length: number }>,
  noise: number,
): number[] {
  const xs: number[] = [];
  for (const { level, length } of levels)
    for (let i = 0; i < length; i++) xs.push(100 * level * (1 + noise * random.normal()));
  return xs;
}

const uniform = (random: SeededRandom, low: number, high: number) => low + (high - low) * random.next();

describe('the best split of a series', () => {
  it('is the textbook energy statistic, computed with rank sums instead of every pair', () => {
    const random = new SeededRandom(3);
    const x = Array.from({ length: 23 }, () => random.normal());
    // The O(n²) form of Q(τ) from Matteson & James, α = 1, for every τ.
    const direct = (tau: number) => {
      const left = x.slice(0, tau);
      const right = x.slice(tau);
      let across = 0;
      let inLeft = 0;
      let inRight = 0;
      for (const a of left) for (const b of right) across += Math.abs(a - b);
      for (let i = 0; i < left.length; i++)
        for (let j = i + 1; j < left.length; j++) inLeft += Math.abs(left[i]! - left[j]!);
      for (let i = 0; i < right.length; i++)
        for (let j = i + 1; j < right.length; j++) inRight += Math.abs(right[i]! - right[j]!);
      const m = left.length;
      const k = right.length;
      const energy = (2 * across) / (m * k) - inLeft / ((m * (m - 1)) / 2) - inRight / ((k * (k - 1)) / 2);
      return ((m * k) / x.length) * energy;
    };
    let best = { index: -1, statistic: -Infinity };
    for (let tau = 3; tau <= x.length - 3; tau++) {
      const q = direct(tau);
      if (q > best.statistic) best = { index: tau, statistic: q };
    }
    const fast = bestSplit(x, 3)!;
    expect(fast.index).toBe(best.index);
    expect(fast.statistic).toBeCloseTo(best.statistic, 9);
  });
});

describe('change points on seeded series with known answers', () => {
  it('locates one shift of 3–20 % under 2–8 % noise, and sizes it within its interval', () => {
    const random = new SeededRandom(2026);
    let clear = 0;
    let clearLocated = 0;
    let located = 0;
    let covered = 0;
    const cases = 300;
    for (let s = 0; s < cases; s++) {
      const before = Math.round(uniform(random, 15, 60));
      const shift = uniform(random, 0.03, 0.2) * (random.next() < 0.5 ? 1 : -1);
      const noise = uniform(random, 0.02, 0.08);
      const xs = series(
        random,
        [
          { level: 1, length: before },
          { level: 1 + shift, length: Math.round(uniform(random, 15, 60)) },
        ],
        noise,
      );
      const hit = analyzeSeries(xs, 'lower-is-better', { seed: s }).changes.find(
        (c) => Math.abs(c.index - before) <= 1,
      );
      // A step of 1.5 noise widths or more is one a reader can see; a 3 % step in 8 % noise is not.
      const isClear = Math.abs(shift) / noise >= 1.5;
      if (isClear) clear++;
      if (!hit) continue;
      located++;
      if (isClear) clearLocated++;
      if (shift >= hit.changeLow && shift <= hit.changeHigh) covered++;
    }
    // Measured with this seed: 213 of 233 clear steps located within ±1 point (91 %), 237 of 300 of
    // all; the true size inside the 95 % interval for 236 of the 237 located.
    expect(clearLocated / clear).toBeGreaterThanOrEqual(0.85);
    expect(located / cases).toBeGreaterThanOrEqual(0.7);
    expect(covered / located).toBeGreaterThanOrEqual(0.9);
  });

  it('finds two or three shifts at their points', () => {
    const random = new SeededRandom(11);
    let truths = 0;
    let found = 0;
    let spurious = 0;
    for (let s = 0; s < 100; s++) {
      const steps = 2 + random.int(2);
      const noise = uniform(random, 0.02, 0.05);
      const levels = [{ level: 1, length: Math.round(uniform(random, 15, 40)) }];
      for (let k = 0; k < steps; k++) {
        // Each step at least 2.5 noise widths: the levels are told apart, so every one must be found.
        const size = Math.max(2.5 * noise, uniform(random, 0.03, 0.2)) * (random.next() < 0.5 ? 1 : -1);
        levels.push({
          level: levels.at(-1)!.level * (1 + size),
          length: Math.round(uniform(random, 15, 40)),
        });
      }
      const at: number[] = [];
      let sum = 0;
      for (const l of levels.slice(0, -1)) {
        sum += l.length;
        at.push(sum);
      }
      const changes = findChangePoints(series(random, levels, noise), { seed: s });
      truths += at.length;
      found += at.filter((t) => changes.some((c) => Math.abs(c.index - t) <= 1)).length;
      spurious += changes.filter((c) => !at.some((t) => Math.abs(c.index - t) <= 1)).length;
    }
    expect(found / truths).toBeGreaterThanOrEqual(0.9);
    expect(spurious / truths).toBeLessThanOrEqual(0.05);
  });

  it('finds no change in at least 99 % of 1,000 stationary series', () => {
    const random = new SeededRandom(99);
    let withChange = 0;
    for (let s = 0; s < 1_000; s++) {
      const xs = series(
        random,
        [{ level: 1, length: Math.round(uniform(random, 20, 120)) }],
        uniform(random, 0.02, 0.08),
      );
      if (findChangePoints(xs, { seed: s }).length > 0) withChange++;
    }
    // Measured with this seed: 6 of 1,000.
    expect(withChange).toBeLessThanOrEqual(10);
  });

  it('is not moved by a lone outlier', () => {
    const random = new SeededRandom(5);
    let moved = 0;
    for (let s = 0; s < 100; s++) {
      const xs = series(random, [{ level: 1, length: 60 }], 0.03);
      xs[10 + random.int(40)]! *= 5;
      if (findChangePoints(xs, { seed: s }).length > 0) moved++;
    }
    expect(moved).toBeLessThanOrEqual(2);
  });

  it('reports five consecutive +3 % steps as creep, though no step passes the 10 % gate', () => {
    const random = new SeededRandom(17);
    let creeps = 0;
    for (let s = 0; s < 100; s++) {
      const noise = uniform(random, 0.01, 0.02);
      const levels = Array.from({ length: 6 }, (_, k) => ({ level: 1.03 ** k, length: 10 }));
      const analysis = analyzeSeries(series(random, levels, noise), 'lower-is-better', {
        seed: s,
        threshold: 0.1,
      });
      expect(analysis.changes.every((c) => c.change < 0.1)).toBe(true);
      if (analysis.creep && analysis.creep.change >= 0.1) creeps++;
    }
    expect(creeps).toBeGreaterThanOrEqual(95);
  });

  it('does not call an improvement creep, and sizes a step of a figure at 0 by its difference', () => {
    const random = new SeededRandom(23);
    const faster = series(
      random,
      Array.from({ length: 6 }, (_, k) => ({ level: 0.97 ** k, length: 10 })),
      0.01,
    );
    expect(analyzeSeries(faster, 'lower-is-better').creep).toBeNull();
    const errors = [...Array(20).fill(0), ...Array(20).fill(0.05)];
    const [step] = analyzeSeries(errors, 'lower-is-better').changes;
    expect(step).toMatchObject({ index: 20, beforeMedian: 0, afterMedian: 0.05, change: 0.05, worse: true });
  });
});
