import { execFileSync } from 'node:child_process';
import {
  analyzeSeries,
  type ChangePointOptions,
  type Creep,
  type SeriesChange,
} from '../analyzer/change-point.js';
import type { HostFingerprint } from '../baselines/host-fingerprint.js';
import { UsageInvalidError } from '../errors.js';
import type { HistoryMetric, HistoryStore, SeriesPoint } from './history-store.js';

/** Relative change each gate kind tolerates, as the regression gate's defaults (guide: 10 %, 20 %). */
export const HISTORY_THRESHOLDS: Partial<Record<HistoryMetric['gate'], number>> = {
  latency: 0.1,
  throughput: 0.1,
  resource: 0.2,
};

/** A change point of a recorded series, with the commits on either side of it. */
export interface HistoryChange extends SeriesChange {
  /** The last result of the old level and the first of the new one. */
  from: SeriesPoint;
  to: SeriesPoint;
  /** Whether it falls after the `since` ref. */
  sinceRef: boolean;
  /** A step in the worse direction at least as large as the gate's threshold. */
  regression: boolean;
}

/** One series (scenario × figure × host) and what the change-point analysis found in it. */
export interface SeriesReport {
  scenario: string;
  metric: HistoryMetric;
  host: HostFingerprint;
  threshold: number;
  points: SeriesPoint[];
  changes: HistoryChange[];
  /** Small steps adding up past the threshold, with at least one step after the `since` ref. */
  creep: Creep | null;
}

export interface HistoryQuery {
  scenario?: string;
  metric?: string;
  /** Only changes after this git ref (its descendants, from `git rev-list REF..HEAD`) count as new. */
  since?: string;
  /** Git checkout whose history orders the commits (default: the working directory). */
  cwd?: string;
  /** Overrides every gate's threshold, e.g. 0.05. */
  threshold?: number;
  changePoint?: Partial<ChangePointOptions>;
}

/** Commits after `ref` in the checkout at `cwd`; a ref git does not know is a usage error. */
export function commitsSince(ref: string, cwd = process.cwd()): Set<string> {
  try {
    const out = execFileSync('git', ['rev-list', `${ref}..HEAD`], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    return new Set(out.toString().split('\n').filter(Boolean));
  } catch (err) {
    throw new UsageInvalidError(
      `--since ${ref}: git does not know that ref here (${String((err as { stderr?: Buffer }).stderr ?? err).trim()}); give a commit, tag or branch of this checkout`,
    );
  }
}

/**
 * Every gated series of the history (or those of one scenario / figure), per host, with its change
 * points, the commits around each, regressions past the gate's threshold and creep.
 */
export async function historyChanges(store: HistoryStore, query: HistoryQuery = {}): Promise<SeriesReport[]> {
  const since = query.since ? commitsSince(query.since, query.cwd) : null;
  const scenarios = query.scenario ? [query.scenario] : await store.scenarios();
  const reports: SeriesReport[] = [];
  for (const scenario of scenarios) {
    const metrics = (await store.metrics(scenario)).filter((m) =>
      query.metric ? m.metric === query.metric : HISTORY_THRESHOLDS[m.gate] !== undefined,
    );
    if (query.metric && metrics.length === 0) {
      throw new UsageInvalidError(
        `the history of ${scenario} has no figure "${query.metric}"; "headroom history show ${scenario}" lists them`,
      );
    }
    for (const { host } of await store.hosts(scenario)) {
      for (const metric of metrics) {
        const points = await store.series(scenario, metric.metric, host.id);
        if (points.length === 0) continue;
        const threshold = query.threshold ?? HISTORY_THRESHOLDS[metric.gate] ?? 0.1;
        reports.push(seriesReport(scenario, metric, host, points, threshold, since, query.changePoint));
      }
    }
  }
  return reports;
}

function seriesReport(
  scenario: string,
  metric: HistoryMetric,
  host: HostFingerprint,
  points: SeriesPoint[],
  threshold: number,
  since: Set<string> | null,
  changePoint: Partial<ChangePointOptions> | undefined,
): SeriesReport {
  const analysis = analyzeSeries(
    points.map((p) => p.value),
    metric.direction,
    { ...changePoint, threshold },
  );
  const isNew = (index: number) =>
    !since || (points[index]?.commit != null && since.has(points[index]!.commit!));
  const changes = analysis.changes.map(
    (c): HistoryChange => ({
      ...c,
      from: points[c.index - 1]!,
      to: points[c.index]!,
      sinceRef: isNew(c.index),
      // Past the threshold, and the interval clear of no change at all.
      regression:
        c.worse && Math.abs(c.change) >= threshold && (c.change > 0 ? c.changeLow > 0 : c.changeHigh < 0),
    }),
  );
  const creep = analysis.creep?.steps.some(isNew) ? analysis.creep : null;
  return { scenario, metric, host, threshold, points, changes, creep };
}

/** Whether a nightly job should fail: a regression past the threshold, or creep, after the ref. */
export function historyFails(reports: readonly SeriesReport[]): boolean {
  return reports.some((r) => r.creep !== null || r.changes.some((c) => c.regression && c.sinceRef));
}
