import { Ajv } from 'ajv';
import { ImportInvalidError } from '../../errors.js';
import {
  checkRunResult,
  type RunMetric,
  type RunResult,
  type RunStep,
  type TimeSeriesPoint,
} from '../../results/run-result.js';
import { explainSchemaErrors } from '../../schema-error.js';
import type { ErrorClass } from '../error-class.js';
import { ARTILLERY_ENDPOINT_PREFIX } from './artillery-export.js';
import { type ImportOptions, importedHeader } from './imported-result.js';
import { histogramFromPercentiles, type ReportedPercentile } from './percentile-histogram.js';

/** A summary of one Artillery histogram (milliseconds), as the report keeps it. */
interface ArtillerySummary {
  count: number;
  min: number;
  max: number;
  mean?: number;
  median?: number;
  p50?: number;
  p75?: number;
  p90?: number;
  p95?: number;
  p99?: number;
  p999?: number;
}

/** The aggregate, or one 10 s period, of an Artillery report. */
interface ArtilleryPeriod {
  counters: Record<string, number>;
  summaries: Record<string, ArtillerySummary>;
  firstMetricAt?: number;
  lastMetricAt?: number;
  period?: number | string;
}

interface ArtilleryReport {
  aggregate: ArtilleryPeriod;
  intermediate: ArtilleryPeriod[];
}

const period = {
  type: 'object',
  required: ['counters', 'summaries'],
  properties: {
    counters: { type: 'object', additionalProperties: { type: 'number' } },
    summaries: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        required: ['count', 'min', 'max'],
        properties: {
          count: { type: 'number', minimum: 0 },
          min: { type: 'number' },
          max: { type: 'number' },
        },
      },
    },
    firstMetricAt: { type: 'number' },
    lastMetricAt: { type: 'number' },
  },
};
const reportSchema = {
  type: 'object',
  required: ['aggregate'],
  properties: { aggregate: period, intermediate: { type: 'array', items: period } },
};
const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
const validateReport = ajv.compile(reportSchema);

/** Options of an Artillery import beyond the common ones. */
export interface ArtilleryImportOptions extends ImportOptions {
  /** Step names in flow order (from the scenario); default: the order the report lists them. */
  stepOrder?: string[];
}

/** Percentile fields of an Artillery summary and the percentile each one is. */
const PERCENTILE_FIELDS: Array<[keyof ArtillerySummary, number]> = [
  ['p50', 50],
  ['p75', 75],
  ['p90', 90],
  ['p95', 95],
  ['p99', 99],
  ['p999', 99.9],
];

function reportedPercentiles(s: ArtillerySummary): ReportedPercentile[] {
  const out: ReportedPercentile[] = [];
  for (const [field, percentile] of PERCENTILE_FIELDS) {
    const value = field === 'p50' ? (s.p50 ?? s.median) : s[field];
    if (typeof value === 'number') out.push({ percentile, valueMs: value });
  }
  return out;
}

/** The error class of an Artillery error counter (`errors.ETIMEDOUT`, …). */
function classifyArtilleryError(code: string): ErrorClass {
  if (/TIMEDOUT|timeout/i.test(code)) return 'timeout';
  if (code === 'ECONNREFUSED') return 'connection_refused';
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED') return 'connection_reset';
  if (/capture/i.test(code)) return 'capture_missing';
  return 'other';
}

/** Failures by class from counters `<prefix>codes.<status>` and `<prefix>errors.<code>`; and how many of each kind. */
function countOutcomes(
  counters: Record<string, number>,
  prefix: string,
): { responses: number; failedWithoutResponse: number; errors: Record<string, number> } {
  const errors: Record<string, number> = {};
  let responses = 0;
  let failedWithoutResponse = 0;
  for (const [name, value] of Object.entries(counters)) {
    if (!name.startsWith(prefix)) continue;
    const rest = name.slice(prefix.length);
    const code = /^codes\.(\d{3})$/.exec(rest);
    if (code) {
      const status = Number(code[1]);
      responses += value;
      if (status >= 400) {
        const cls = status >= 500 ? 'http_5xx' : 'http_4xx';
        errors[cls] = (errors[cls] ?? 0) + value;
      }
    } else if (rest.startsWith('errors.')) {
      // The expect plugin's failures are 4xx/5xx answers, already counted by their status code.
      if (rest.startsWith('errors.Failed expectations')) continue;
      const cls = classifyArtilleryError(rest.slice('errors.'.length));
      errors[cls] = (errors[cls] ?? 0) + value;
      failedWithoutResponse += value;
    }
  }
  return { responses, failedWithoutResponse, errors };
}

/**
 * Converts an Artillery report (`artillery run --output report.json`) into a RunResult with
 * engine `artillery`.
 *
 * Steps: one per request name when the script enabled the metrics-by-endpoint plugin with
 * `useOnlyRequestNames` (as "headroom export artillery" does), else one step `http` for all
 * requests. Requests of a step are its responses (`codes.*` counters) plus its requests that
 * failed without one (`errors.*`); without the plugin, `http.requests`.
 *
 * Latency: Artillery keeps summaries (count, min, max, median, p75, p90, p95, p99, p999), not its
 * samples, so each step's histogram is rebuilt with histogramFromPercentiles: one value per
 * response, pinned so that it reads back every reported percentile, min and max (to HdrHistogram's
 * 0.1 %), linear between them. Percentiles between two reported ones (say p97) are therefore an
 * interpolation, and the mean is not Artillery's (kept as the metric `latency_mean_reported`).
 * Artillery measures from the actual send (time to first byte), so latency and service time are
 * the same histogram: there is no coordinated-omission correction to carry over.
 *
 * Time series: Artillery reports in periods of 10 s (`intermediate`); each period's responses and
 * errors are spread evenly over the seconds it covers, each carrying the period's p95.
 */
export function importArtilleryReport(
  json: unknown,
  file: string,
  options: ArtilleryImportOptions = {},
): RunResult {
  if (!validateReport(json)) {
    throw new ImportInvalidError(file, [
      'it is not an Artillery report (artillery run --output FILE):',
      ...explainSchemaErrors(validateReport.errors!),
    ]);
  }
  const report = json as unknown as ArtilleryReport;
  const { aggregate } = report;
  const endpointLatency = `${ARTILLERY_ENDPOINT_PREFIX}.response_time.`;
  const listed = Object.keys(aggregate.summaries)
    .filter((k) => k.startsWith(endpointLatency))
    .map((k) => k.slice(endpointLatency.length));
  for (const name of Object.keys(aggregate.counters)) {
    const m = new RegExp(
      `^${ARTILLERY_ENDPOINT_PREFIX.replace(/\./g, '\\.')}\\.(.+)\\.(codes|errors)\\.[^.]+$`,
    ).exec(name);
    if (m && !m[1]!.startsWith('response_time') && !listed.includes(m[1]!)) listed.push(m[1]!);
  }
  const names = options.stepOrder
    ? [
        ...options.stepOrder.filter((n) => listed.includes(n)),
        ...listed.filter((n) => !options.stepOrder!.includes(n)),
      ]
    : listed;

  const stepOf = (
    name: string,
    summary: ArtillerySummary | undefined,
    prefix: string,
    sent?: number,
  ): RunStep => {
    const outcome = countOutcomes(aggregate.counters, prefix);
    const histogram = histogramFromPercentiles({
      count: summary?.count ?? 0,
      minMs: summary?.min ?? 0,
      maxMs: summary?.max ?? 0,
      percentiles: summary ? reportedPercentiles(summary) : [],
    });
    const encoded = histogram.encode();
    return {
      name,
      requests: sent ?? outcome.responses + outcome.failedWithoutResponse,
      errors: outcome.errors,
      latencyHistogram: encoded,
      serviceHistogram: encoded,
    };
  };
  let steps: RunStep[];
  if (names.length) {
    steps = names.map((name) =>
      stepOf(name, aggregate.summaries[`${endpointLatency}${name}`], `${ARTILLERY_ENDPOINT_PREFIX}.${name}.`),
    );
  } else {
    const all = aggregate.summaries['http.response_time'];
    if (!all && aggregate.counters['http.requests'] === undefined)
      throw new ImportInvalidError(file, [
        'the report has no HTTP figures (no http.response_time summary, no http.requests counter): was it an HTTP test?',
      ]);
    steps = [stepOf('http', all, 'http.', Math.round(aggregate.counters['http.requests'] ?? 0))];
    // Without the plugin, failures without a response are under `errors.`, not `http.errors.`.
    const transport = countOutcomes(aggregate.counters, '');
    for (const [cls, n] of Object.entries(transport.errors))
      if (!cls.startsWith('http_')) steps[0]!.errors[cls] = (steps[0]!.errors[cls] ?? 0) + n;
  }

  const startMs = aggregate.firstMetricAt ?? report.intermediate[0]?.firstMetricAt ?? 0;
  const endMs = aggregate.lastMetricAt ?? startMs;
  const metrics: Record<string, RunMetric> = {};
  const mean = aggregate.summaries['http.response_time']?.mean;
  if (typeof mean === 'number') metrics.latency_mean_reported = { value: mean };
  const created = aggregate.counters['vusers.created'];
  if (created !== undefined) {
    const failed = aggregate.counters['vusers.failed'] ?? 0;
    metrics.iterations = { count: Math.round(created), rate: created > 0 ? failed / created : 0 };
  }
  const result: RunResult = {
    ...importedHeader('artillery', file, options),
    target: options.target ?? 'unknown (Artillery report)',
    durationMs: Math.max(0, endMs - startMs),
    steps,
    timeSeries: timeSeries(report, startMs),
    serverSamples: [],
    ...(Object.keys(metrics).length ? { metrics } : {}),
  };
  return checkRunResult(result, file);
}

function timeSeries(report: ArtilleryReport, startMs: number): TimeSeriesPoint[] {
  const points: TimeSeriesPoint[] = [];
  const periods = [...(report.intermediate ?? [])].sort(
    (a, b) => (a.firstMetricAt ?? Number(a.period ?? 0)) - (b.firstMetricAt ?? Number(b.period ?? 0)),
  );
  for (const p of periods) {
    const fromMs = p.firstMetricAt ?? Number(p.period ?? startMs);
    const toMs = Math.max(p.lastMetricAt ?? fromMs, fromMs);
    const firstSec = Math.max(0, Math.floor((fromMs - startMs) / 1_000));
    const lastSec = Math.max(firstSec, Math.floor((toMs - startMs) / 1_000));
    const seconds = lastSec - firstSec + 1;
    const http = countOutcomes(p.counters, 'http.');
    const transport = countOutcomes(p.counters, '');
    const finished = http.responses + transport.failedWithoutResponse;
    const errors = Object.values(http.errors).reduce((a, b) => a + b, 0) + transport.failedWithoutResponse;
    const p95 = p.summaries['http.response_time']?.p95;
    for (let s = 0; s < seconds; s++) {
      // An even share, the remainder to the first seconds, so the period's total is kept exactly.
      const share = (total: number) => Math.floor(total / seconds) + (s < total % seconds ? 1 : 0);
      const tSec = firstSec + s;
      while (points.length < tSec)
        points.push({ tSec: points.length, requests: 0, errors: 0, p95Ms: null, inFlight: 0 });
      const existing = points[tSec];
      const point = existing ?? { tSec, requests: 0, errors: 0, p95Ms: null, inFlight: 0 };
      point.requests += share(finished);
      point.errors += share(errors);
      if (typeof p95 === 'number') point.p95Ms = p95;
      if (!existing) points.push(point);
    }
  }
  return points;
}
