import { analyzeSeries, type Creep } from '../analyzer/change-point.js';
import { medianOf } from '../analyzer/comparison.js';
import { tQuantile } from '../analyzer/linear-trend.js';
import { HISTORY_THRESHOLDS } from './history-changes.js';
import type { HistoryEntry, HistoryMetric, HistoryStore, SeriesPoint } from './history-store.js';

/**
 * A result against the recent history of its own series on this host (Bencher's "statistical"
 * threshold): the head is compared with the distribution of the last results, not with one base.
 * The pairwise gate sees one change at a time; this sees where the series has been.
 *
 * The bound is a one-sided 99.9 % prediction bound of one new result from the recent points,
 * centred on their median and scaled by their MAD (×1.4826, the standard deviation of normal noise),
 * so one wild point in the history neither moves the centre nor widens the bound much. A figure is
 * a regression only when it is past that bound *and* worse than the recent median by at least the
 * gate's threshold: a history of very quiet points would otherwise call 2 % a regression.
 */
export interface RecentHistoryOptions {
  /** How many of the latest results of a series make its recent distribution. */
  window: number;
  /** Fewest recent results for a verdict; with fewer the figure is reported as too short. */
  minPoints: number;
  /** One-sided tail of the prediction bound: a gate reads many figures, so each gets a small one. */
  tail: number;
  /** Overrides every gate's threshold (e.g. 0.05). */
  threshold?: number;
}

export const DEFAULT_RECENT_HISTORY: RecentHistoryOptions = { window: 30, minPoints: 8, tail: 0.001 };

export type RecentVerdict = 'regression' | 'improvement' | 'within' | 'too-few';

/** One figure of one scenario: the head's value against its series' recent results. */
export interface RecentComparison {
  scenario: string;
  metric: HistoryMetric;
  head: number;
  /** Recent results compared with (at most `window`, this host, other commits than the head's). */
  points: number;
  median: number;
  /** The prediction bound on the worse side; null with too few points. */
  bound: number | null;
  /** head ÷ median − 1. */
  change: number;
  threshold: number;
  verdict: RecentVerdict;
  /** Small steps adding up past the threshold in the series with the head at its end. */
  creep: Creep | null;
}

/**
 * Compares each gated figure of `entries` (one per scenario, as recorded) with the recent history
 * of its series on the entry's host. Results of the head's own commit are left out: a rerun of the
 * same commit is not its history.
 */
export async function compareWithRecentHistory(
  store: HistoryStore,
  entries: readonly HistoryEntry[],
  opts: Partial<RecentHistoryOptions> = {},
): Promise<RecentComparison[]> {
  const o = { ...DEFAULT_RECENT_HISTORY, ...opts };
  const out: RecentComparison[] = [];
  for (const entry of entries) {
    const known = new Map((await store.metrics(entry.scenario)).map((m) => [m.metric, m]));
    for (const [name, figure] of Object.entries(entry.figures)) {
      const threshold = o.threshold ?? HISTORY_THRESHOLDS[figure.gate];
      if (threshold === undefined || !Number.isFinite(figure.value) || !known.has(name)) continue;
      const series = (await store.series(entry.scenario, name, entry.host.id)).filter(
        (p) => entry.commit === null || p.commit !== entry.commit,
      );
      const metric: HistoryMetric = {
        metric: name,
        unit: figure.unit,
        direction: figure.direction,
        gate: figure.gate,
      };
      out.push(compareWithSeries(entry.scenario, metric, figure.value, series, threshold, o));
    }
  }
  return out;
}

/** The comparison of one value with one series (oldest first); exported for tests on known series. */
export function compareWithSeries(
  scenario: string,
  metric: HistoryMetric,
  head: number,
  series: readonly SeriesPoint[],
  threshold: number,
  opts: RecentHistoryOptions = DEFAULT_RECENT_HISTORY,
): RecentComparison {
  const recent = series.slice(-opts.window).map((p) => p.value);
  const median = medianOf(recent);
  const change = median > 0 ? head / median - 1 : 0;
  const lowerIsBetter = metric.direction === 'lower-is-better';
  const worse = lowerIsBetter ? change > 0 : change < 0;
  const base = { scenario, metric, head, points: recent.length, median, change, threshold };
  // Creep is read over the whole stored series, the head last: steps add up across any window.
  const values = [...series.map((p) => p.value), head];
  const creep = values.length >= 8 ? analyzeSeries(values, metric.direction, { threshold }).creep : null;
  if (recent.length < opts.minPoints) return { ...base, bound: null, verdict: 'too-few', creep };
  const n = recent.length;
  const mad = medianOf(recent.map((v) => Math.abs(v - median)));
  const scale = mad > 0 ? 1.4826 * mad : standardDeviation(recent);
  const spread = tQuantile(1 - opts.tail, n - 1) * scale * Math.sqrt(1 + 1 / n);
  const bound = lowerIsBetter ? median + spread : median - spread;
  const beyond = lowerIsBetter ? head > bound : head < bound;
  const pastThreshold = Math.abs(change) >= threshold;
  let verdict: RecentVerdict = 'within';
  if (pastThreshold && worse && beyond) verdict = 'regression';
  else if (pastThreshold && !worse && (lowerIsBetter ? head < median - spread : head > median + spread))
    verdict = 'improvement';
  return { ...base, bound, verdict, creep };
}

/** Whether the head fails against its history: a regression, or creep when it is asked to count. */
/** A relative change as `+17.2 %` or `−3.0 %`. */
export const pct = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)} %`;

/** Each figure that fails the gate against its recent history, as `api-stress latency.p99 +17.2 %` (or `… creep +12.0 %`). */
export function recentHistoryFailures(
  comparisons: readonly RecentComparison[],
  failOnCreep: boolean,
): string[] {
  return comparisons.flatMap((c) => {
    if (c.verdict === 'regression') return [`${c.scenario} ${c.metric.metric} ${pct(c.change)}`];
    if (failOnCreep && c.creep) return [`${c.scenario} ${c.metric.metric} creep ${pct(c.creep.change)}`];
    return [];
  });
}

function standardDeviation(values: readonly number[]): number {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / Math.max(1, values.length - 1));
}
