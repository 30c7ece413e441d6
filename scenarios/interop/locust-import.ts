import { parse } from 'csv-parse/sync';
import { ImportInvalidError } from '../../errors.js';
import {
  checkRunResult,
  type RunResult,
  type RunStep,
  type TimeSeriesPoint,
} from '../../results/run-result.js';
import type { ErrorClass } from '../error-class.js';
import { type ImportOptions, importedHeader } from './imported-result.js';
import { histogramFromPercentiles, type ReportedPercentile } from './percentile-histogram.js';

/** The texts of the CSV files `locust --csv PREFIX` writes. */
export interface LocustCsv {
  /** `PREFIX_stats.csv`: one row per request name, then `Aggregated`. */
  stats: string;
  /** `PREFIX_stats_history.csv`: a row about every second; gives the time series. */
  history?: string;
  /** `PREFIX_failures.csv`: failures by name and error text; gives the error classes. */
  failures?: string;
}

/** Options of a Locust import beyond the common ones. */
export interface LocustImportOptions extends ImportOptions {
  /** Step names in flow order; default: the order of the stats file. */
  stepOrder?: string[];
}

type Row = Record<string, string>;

function readCsv(text: string, file: string, what: string, required: string[], allowEmpty = false): Row[] {
  let rows: Row[];
  try {
    rows = parse(text, { columns: true, skip_empty_lines: true, relax_column_count: true }) as Row[];
  } catch (err) {
    throw new ImportInvalidError(file, [`the ${what} is not CSV (${(err as Error).message})`]);
  }
  // Locust writes the failures file with its header only when nothing failed.
  if (rows.length === 0 && allowEmpty) return rows;
  const header = rows[0] ? Object.keys(rows[0]) : [];
  const missing = required.filter((c) => !header.includes(c));
  if (rows.length === 0 || missing.length)
    throw new ImportInvalidError(file, [
      rows.length === 0
        ? `the ${what} has no rows`
        : `the ${what} has no column ${missing.map((c) => `"${c}"`).join(', ')}: is it Locust's --csv output?`,
    ]);
  return rows;
}

const num = (value: string | undefined): number | undefined => {
  if (value === undefined || value === '' || value === 'N/A') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
};

/** The error class of a Locust failure text (our locustfiles write `status 503`; Locust writes exception reprs). */
export function classifyLocustError(text: string): ErrorClass {
  const status =
    /(?:status |HTTPError\(')(\d{3})/.exec(text) ?? /\b([45]\d{2}) (?:Client|Server) Error/.exec(text);
  if (status) return Number(status[1]) >= 500 ? 'http_5xx' : 'http_4xx';
  if (/ConnectionRefused|Connection refused/i.test(text)) return 'connection_refused';
  if (/timed? ?out|Timeout/i.test(text)) return 'timeout';
  if (/ConnectionReset|RemoteDisconnected|BrokenPipe|Connection aborted/i.test(text))
    return 'connection_reset';
  if (/^capture /.test(text)) return 'capture_missing';
  return 'other';
}

/**
 * Converts Locust's `--csv` output into a RunResult with engine `locust`.
 *
 * Steps: one per request name of `_stats.csv` (method and name; a name used with two methods
 * becomes two steps). Requests are its `Request Count`, which in Locust includes failures.
 * Latency: Locust keeps response times rounded (to 2 significant digits above 100 ms) and
 * reports percentiles 50 % … 100 %, so each step's histogram is rebuilt with
 * histogramFromPercentiles (one value per request, reading back min, every reported percentile
 * and max; linear between them). Locust times from the actual send, so latency and service time
 * are the same histogram. Failures: by class from `_failures.csv` when given, else all as `other`.
 * Duration: `Request Count ÷ Requests/s` of the Aggregated row (Locust's own elapsed time).
 * Time series: from `_stats_history.csv`'s Aggregated rows: requests and failures per second from
 * the cumulative totals, p95 as Locust's (over its last 10 s), in flight as its user count.
 */
export function importLocustCsv(csv: LocustCsv, file: string, options: LocustImportOptions = {}): RunResult {
  const rows = readCsv(csv.stats, file, 'stats file', ['Name', 'Request Count', 'Failure Count', '95%']);
  const aggregated = rows.find((r) => r.Name === 'Aggregated');
  const stepRows = rows.filter((r) => r.Name !== 'Aggregated');
  const percentileColumns = Object.keys(rows[0]!).flatMap((c) => {
    const m = /^(\d+(?:\.\d+)?)%$/.exec(c);
    return m ? [{ column: c, percentile: Number(m[1]) }] : [];
  });
  const methodsByName = new Map<string, number>();
  for (const r of stepRows) methodsByName.set(r.Name!, (methodsByName.get(r.Name!) ?? 0) + 1);
  const stepName = (r: Row) => ((methodsByName.get(r.Name!) ?? 0) > 1 ? `${r.Type} ${r.Name}` : r.Name!);

  const failuresByStep = new Map<string, Record<string, number>>();
  if (csv.failures) {
    const failures = readCsv(csv.failures, file, 'failures file', ['Name', 'Error', 'Occurrences'], true);
    for (const f of failures) {
      const name = (methodsByName.get(f.Name!) ?? 0) > 1 ? `${f.Method} ${f.Name}` : f.Name!;
      const errors = failuresByStep.get(name) ?? {};
      const cls = classifyLocustError(f.Error ?? '');
      errors[cls] = (errors[cls] ?? 0) + (num(f.Occurrences) ?? 0);
      failuresByStep.set(name, errors);
    }
  }

  const problems: string[] = [];
  let steps: RunStep[] = stepRows.map((r, i) => {
    const count = num(r['Request Count']);
    const failed = num(r['Failure Count']) ?? 0;
    if (count === undefined) problems.push(`stats row ${i + 1} (${r.Name}): "Request Count" is not a number`);
    const percentiles: ReportedPercentile[] = percentileColumns.flatMap(({ column, percentile }) => {
      const v = num(r[column]);
      return v === undefined || percentile >= 100 ? [] : [{ percentile, valueMs: v }];
    });
    const histogram = histogramFromPercentiles({
      count: count ?? 0,
      minMs: num(r['Min Response Time']) ?? percentiles[0]?.valueMs ?? 0,
      maxMs: num(r['100%']) ?? num(r['Max Response Time']) ?? 0,
      percentiles,
    });
    const encoded = histogram.encode();
    const name = stepName(r);
    let errors = failuresByStep.get(name) ?? {};
    const classified = Object.values(errors).reduce((a, b) => a + b, 0);
    // Failures the failures file does not explain (or no file given) stay counted, as `other`.
    if (failed > classified) errors = { ...errors, other: (errors.other ?? 0) + failed - classified };
    return { name, requests: count ?? 0, errors, latencyHistogram: encoded, serviceHistogram: encoded };
  });
  if (problems.length) throw new ImportInvalidError(file, problems);
  if (options.stepOrder) {
    const order = options.stepOrder;
    const rank = (s: RunStep) => (order.includes(s.name) ? order.indexOf(s.name) : order.length);
    steps = [...steps].sort((a, b) => rank(a) - rank(b));
  }

  const total = num(aggregated?.['Request Count']) ?? steps.reduce((t, s) => t + s.requests, 0);
  const rps = num(aggregated?.['Requests/s']);
  const history = csv.history ? historySeries(csv.history, file) : { points: [], durationMs: 0 };
  const result: RunResult = {
    ...importedHeader('locust', file, options),
    target: options.target ?? 'unknown (Locust CSV)',
    durationMs: rps && rps > 0 ? (total / rps) * 1_000 : history.durationMs,
    steps,
    timeSeries: history.points,
    serverSamples: [],
  };
  return checkRunResult(result, file);
}

function historySeries(text: string, file: string): { points: TimeSeriesPoint[]; durationMs: number } {
  const rows = readCsv(text, file, 'stats history file', [
    'Timestamp',
    'User Count',
    'Name',
    'Total Request Count',
    'Total Failure Count',
  ]).filter((r) => r.Name === 'Aggregated');
  // The series starts at the first row with users or requests (setup before the load is left out).
  const first = rows.findIndex(
    (r) => (num(r['User Count']) ?? 0) > 0 || (num(r['Total Request Count']) ?? 0) > 0,
  );
  if (first < 0) return { points: [], durationMs: 0 };
  const startSec = num(rows[first]!.Timestamp) ?? 0;
  const points: TimeSeriesPoint[] = [];
  let requestsBefore = num(rows[first - 1]?.['Total Request Count']) ?? 0;
  let failuresBefore = num(rows[first - 1]?.['Total Failure Count']) ?? 0;
  let lastSec = startSec;
  for (const r of rows.slice(first)) {
    const atSec = num(r.Timestamp) ?? lastSec;
    lastSec = atSec;
    const tSec = Math.max(0, Math.round(atSec - startSec));
    while (points.length <= tSec)
      points.push({ tSec: points.length, requests: 0, errors: 0, p95Ms: null, inFlight: 0 });
    const point = points[tSec]!;
    const requests = num(r['Total Request Count']) ?? requestsBefore;
    const failures = num(r['Total Failure Count']) ?? failuresBefore;
    point.requests += Math.max(0, requests - requestsBefore);
    point.errors += Math.max(0, failures - failuresBefore);
    requestsBefore = requests;
    failuresBefore = failures;
    const p95 = num(r['95%']);
    if (p95 !== undefined) point.p95Ms = p95;
    point.inFlight = Math.max(0, Math.round(num(r['User Count']) ?? 0));
  }
  return { points, durationMs: (lastSec - startSec) * 1_000 };
}
