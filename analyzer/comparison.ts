import { SeededRandom } from '../pipeline/sim/seeded-random.js';

/**
 * Compares two sets of trials of one metric: a bootstrap confidence interval of the ratio of
 * medians (candidate ÷ baseline), or of the difference of means for rates, and a verdict from
 * `decideChange`. One run against one stored number flakes on a noisy machine; several trials
 * and an interval do not.
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
  /**
   * How the change is estimated. `median`: ratio of the medians (paired: median of the ratios).
   * `hodges-lehmann`: the median of every pairwise log-ratio between the sides (paired: of the
   * pair averages of the log-ratios), as robust to one wild trial as the median but using every
   * trial: with 5 trials per side its interval is about a third narrower, which is what lets a
   * 10 % change be told from none with few trials.
   */
  estimator?: 'median' | 'hodges-lehmann';
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
  /** candidate ÷ baseline, as the estimator gives it (by default the ratio of the medians). */
  ratio: number;
  /** The interval of the ratio. */
  low: number;
  high: number;
  verdict: Verdict;
  /** For an inconclusive verdict: about how many trials per side would likely decide it. */
  trialsNeeded?: number;
}

/** The median of any values (NaN when there are none). */
export function medianOf(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  return median([...values].sort((a, b) => a - b));
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
  const logRatio =
    opts.estimator === 'hodges-lehmann' && [...baseline, ...candidate].every((x) => x > 0)
      ? hodgesLehmannShift(baseline.length * candidate.length)
      : undefined;
  let ratio = candidateMedian / baselineMedian;
  if (logRatio) {
    const logA = baseline.map(Math.log);
    const logB = candidate.map(Math.log);
    ratio = Math.exp(logRatio(logA, logB));
    for (let i = 0; i < opts.resamples; i++) {
      for (let k = 0; k < a.length; k++) a[k] = logA[Math.floor(random() * a.length)]!;
      for (let k = 0; k < b.length; k++) b[k] = logB[Math.floor(random() * b.length)]!;
      ratios[i] = Math.exp(logRatio(a, b));
    }
  } else {
    for (let i = 0; i < opts.resamples; i++) {
      const mb = resampledMedian(baseline, a, random);
      ratios[i] = mb > 0 ? resampledMedian(candidate, b, random) / mb : Number.POSITIVE_INFINITY;
    }
  }
  ratios.sort();
  const tail = (1 - opts.confidence) / 2;
  const low = ratios[Math.floor(tail * (opts.resamples - 1))]!;
  const high = ratios[Math.ceil((1 - tail) * (opts.resamples - 1))]!;

  // Changes are read as "how much worse": positive is worse in either direction.
  const worse =
    direction === 'lower-is-better'
      ? { point: ratio - 1, low: low - 1, high: high - 1 }
      : { point: 1 - ratio, low: 1 - high, high: 1 - low };
  const decision = decideChange(worse, opts.threshold, Math.max(baseline.length, candidate.length));
  const result: MetricComparison = {
    direction,
    baselineMedian,
    candidateMedian,
    ratio,
    low,
    high,
    verdict: decision.verdict,
  };
  if (decision.trialsNeeded !== undefined) result.trialsNeeded = decision.trialsNeeded;
  return result;
}

/**
 * Compares paired trials: trial i of each side ran at the same time (or back to back), so the
 * machine's state at that moment weighs on both. The ratio is estimated from the per-pair ratios
 * (their median, or Hodges–Lehmann) and its interval is a bootstrap over pairs: noise the two sides share cancels in each ratio, which
 * unpaired medians cannot do. Same verdicts as `compareTrials`.
 */
export function comparePairedTrials(
  baseline: readonly number[],
  candidate: readonly number[],
  direction: Direction,
  options: Partial<ComparisonOptions> = {},
): MetricComparison {
  const opts = { ...DEFAULT_COMPARISON, ...options };
  if (baseline.length !== candidate.length || baseline.length < 2)
    throw new Error(
      `a paired comparison needs the same number of trials on each side, at least 2 (got ${baseline.length} and ${candidate.length})`,
    );
  if (baseline.some((x) => !(x > 0))) throw new Error('every baseline trial must be above 0 to form a ratio');
  const ratios = baseline.map((b, i) => candidate[i]! / b);
  const seeded = new SeededRandom(opts.seed);
  const scratch = new Float64Array(ratios.length);
  const resampled = new Float64Array(opts.resamples);
  let ratio: number;
  if (opts.estimator === 'hodges-lehmann' && ratios.every((r) => r > 0)) {
    const logs = ratios.map(Math.log);
    const walsh = new Float64Array((logs.length * (logs.length + 1)) / 2);
    const center = (values: ArrayLike<number>) => {
      let k = 0;
      for (let i = 0; i < values.length; i++)
        for (let j = i; j < values.length; j++) walsh[k++] = (values[i]! + values[j]!) / 2;
      walsh.sort();
      return median(walsh);
    };
    ratio = Math.exp(center(logs));
    for (let i = 0; i < opts.resamples; i++) {
      for (let k = 0; k < scratch.length; k++) scratch[k] = logs[Math.floor(seeded.next() * logs.length)]!;
      resampled[i] = Math.exp(center(scratch));
    }
  } else {
    ratio = median([...ratios].sort((a, b) => a - b));
    for (let i = 0; i < opts.resamples; i++)
      resampled[i] = resampledMedian(ratios, scratch, () => seeded.next());
  }
  resampled.sort();
  const tail = (1 - opts.confidence) / 2;
  const low = resampled[Math.floor(tail * (opts.resamples - 1))]!;
  const high = resampled[Math.ceil((1 - tail) * (opts.resamples - 1))]!;
  const worse =
    direction === 'lower-is-better'
      ? { point: ratio - 1, low: low - 1, high: high - 1 }
      : { point: 1 - ratio, low: 1 - high, high: 1 - low };
  const decision = decideChange(worse, opts.threshold, ratios.length);
  const result: MetricComparison = {
    direction,
    baselineMedian: median([...baseline].sort((a, b) => a - b)),
    candidateMedian: median([...candidate].sort((a, b) => a - b)),
    ratio,
    low,
    high,
    verdict: decision.verdict,
  };
  if (decision.trialsNeeded !== undefined) result.trialsNeeded = decision.trialsNeeded;
  return result;
}

/** The two-sample Hodges–Lehmann shift of logs: the median of every difference b[j] − a[i]. */
function hodgesLehmannShift(pairs: number): (a: ArrayLike<number>, b: ArrayLike<number>) => number {
  const differences = new Float64Array(pairs);
  return (a, b) => {
    let k = 0;
    for (let i = 0; i < a.length; i++) for (let j = 0; j < b.length; j++) differences[k++] = b[j]! - a[i]!;
    differences.sort();
    return median(differences);
  };
}

/**
 * The decision rule of the gate, on a change expressed as "how much worse" (a relative change for
 * ratios, an absolute one for differences; positive is worse) with its interval.
 *
 * It aims at two error rates at once: a true change of the full threshold must be called a
 * regression almost always (≥ 95 %), and no change almost never (≤ 1 %). Requiring the whole
 * interval past the threshold meets the second but misses a true threshold-sized change about
 * half the time (the estimate itself falls below the threshold half the time). So:
 * - regression: the interval is wholly above 0 (the change is real) and the estimate is at least
 *   half the threshold (it is nearer the threshold than no change: the minimum detectable effect
 *   is half the threshold);
 * - improvement: the mirror image;
 * - unchanged: otherwise, when the interval excludes a change of the threshold either way;
 * - inconclusive: otherwise, with the trials per side that would narrow the interval's
 *   half-width to half the threshold (it narrows about as 1/√n).
 * With no change, a false alarm needs the estimate past both half the threshold and the interval's
 * width: at most the interval's one-sided error (2.5 % at 95 %), and far less once the noise is
 * well under the threshold. With a threshold-sized change and a half-width under half the
 * threshold, the estimate falls below half the threshold at most 2.5 % of the time. Changes
 * between half the threshold and the threshold are sometimes called: that is the price of
 * catching the threshold itself.
 */
export function decideChange(
  worse: { point: number; low: number; high: number },
  threshold: number,
  trialsPerSide: number,
): { verdict: Verdict; trialsNeeded?: number } {
  const half = threshold / 2;
  if (worse.low > 0 && worse.point >= half) return { verdict: 'regression' };
  if (worse.high < 0 && worse.point <= -half) return { verdict: 'improvement' };
  if (worse.high < threshold && worse.low > -threshold) return { verdict: 'unchanged' };
  const halfWidth = (worse.high - worse.low) / 2;
  const trialsNeeded =
    half > 0
      ? Math.min(1_000, Math.max(trialsPerSide + 1, Math.ceil(trialsPerSide * (halfWidth / half) ** 2)))
      : 1_000;
  return { verdict: 'inconclusive', trialsNeeded };
}

/** A comparison of a rate (e.g. the error rate) by the difference of means, in the rate's unit. */
export interface DifferenceComparison {
  direction: Direction;
  baselineMean: number;
  candidateMean: number;
  /** candidate mean − baseline mean. */
  difference: number;
  low: number;
  high: number;
  verdict: Verdict;
  trialsNeeded?: number;
}

/**
 * Compares trial rates by the difference of their means (a bootstrap interval), for figures where
 * a ratio means nothing: an error rate going from 0 to 0.2 % is an infinite ratio but a 0.2 pp
 * difference. `threshold` is absolute (0.001 = 0.1 percentage points).
 */
export function compareDifference(
  baseline: readonly number[],
  candidate: readonly number[],
  direction: Direction,
  options: Partial<ComparisonOptions> = {},
): DifferenceComparison {
  const opts = { ...DEFAULT_COMPARISON, ...options };
  if (baseline.length < 2 || candidate.length < 2) {
    throw new Error(
      `a comparison needs at least 2 trials per side (got ${baseline.length} and ${candidate.length})`,
    );
  }
  const mean = (xs: ArrayLike<number>) => {
    let total = 0;
    for (let i = 0; i < xs.length; i++) total += xs[i]!;
    return total / xs.length;
  };
  const seeded = new SeededRandom(opts.seed);
  const resampledMean = (values: readonly number[]) => {
    let total = 0;
    for (let i = 0; i < values.length; i++) total += values[Math.floor(seeded.next() * values.length)]!;
    return total / values.length;
  };
  const differences = new Float64Array(opts.resamples);
  for (let i = 0; i < opts.resamples; i++)
    differences[i] = resampledMean(candidate) - resampledMean(baseline);
  differences.sort();
  const tail = (1 - opts.confidence) / 2;
  const low = differences[Math.floor(tail * (opts.resamples - 1))]!;
  const high = differences[Math.ceil((1 - tail) * (opts.resamples - 1))]!;
  const baselineMean = mean(baseline);
  const candidateMean = mean(candidate);
  const difference = candidateMean - baselineMean;
  const worse =
    direction === 'lower-is-better'
      ? { point: difference, low, high }
      : { point: -difference, low: -high, high: -low };
  const decision = decideChange(worse, opts.threshold, Math.max(baseline.length, candidate.length));
  const result: DifferenceComparison = {
    direction,
    baselineMean,
    candidateMean,
    difference,
    low,
    high,
    verdict: decision.verdict,
  };
  if (decision.trialsNeeded !== undefined) result.trialsNeeded = decision.trialsNeeded;
  return result;
}
