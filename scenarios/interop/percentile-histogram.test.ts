import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../pipeline/sim/seeded-random.js';
import { LatencyHistogram } from '../../results/latency-histogram.js';
import { histogramFromPercentiles, percentileRank } from './percentile-histogram.js';

const PERCENTILES = [1, 10, 50, 75, 90, 95, 99, 99.9];
/** The reported value of percentile p, as a tool that reads HdrHistogram's rank would report it. */
const atRank = (sorted: number[], p: number) => sorted[percentileRank(p, sorted.length)]!;

describe('histogramFromPercentiles', () => {
  it('reads back every reported percentile of random lognormal samples of many sizes', () => {
    const random = new SeededRandom(42);
    for (const n of [3, 17, 100, 1_001, 20_000]) {
      const sorted = Array.from({ length: n }, () => Math.exp(Math.log(30) + random.normal())).sort(
        (a, b) => a - b,
      );
      const histogram = histogramFromPercentiles({
        count: n,
        minMs: sorted[0]!,
        maxMs: sorted[n - 1]!,
        percentiles: PERCENTILES.map((p) => ({ percentile: p, valueMs: atRank(sorted, p) })),
      });
      expect(histogram.count).toBe(n);
      // HdrHistogram's own reading of the samples is the independent answer.
      const exact = LatencyHistogram.create();
      for (const v of sorted) exact.recordUs(v * 1_000);
      for (const p of PERCENTILES)
        expect(histogram.percentileMs(p), `n=${n} p${p}`).toBe(exact.percentileMs(p));
      expect(Math.abs(histogram.maxMs - sorted[n - 1]!)).toBeLessThanOrEqual(sorted[n - 1]! * 0.001 + 0.001);
    }
  });

  it('keeps values in order when a tool reports a low percentile below its minimum', () => {
    // autocannon's min is the smallest non-zero latency, while its p0.001 counts zeros.
    const histogram = histogramFromPercentiles({
      count: 1_000,
      minMs: 1,
      maxMs: 50,
      percentiles: [
        { percentile: 0.001, valueMs: 0 },
        { percentile: 50, valueMs: 5 },
      ],
    });
    expect(histogram.percentileMs(0.001)).toBe(0);
    expect(histogram.percentileMs(50)).toBeCloseTo(5, 2);
    // Between the two pins the values rise from 0 to 5 ms, never back below.
    expect(histogram.percentileMs(25)).toBeGreaterThan(0);
    expect(histogram.percentileMs(25)).toBeLessThan(5);
  });

  it('gives an empty histogram for a count of zero', () => {
    expect(histogramFromPercentiles({ count: 0, minMs: 0, maxMs: 0, percentiles: [] }).count).toBe(0);
  });
});
