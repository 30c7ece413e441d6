import { LatencyHistogram } from '../../results/latency-histogram.js';

/** One percentile of a latency distribution as another tool reported it. */
export interface ReportedPercentile {
  /** 0–100. */
  percentile: number;
  valueMs: number;
}

/** What a tool reported about a latency distribution it did not keep. */
export interface ReportedDistribution {
  /** Number of latencies the tool measured. */
  count: number;
  minMs: number;
  maxMs: number;
  percentiles: ReportedPercentile[];
}

/**
 * The 0-based rank of the value HdrHistogram reads for `percentile` (0–100) of `count` values:
 * the ⌈p/100 × N⌉-th smallest. As in HdrHistogram, a floating-point excess of a few ulps (99.9 / 100
 * × 20,000 is 19,980.000000000004) does not round up to the next value.
 */
export function percentileRank(percentile: number, count: number): number {
  const exact = (percentile / 100) * count;
  return Math.max(Math.ceil(exact - Math.max(1, exact) * Number.EPSILON * 4) - 1, 0);
}

/**
 * Rebuilds a histogram of `count` latencies that reproduces a tool's reported percentiles, for
 * tools that keep percentiles, not histograms (k6's summary export, autocannon's JSON).
 *
 * HdrHistogram reads percentile p as the ⌈p/100 × N⌉-th smallest value, so each reported
 * percentile is pinned at exactly that rank, the minimum at rank 1 and the maximum at rank N;
 * the values between two pinned ranks are spread linearly, the least-assuming fill when only the
 * percentiles are known. Reading the rebuilt histogram at a reported percentile therefore gives
 * the reported value (to the histogram's 0.1 % precision); between them it is an interpolation,
 * and its mean is not the tool's mean (the tool's mean is kept beside it by the importers).
 */
export function histogramFromPercentiles(reported: ReportedDistribution): LatencyHistogram {
  const histogram = LatencyHistogram.create();
  const n = reported.count;
  if (n <= 0) return histogram;
  // Knots as (0-based rank, value): min first, max last, percentiles by rank; a later (higher)
  // percentile pinned at the same rank replaces an earlier one, as HdrHistogram would read it.
  const knots = new Map<number, number>([[0, reported.minMs]]);
  const sorted = [...reported.percentiles].sort((a, b) => a.percentile - b.percentile);
  for (const { percentile, valueMs } of sorted) {
    if (percentile <= 0 || percentile >= 100) continue;
    knots.set(percentileRank(percentile, n), valueMs);
  }
  knots.set(n - 1, reported.maxMs);
  const ranks = [...knots.keys()].sort((a, b) => a - b);
  // Values must not decrease with rank (a tool's rounding can make p0.001 < min, say).
  let floorMs = Number.NEGATIVE_INFINITY;
  for (const rank of ranks) {
    floorMs = Math.max(floorMs, knots.get(rank)!);
    knots.set(rank, floorMs);
  }
  histogram.recordUs(knots.get(0)! * 1_000);
  for (let k = 1; k < ranks.length; k++) {
    const fromRank = ranks[k - 1]!;
    const toRank = ranks[k]!;
    const fromMs = knots.get(fromRank)!;
    const toMs = knots.get(toRank)!;
    for (let rank = fromRank + 1; rank <= toRank; rank++) {
      const valueMs =
        rank === toRank ? toMs : fromMs + ((toMs - fromMs) * (rank - fromRank)) / (toRank - fromRank);
      histogram.recordUs(valueMs * 1_000);
    }
  }
  return histogram;
}
