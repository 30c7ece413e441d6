import { Ajv } from 'ajv';
import { ImportInvalidError } from '../../errors.js';
import { checkRunResult, type RunResult } from '../../results/run-result.js';
import { explainSchemaErrors } from '../../schema-error.js';
import { type ImportOptions, importedHeader } from './imported-result.js';
import { histogramFromPercentiles, type ReportedPercentile } from './percentile-histogram.js';

/** The fields of autocannon's JSON result (`autocannon --json URL`) an import reads. */
export interface AutocannonJson {
  url?: string;
  title?: string;
  connections?: number;
  /** Seconds. */
  duration: number;
  /** Transport errors, timeouts included. */
  errors: number;
  timeouts: number;
  non2xx?: number;
  '4xx'?: number;
  '5xx'?: number;
  statusCodeStats?: Record<string, { count: number }>;
  /** Milliseconds; `pN_M` is the N.M-th percentile; `min` is the smallest non-zero value. */
  latency: {
    min: number;
    max: number;
    mean?: number;
    totalCount: number;
    [percentile: string]: number | undefined;
  };
  requests: { total: number; sent: number };
}

const number = { type: 'number', minimum: 0 };
const schema = {
  type: 'object',
  required: ['duration', 'errors', 'timeouts', 'latency', 'requests'],
  properties: {
    duration: number,
    errors: number,
    timeouts: number,
    non2xx: number,
    '4xx': number,
    '5xx': number,
    statusCodeStats: {
      type: 'object',
      additionalProperties: { type: 'object', required: ['count'], properties: { count: number } },
    },
    latency: {
      type: 'object',
      required: ['min', 'max', 'totalCount', 'p50'],
      properties: { min: number, max: number, totalCount: number, p50: number },
    },
    requests: { type: 'object', required: ['total', 'sent'], properties: { total: number, sent: number } },
  },
};
const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
const validate = ajv.compile<AutocannonJson>(schema);

/**
 * Converts autocannon's JSON result (`autocannon --json URL > result.json`, or the object its
 * API returns) into a RunResult with engine `autocannon`.
 *
 * autocannon keeps whole-millisecond percentiles (p0.001 … p99.999, no p95), not the samples,
 * so the histogram is rebuilt with histogramFromPercentiles from every `pN_M` field, min and max,
 * with one value per measured latency (`latency.totalCount`): it reads those percentiles back,
 * and p95 is interpolated between p90 and p97.5. Its `min` is the smallest non-zero latency while
 * its low percentiles count zeros, so the lowest of the two is taken. Requests are those sent;
 * failures are `4xx`/`5xx` responses and transport errors (`timeouts` as `timeout`, the rest as
 * `other`). The JSON has no per-second data, so there is no time series.
 */
export function importAutocannonJson(data: unknown, file: string, options: ImportOptions = {}): RunResult {
  if (!validate(data)) {
    throw new ImportInvalidError(file, [
      'it is not an autocannon JSON result (autocannon --json URL):',
      ...explainSchemaErrors(validate.errors!),
    ]);
  }
  const percentiles: ReportedPercentile[] = Object.entries(data.latency).flatMap(([key, value]) => {
    const m = /^p(\d+)(?:_(\d+))?$/.exec(key);
    return m && typeof value === 'number'
      ? [{ percentile: Number(`${m[1]}.${m[2] ?? '0'}`), valueMs: value }]
      : [];
  });
  const lowest = percentiles.reduce((low, p) => (p.percentile < low.percentile ? p : low), {
    percentile: 100,
    valueMs: data.latency.min,
  });
  const histogram = histogramFromPercentiles({
    count: data.latency.totalCount,
    minMs: Math.min(data.latency.min, lowest.valueMs),
    maxMs: data.latency.max,
    percentiles,
  });
  const encoded = histogram.encode();
  const byClass = (low: number) =>
    Object.entries(data.statusCodeStats ?? {})
      .filter(([code]) => Number(code) >= low && Number(code) < low + 100)
      .reduce((n, [, s]) => n + s.count, 0);
  const errors: Record<string, number> = {};
  const add = (name: string, n: number) => {
    if (n > 0) errors[name] = n;
  };
  add('http_4xx', data['4xx'] ?? byClass(400));
  add('http_5xx', data['5xx'] ?? byClass(500));
  add('timeout', data.timeouts);
  add('other', data.errors - data.timeouts);
  const path = data.url ? new URL(data.url).pathname : '/';
  const result: RunResult = {
    ...importedHeader('autocannon', file, { ...options, scenario: options.scenario ?? data.title }),
    target: options.target ?? (data.url ? new URL(data.url).origin : 'unknown (autocannon)'),
    durationMs: data.duration * 1_000,
    steps: [
      {
        name: path,
        requests: data.requests.sent,
        errors,
        latencyHistogram: encoded,
        serviceHistogram: encoded,
      },
    ],
    timeSeries: [],
    serverSamples: [],
    metrics:
      typeof data.latency.mean === 'number' ? { latency_avg_reported: { value: data.latency.mean } } : {},
  };
  return checkRunResult(result, file);
}
