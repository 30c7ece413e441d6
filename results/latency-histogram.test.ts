import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../pipeline/sim/seeded-random.js';
import { HIGHEST_TRACKABLE_US, LatencyHistogram } from './latency-histogram.js';

/** A seeded generator, so a failing case can be replayed. */
function seeded(seed: number): () => number {
  const random = new SeededRandom(seed);
  return () => random.next();
}

/** The value at a percentile by HdrHistogram's definition: the smallest value with at least p% at or below it. */
function bruteForcePercentile(sortedUs: readonly number[], percentile: number): number {
  // The epsilon keeps float noise (99.9 / 100 × 5000 = 4995.000000000001) from skipping a rank.
  const rank = Math.max(1, Math.ceil((percentile / 100) * sortedUs.length - 1e-9));
  return sortedUs[rank - 1]!;
}

function lognormalSampleUs(random: () => number, count: number): number[] {
  // Latency-like values: lognormal around 20 ms, a long tail to seconds.
  return Array.from({ length: count }, () => {
    const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    return Math.round(20_000 * Math.exp(1.2 * z));
  });
}

describe('LatencyHistogram', () => {
  it('matches brute-force percentiles within its 0.1% precision on random latency samples', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const values = lognormalSampleUs(seeded(seed), 5_000);
      const histogram = LatencyHistogram.create();
      for (const v of values) histogram.recordUs(v);
      const sorted = [...values].sort((a, b) => a - b);
      for (const p of [50, 90, 95, 99, 99.9]) {
        const expectedMs = bruteForcePercentile(sorted, p) / 1_000;
        expect(Math.abs(histogram.percentileMs(p) - expectedMs), `seed ${seed} p${p}`).toBeLessThanOrEqual(
          expectedMs * 0.001 + 0.001,
        );
      }
      expect(histogram.count).toBe(values.length);
    }
  });

  it('keeps every percentile, the mean, the maximum and the count through encode and decode', () => {
    const histogram = LatencyHistogram.create();
    for (const v of lognormalSampleUs(seeded(7), 10_000)) histogram.recordUs(v);
    const decoded = LatencyHistogram.decode(histogram.encode());
    for (const p of [0, 25, 50, 75, 90, 95, 99, 99.9, 100]) {
      expect(decoded.percentileMs(p)).toBe(histogram.percentileMs(p));
    }
    expect(decoded.count).toBe(histogram.count);
    expect(decoded.meanMs).toBeCloseTo(histogram.meanMs, 6);
    expect(decoded.maxMs).toBe(histogram.maxMs);
  });

  it('merges two histograms into the distribution of all their values', () => {
    const a = LatencyHistogram.create();
    const b = LatencyHistogram.create();
    const both = LatencyHistogram.create();
    lognormalSampleUs(seeded(11), 3_000).forEach((v, i) => {
      (i % 3 === 0 ? a : b).recordUs(v);
      both.recordUs(v);
    });
    a.merge(b);
    expect(a.count).toBe(both.count);
    for (const p of [50, 95, 99]) expect(a.percentileMs(p)).toBe(both.percentileMs(p));
  });

  it('records values past one hour as one hour instead of failing', () => {
    const histogram = LatencyHistogram.create();
    histogram.recordUs(HIGHEST_TRACKABLE_US * 10);
    histogram.recordUs(-5);
    expect(histogram.count).toBe(2);
    expect(histogram.maxMs).toBeCloseTo(3_600_000, -4);
    expect(histogram.percentileMs(0)).toBe(0);
  });

  it('reports zeros for an empty histogram', () => {
    const histogram = LatencyHistogram.create();
    expect([
      histogram.count,
      histogram.percentileMs(99),
      histogram.meanMs,
      histogram.maxMs,
      histogram.minMs,
    ]).toEqual([0, 0, 0, 0, 0]);
  });

  it('refuses text that is not an encoded histogram', () => {
    expect(() => LatencyHistogram.decode('not a histogram')).toThrow();
  });
});
