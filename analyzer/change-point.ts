import { SeededRandom } from '../pipeline/sim/seeded-random.js';
import { compareTrials, type Direction, medianOf } from './comparison.js';

/**
 * Change points of a series by E-Divisive means (Matteson & James, 2014), as MongoDB's CI (Daly et
 * al., ICPE 2020) and Apache Otava use it: binary segmentation on the energy statistic with α = 1,
 * each split kept only when a permutation test finds it significant. α = 1 weighs a far outlier by
 * its distance, not its square, so one wild point does not make a change.
 *
 * Speed: for α = 1 on one dimension, the sums of |xᵢ − xⱼ| within and across the two sides of every
 * split come from prefix sums over ranks (Fenwick trees), so one scan of a segment costs O(n log n)
 * instead of the O(n²) of the textbook form, and so does each permutation. A permutation test stops
 * as soon as it cannot reach significance.
 */
export interface ChangePointOptions {
  /** Largest p-value of the permutation test that keeps a split. */
  pValue: number;
  /** Permutations per test. With 199 and p 0.005 a split must beat every permutation. */
  permutations: number;
  /** Fewest points on each side of a split. */
  minSegment: number;
  /** Seed of the permutations: the same series, the same answer. */
  seed: number;
}

export const DEFAULT_CHANGE_POINT: ChangePointOptions = {
  pValue: 0.005,
  permutations: 199,
  minSegment: 3,
  seed: 1,
};

/** One change: the series' level moves between `index − 1` and `index`. */
export interface ChangePoint {
  /** First point of the new level. */
  index: number;
  /** The permutation test's p-value. */
  pValue: number;
  /** The energy statistic of the split (larger is a clearer change). */
  statistic: number;
}

/** Finds the change points of `values`, in index order. */
export function findChangePoints(
  values: readonly number[],
  opts: Partial<ChangePointOptions> = {},
): ChangePoint[] {
  const o = { ...DEFAULT_CHANGE_POINT, ...opts };
  const random = new SeededRandom(o.seed);
  const found: ChangePoint[] = [];
  // Binary segmentation: a kept split makes two segments, each searched again.
  const pending: Array<[number, number]> = [[0, values.length]];
  while (pending.length > 0) {
    const [start, end] = pending.pop()!;
    if (end - start < 2 * o.minSegment) continue;
    const segment = values.slice(start, end);
    const best = bestSplit(segment, o.minSegment);
    if (!best) continue;
    const p = permutationPValue(segment, best.statistic, o, random);
    if (p > o.pValue) continue;
    found.push({ index: start + best.index, pValue: p, statistic: best.statistic });
    pending.push([start, start + best.index], [start + best.index, end]);
  }
  return found.sort((a, b) => a.index - b.index);
}

/** The split of `x` with the largest energy statistic Q(τ), with at least `minSegment` points a side. */
export function bestSplit(
  x: readonly number[],
  minSegment: number,
): { index: number; statistic: number } | null {
  return bestRankedSplit(x, rankOf(x), minSegment);
}

/** {@link bestSplit} with the ranks of `x` given: a shuffle moves values and ranks together, no new sort. */
function bestRankedSplit(
  x: ArrayLike<number>,
  ranks: ArrayLike<number>,
  minSegment: number,
): { index: number; statistic: number } | null {
  const n = x.length;
  if (n < 2 * minSegment) return null;
  // within[τ]: Σ|xᵢ − xⱼ| over pairs inside x[0, τ); withinRight[τ]: inside x[τ, n).
  const withinLeft = new Float64Array(n + 1);
  const left = new RankSums(n);
  for (let i = 0; i < n; i++) {
    withinLeft[i + 1] = withinLeft[i]! + left.distanceSum(ranks[i]!, x[i]!);
    left.add(ranks[i]!, x[i]!);
  }
  const withinRight = new Float64Array(n + 1);
  const right = new RankSums(n);
  for (let i = n - 1; i >= 0; i--) {
    withinRight[i] = withinRight[i + 1]! + right.distanceSum(ranks[i]!, x[i]!);
    right.add(ranks[i]!, x[i]!);
  }
  const total = withinLeft[n]!;
  let best: { index: number; statistic: number } | null = null;
  for (let tau = minSegment; tau <= n - minSegment; tau++) {
    const m = tau;
    const k = n - tau;
    const inLeft = withinLeft[tau]!;
    const inRight = withinRight[tau]!;
    const across = total - inLeft - inRight;
    const energy =
      (2 * across) / (m * k) - inLeft / ((m * (m - 1)) / 2 || 1) - inRight / ((k * (k - 1)) / 2 || 1);
    const statistic = ((m * k) / n) * energy;
    if (!best || statistic > best.statistic) best = { index: tau, statistic };
  }
  return best;
}

/**
 * The share of shuffles of `x` whose best split is at least as strong as the observed one, counting
 * the observed series itself ((c + 1) / (R + 1)). Stops once the answer can no longer be ≤ pValue.
 */
function permutationPValue(
  x: readonly number[],
  observed: number,
  o: ChangePointOptions,
  random: SeededRandom,
): number {
  const copy = Float64Array.from(x);
  // Ranks follow their values through a shuffle (ties are equal values, 0 apart whatever their order).
  const ranks = rankOf(x);
  const allowed = Math.floor(o.pValue * (o.permutations + 1)) - 1;
  let atLeast = 0;
  for (let r = 0; r < o.permutations; r++) {
    for (let i = copy.length - 1; i > 0; i--) {
      const j = random.int(i + 1);
      const t = copy[i]!;
      copy[i] = copy[j]!;
      copy[j] = t;
      const q = ranks[i]!;
      ranks[i] = ranks[j]!;
      ranks[j] = q;
    }
    if (bestRankedSplit(copy, ranks, o.minSegment)!.statistic >= observed) {
      atLeast++;
      if (atLeast > allowed) return (atLeast + 1) / (r + 2);
    }
  }
  return (atLeast + 1) / (o.permutations + 1);
}

/** Rank of each value (ties share the lowest rank, ordered by position), 0-based. */
function rankOf(x: readonly number[]): Int32Array {
  const order = Array.from(x.keys()).sort((a, b) => x[a]! - x[b]! || a - b);
  const ranks = new Int32Array(x.length);
  order.forEach((index, rank) => {
    ranks[index] = rank;
  });
  return ranks;
}

/** Count and sum of the values added so far, by rank (two Fenwick trees): Σ|v − xᵢ| in O(log n). */
class RankSums {
  private readonly count: Float64Array;
  private readonly sum: Float64Array;
  private added = 0;
  private addedSum = 0;

  constructor(size: number) {
    this.count = new Float64Array(size + 1);
    this.sum = new Float64Array(size + 1);
  }

  add(rank: number, value: number): void {
    for (let i = rank + 1; i < this.count.length; i += i & -i) {
      this.count[i]! += 1;
      this.sum[i]! += value;
    }
    this.added++;
    this.addedSum += value;
  }

  /** Σ|value − xᵢ| over the values added so far. */
  distanceSum(rank: number, value: number): number {
    let below = 0;
    let belowSum = 0;
    for (let i = rank; i > 0; i -= i & -i) {
      below += this.count[i]!;
      belowSum += this.sum[i]!;
    }
    const above = this.added - below;
    const aboveSum = this.addedSum - belowSum;
    return value * below - belowSum + (aboveSum - value * above);
  }
}

/** A change point with what it means: the levels on either side and the size of the step. */
export interface SeriesChange extends ChangePoint {
  /** Median of the level before (up to `window` points back, never past the previous change). */
  beforeMedian: number;
  afterMedian: number;
  /** after ÷ before − 1, with its bootstrap interval. */
  change: number;
  changeLow: number;
  changeHigh: number;
  /** Whether the step makes the figure worse, given its direction. */
  worse: boolean;
}

/** A slow drift: the level now against the level at the start, when no single step is as large. */
export interface Creep {
  /** Index where the comparison starts (the first point, or the first after `since`). */
  fromIndex: number;
  /** Median of the first level against the last one, and the relative change. */
  fromMedian: number;
  toMedian: number;
  change: number;
  /** The steps that add up to it (their indices). */
  steps: number[];
}

export interface SeriesAnalysis {
  changes: SeriesChange[];
  /** Set when the series has drifted past the threshold in the worse direction in steps each below it. */
  creep: Creep | null;
}

/**
 * Finds the change points of a series of one figure and sizes each step (ratio of the medians of
 * the levels either side, with a bootstrap interval); reports creep when the last level is past
 * `threshold` of the first in the worse direction while no single step is.
 */
export function analyzeSeries(
  values: readonly number[],
  direction: Direction,
  opts: Partial<ChangePointOptions> & { threshold?: number; window?: number } = {},
): SeriesAnalysis {
  const threshold = opts.threshold ?? 0.1;
  const window = opts.window ?? 200;
  const points = findChangePoints(values, opts);
  const bounds = [0, ...points.map((p) => p.index), values.length];
  const changes = points.map((p, i): SeriesChange => {
    const before = values.slice(Math.max(bounds[i]!, p.index - window), p.index);
    const after = values.slice(p.index, Math.min(bounds[i + 2]!, p.index + window));
    const beforeMedian = medianOf(before);
    if (!(beforeMedian > 0)) {
      // A level of 0 (an error rate, say) has no ratio: the step is the difference, without interval.
      const step = medianOf(after) - beforeMedian;
      const worse = direction === 'lower-is-better' ? step > 0 : step < 0;
      return {
        ...p,
        beforeMedian,
        afterMedian: beforeMedian + step,
        change: step,
        changeLow: step,
        changeHigh: step,
        worse,
      };
    }
    const c = compareTrials(before, after, direction, {
      threshold,
      confidence: 0.95,
      resamples: 2_000,
      seed: opts.seed ?? 1,
    });
    const change = c.ratio - 1;
    return {
      ...p,
      beforeMedian: c.baselineMedian,
      afterMedian: c.candidateMedian,
      change,
      changeLow: c.low - 1,
      changeHigh: c.high - 1,
      worse: direction === 'lower-is-better' ? change > 0 : change < 0,
    };
  });
  return { changes, creep: creepOf(values, bounds, changes, direction, threshold) };
}

function creepOf(
  values: readonly number[],
  bounds: number[],
  changes: SeriesChange[],
  direction: Direction,
  threshold: number,
): Creep | null {
  if (changes.length < 2) return null;
  const first = medianOf(values.slice(bounds[0], bounds[1]));
  const last = medianOf(values.slice(bounds.at(-2), bounds.at(-1)));
  const change = last / first - 1;
  const worse = direction === 'lower-is-better' ? change >= threshold : change <= -threshold;
  const anyStepPast = changes.some((c) => c.worse && Math.abs(c.change) >= threshold);
  if (!worse || anyStepPast) return null;
  return {
    fromIndex: 0,
    fromMedian: first,
    toMedian: last,
    change,
    steps: changes.filter((c) => c.worse).map((c) => c.index),
  };
}
