import { SeededRandom } from '../pipeline/sim/seeded-random.js';

/**
 * Compares two sets of trials of one metric: a bootstrap confidence interval of the ratio of
 * medians (candidate ÷ baseline), and a verdict that calls a regression only when the whole
 * interval is past the threshold. One run against one stored number flakes on a noisy machine;
 * several trials and an interval that must clear the threshold do not.
 */
export type Direction = 'lower-is-better' | 'higher-is-better';
export type Verdict = 'regression' | 'improvement' | 'unchanged' | 'inconclusive';

export interface ComparisonOptions {
  /** Relative change that counts, e.g. 0.10 for 10 %. */
  threshold: number;
  /** Two-sided confidence of the interval. */
  confidence: number;
  resamples: number;
  /** Seed of the resampling, so a comparison is repeatable. */
  seed: number;
}

export const DEFAULT_COMPARISON: ComparisonOptions = {
  threshold: 0.1,
  confidence: 0.95,
  resamples: 10_000,
  seed: 1,
};

export interface MetricComparison {
  direction: Direction;
  baselineMedian: number;
  candidateMedian: number;
  /** candidate median ÷ baseline median. */
  ratio: number;
  /** The interval of the ratio. */
  low: number;
  high: number;
  verdict: Verdict;
  /** For an inconclusive verdict: about how many trials per side would likely decide it. */
  trialsNeeded?: number;
}

function median(sorted: Float64Array | number[]): number {
  const n = sorted.length;
  const mid = n >> 1;
  return n % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function resampledMedian(values: readonly number[], scratch: Float64Array, random: () => number): number {
  const n = values.length;
  for (let i = 0; i < n; i++) scratch[i] = values[Math.floor(random() * n)]!;
  scratch.sort();
  return median(scratch);
}

/** Compares trial figures of one metric (e.g. p95 of each trial) between a baseline and a candidate. */
export function compareTrials(
  baseline: readonly number[],
  candidate: readonly number[],
  direction: Direction,
  options: Partial<ComparisonOptions> = {},
): MetricComparison {
  const opts = { ...DEFAULT_COMPARISON, ...options };
  if (baseline.length < 2 || candidate.length < 2) {
    throw new Error(
      `a comparison needs at least 2 trials per side (got ${baseline.length} and ${candidate.length})`,
    );
  }
  const baselineMedian = median([...baseline].sort((a, b) => a - b));
  const candidateMedian = median([...candidate].sort((a, b) => a - b));
  if (baselineMedian <= 0) throw new Error('the baseline median must be above 0 to form a ratio');
  const seeded = new SeededRandom(opts.seed);
  const random = () => seeded.next();
  const a = new Float64Array(baseline.length);
  const b = new Float64Array(candidate.length);
  const ratios = new Float64Array(opts.resamples);
  for (let i = 0; i < opts.resamples; i++) {
    const mb = resampledMedian(baseline, a, random);
    ratios[i] = mb > 0 ? resampledMedian(candidate, b, random) / mb : Number.POSITIVE_INFINITY;
  }
  ratios.sort();
  const tail = (1 - opts.confidence) / 2;
  const low = ratios[Math.floor(tail * (opts.resamples - 1))]!;
  const high = ratios[Math.ceil((1 - tail) * (opts.resamples - 1))]!;
  const ratio = candidateMedian / baselineMedian;

  // Worse means a higher ratio for latency and a lower one for throughput.
  const worseBound = direction === 'lower-is-better' ? 1 + opts.threshold : 1 - opts.threshold;
  const betterBound = direction === 'lower-is-better' ? 1 - opts.threshold : 1 + opts.threshold;
  const sign = direction === 'lower-is-better' ? 1 : -1;
  const past = (x: number, bound: number, worse: boolean) =>
    worse ? sign * (x - bound) > 0 : sign * (x - bound) < 0;
  let verdict: Verdict;
  if (past(low, worseBound, true) && past(high, worseBound, true)) verdict = 'regression';
  else if (past(low, betterBound, false) && past(high, betterBound, false)) verdict = 'improvement';
  else if (
    !past(low, worseBound, true) &&
    !past(high, worseBound, true) &&
    !past(low, betterBound, false) &&
    !past(high, betterBound, false)
  )
    verdict = 'unchanged';
  else verdict = 'inconclusive';

  const result: MetricComparison = { direction, baselineMedian, candidateMedian, ratio, low, high, verdict };
  if (verdict === 'inconclusive') {
    // The interval narrows about as 1/√n: the trials at which its half-width would fit between
    // the estimate and the nearer bound it straddles.
    const halfWidth = (high - low) / 2;
    const margin = Math.min(Math.abs(ratio - worseBound), Math.abs(ratio - betterBound));
    const n = Math.max(baseline.length, candidate.length);
    result.trialsNeeded = margin > 0 ? Math.min(1_000, Math.ceil(n * (halfWidth / margin) ** 2)) : 1_000;
  }
  return result;
}
