import { createReadStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Ajv } from 'ajv';
import { ImportInvalidError } from '../../errors.js';
import { LatencyHistogram } from '../../results/latency-histogram.js';
import {
  checkRunResult,
  type RunMetric,
  type RunResult,
  type TimeSeriesPoint,
} from '../../results/run-result.js';
import { explainSchemaErrors } from '../../schema-error.js';
import type { ErrorClass } from '../error-class.js';
import { type ImportOptions, importedHeader, p95Ms } from './imported-result.js';
import { histogramFromPercentiles } from './percentile-histogram.js';

/** A k6 Trend in the summary export: milliseconds; `p(N)` keys as set by `--summary-trend-stats`. */
interface K6Trend {
  avg: number;
  min: number;
  med: number;
  max: number;
  [stat: string]: unknown;
}

// Both shapes k6 writes: `--summary-export` (figures on the metric) and the `data` object of
// handleSummary() (figures under `values`).
const trendFigures = {
  type: 'object',
  required: ['min', 'med', 'max'],
  properties: {
    avg: { type: 'number' },
    min: { type: 'number' },
    med: { type: 'number' },
    max: { type: 'number' },
  },
};
const counterFigures = {
  type: 'object',
  required: ['count'],
  properties: { count: { type: 'number', minimum: 0 }, rate: { type: 'number', minimum: 0 } },
};
const summarySchema = {
  type: 'object',
  required: ['metrics'],
  properties: {
    metrics: {
      type: 'object',
      required: ['http_req_duration', 'http_reqs'],
      properties: {
        http_req_duration: {
          anyOf: [
            trendFigures,
            { type: 'object', required: ['values'], properties: { values: trendFigures } },
          ],
        },
        http_reqs: {
          anyOf: [
            counterFigures,
            { type: 'object', required: ['values'], properties: { values: counterFigures } },
          ],
        },
      },
    },
  },
};
const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
const validateSummary = ajv.compile(summarySchema);

/** True when `text` looks like k6's `--out json` output (one JSON object per line) rather than one document. */
export function isK6JsonOutput(text: string): boolean {
  const first = text.trimStart();
  return first.startsWith('{"type":') || /^\{\s*"type"\s*:\s*"(Metric|Point)"/.test(first);
}

/** Reads either k6 format: `--out json` lines or a `--summary-export` file. */
export function importK6(text: string, file: string, options: ImportOptions = {}): RunResult {
  if (isK6JsonOutput(text)) return importK6JsonOutput(text, file, options);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ImportInvalidError(file, [
      `it is neither k6 --out json lines nor a --summary-export file (${(err as Error).message})`,
    ]);
  }
  return importK6Summary(data, file, options);
}

/**
 * Converts k6's end-of-test summary (`k6 run --summary-export=summary.json`, or the data object
 * handed to handleSummary()) into a RunResult with engine `k6`.
 *
 * The summary keeps percentiles, not samples, so the latency histogram is rebuilt with
 * histogramFromPercentiles from min, med, the `p(N)` figures present (p(90), p(95) by default)
 * and max, with one value per request (`http_reqs.count`): it reads back those percentiles, but
 * between them the shape is a linear interpolation, and its mean is not k6's `avg` (kept as the
 * metric `latency_avg_reported`). k6 computes percentiles by interpolating between neighbouring
 * samples; the rebuilt histogram reads the sample at rank ⌈p × N⌉, so they agree to within one
 * sample's spacing and the histogram's 0.1 % precision. The duration is `count ÷ rate` of
 * `http_reqs`; there is no time series. Failures are `http_req_failed`'s passes (a Rate
 * counts its non-zero samples as passes), under the class `http_req_failed`, as the summary does
 * not say why they failed.
 */
export function importK6Summary(data: unknown, file: string, options: ImportOptions = {}): RunResult {
  if (!validateSummary(data)) {
    throw new ImportInvalidError(file, [
      'it is not a k6 summary export (k6 run --summary-export=FILE):',
      ...explainSchemaErrors(validateSummary.errors!),
    ]);
  }
  const metrics = (data as { metrics: Record<string, unknown> }).metrics;
  const figures = (name: string) => {
    const m = metrics[name] as Record<string, unknown> | undefined;
    return (m && typeof m.values === 'object' ? m.values : m) as Record<string, unknown> | undefined;
  };
  const trend = figures('http_req_duration') as K6Trend;
  const reqs = figures('http_reqs') as { count: number; rate?: number };
  const count = Math.round(reqs.count);
  const percentiles = Object.entries(trend).flatMap(([key, value]) => {
    const m = /^p\((\d+(?:\.\d+)?)\)$/.exec(key);
    return m && typeof value === 'number' ? [{ percentile: Number(m[1]), valueMs: value }] : [];
  });
  percentiles.push({ percentile: 50, valueMs: trend.med });
  const histogram = histogramFromPercentiles({ count, minMs: trend.min, maxMs: trend.max, percentiles });
  const encoded = histogram.encode();
  const failedRate = figures('http_req_failed') as { passes?: number; fails?: number } | undefined;
  const failed = Math.round(failedRate?.passes ?? 0);
  const extra: Record<string, RunMetric> = {};
  if (typeof trend.avg === 'number') extra.latency_avg_reported = { value: trend.avg };
  const checks = figures('checks') as { passes?: number; fails?: number } | undefined;
  if (checks && typeof checks.passes === 'number' && typeof checks.fails === 'number') {
    const total = checks.passes + checks.fails;
    extra.checks = { count: total, rate: total ? checks.passes / total : 0 };
  }
  for (const name of ['iterations', 'dropped_iterations']) {
    const c = figures(name) as { count?: number; rate?: number } | undefined;
    if (c && typeof c.count === 'number')
      extra[name] = { count: Math.round(c.count), ...(typeof c.rate === 'number' ? { rate: c.rate } : {}) };
  }
  const result: RunResult = {
    ...importedHeader('k6', file, options),
    target: options.target ?? 'unknown (k6 summary export)',
    durationMs: reqs.rate && reqs.rate > 0 ? (reqs.count / reqs.rate) * 1_000 : 0,
    steps: [
      {
        name: 'http_req_duration',
        requests: count,
        errors: failed > 0 ? { http_req_failed: failed } : {},
        latencyHistogram: encoded,
        serviceHistogram: encoded,
      },
    ],
    timeSeries: [],
    serverSamples: [],
    metrics: extra,
  };
  return checkRunResult(result, file);
}

interface K6Line {
  type?: unknown;
  metric?: unknown;
  data?: { time?: unknown; value?: unknown; tags?: Record<string, string> | null };
}

/** k6 error codes (the `error_code` tag) of failures without an HTTP status. */
function classifyK6Error(tags: Record<string, string>): ErrorClass {
  const code = Number(tags.error_code);
  if (code === 1050 || code === 1211) return 'timeout';
  if (code === 1212) return 'connection_refused';
  if (code === 1220 || code === 1201) return 'connection_reset';
  return 'other';
}

/**
 * Converts k6's granular output (`k6 run --out json=points.json`: one JSON object per line)
 * into a RunResult with engine `k6`, exactly: every `http_req_duration` Point is recorded in the
 * histogram of its step, so percentiles are those of the samples (to the histogram's 0.1 %).
 *
 * A step is the Point's `step` tag (scripts exported by headroom set it), else `METHOD name`
 * (k6's `name` tag defaults to the URL: its path and query are kept). A request failed when its
 * `expected_response` tag is "false" (k6's own rule), or, without that tag, when its status is 0
 * or ≥ 400; the class comes from the status, or for status 0 from k6's `error_code` tag. k6 measures from the actual send
 * time, so the latency and service histograms are the same. The time series counts requests by
 * the second they finished in (from the Points' timestamps), with `vus` as in-flight; `checks`,
 * `iterations` and `dropped_iterations` become metrics of the same names.
 *
 * For files too large for one string (k6 writes ~1 KB of points per request), use
 * readK6JsonOutput, which streams the file (gzipped too, as `--out json=FILE.gz` writes it).
 */
export function importK6JsonOutput(text: string, file: string, options: ImportOptions = {}): RunResult {
  const reader = new K6PointReader();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length && !reader.full; i++) reader.line(lines[i]!, i + 1);
  return reader.result(file, options);
}

/** Streams a k6 `--out json` file, plain or gzipped, into a RunResult (see importK6JsonOutput). */
export async function readK6JsonOutput(file: string, options: ImportOptions = {}): Promise<RunResult> {
  const reader = new K6PointReader();
  let input: Readable = createReadStream(file);
  if (await isGzip(file)) input = input.pipe(createGunzip());
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let lineNumber = 0;
  try {
    for await (const line of lines) {
      reader.line(line, ++lineNumber);
      if (reader.full) break;
    }
  } catch (err) {
    throw new ImportInvalidError(file, [
      `it cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    ]);
  } finally {
    lines.close();
    input.destroy();
  }
  return reader.result(file, options);
}

/** Reads the whole file of either k6 format (see importK6); `--out json` files are streamed. */
export async function readK6File(file: string, options: ImportOptions = {}): Promise<RunResult> {
  let head: string;
  try {
    head = await readHead(file);
  } catch (err) {
    throw new ImportInvalidError(file, [
      `it cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    ]);
  }
  if (isK6JsonOutput(head)) return readK6JsonOutput(file, options);
  return importK6(await readFile(file, 'utf8'), file, options);
}

/** The first few KB of a file, decompressed when it is gzipped. */
async function readHead(file: string): Promise<string> {
  const stream = createReadStream(file, { start: 0, end: 4_095 });
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  const bytes = Buffer.concat(chunks);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    // Enough of the gzip stream to see the first line; a truncated stream is expected here.
    const { gunzipSync, constants } = await import('node:zlib');
    return gunzipSync(bytes, { finishFlush: constants.Z_SYNC_FLUSH }).toString('utf8');
  }
  return bytes.toString('utf8');
}

async function isGzip(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(2), 0, 2, 0);
    return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

/** Stop collecting problems after this many: the first few say what is wrong with the file. */
const MAX_PROBLEMS = 10;

/** Accumulates the Points of a k6 `--out json` file, one line at a time. */
class K6PointReader {
  private readonly problems: string[] = [];
  private readonly steps = new Map<
    string,
    { histogram: LatencyHistogram; requests: number; errors: Record<string, number> }
  >();
  // Parallel arrays, not objects: a long run has millions of requests.
  private readonly sampleAtMs: number[] = [];
  private readonly sampleMs: number[] = [];
  private readonly sampleFailed: number[] = [];
  private readonly vus: Array<{ atMs: number; value: number }> = [];
  private readonly counters = { checks: 0, checksPassed: 0, iterations: 0, dropped_iterations: 0 };
  private firstMs = Number.POSITIVE_INFINITY;
  private lastMs = Number.NEGATIVE_INFINITY;
  private target: string | undefined;
  private points = 0;

  get full(): boolean {
    return this.problems.length >= MAX_PROBLEMS;
  }

  line(text: string, lineNumber: number): void {
    const line = text.trim();
    if (!line) return;
    let entry: K6Line;
    try {
      entry = JSON.parse(line) as K6Line;
    } catch (err) {
      this.problems.push(`line ${lineNumber}: not JSON (${(err as Error).message})`);
      return;
    }
    if (entry.type !== 'Point') return;
    const atMs = typeof entry.data?.time === 'string' ? Date.parse(entry.data.time) : Number.NaN;
    const value = entry.data?.value;
    if (!Number.isFinite(atMs)) {
      this.problems.push(
        `line ${lineNumber}: data.time must be an RFC 3339 time (got ${JSON.stringify(entry.data?.time)})`,
      );
      return;
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      this.problems.push(`line ${lineNumber}: data.value must be a number (got ${JSON.stringify(value)})`);
      return;
    }
    this.points++;
    this.firstMs = Math.min(this.firstMs, atMs);
    this.lastMs = Math.max(this.lastMs, atMs);
    const tags = entry.data?.tags ?? {};
    switch (entry.metric) {
      case 'http_req_duration': {
        const name = tags.step || `${tags.method ?? 'HTTP'} ${pathOf(tags.name ?? tags.url ?? '(unnamed)')}`;
        const step = this.steps.get(name) ?? {
          histogram: LatencyHistogram.create(),
          requests: 0,
          errors: {},
        };
        this.steps.set(name, step);
        step.histogram.recordUs(value * 1_000);
        step.requests++;
        const status = Number(tags.status ?? 0);
        const failed =
          tags.expected_response !== undefined
            ? tags.expected_response === 'false'
            : status === 0 || status >= 400;
        if (failed) {
          const errorClass =
            status >= 500
              ? 'http_5xx'
              : status >= 400
                ? 'http_4xx'
                : status > 0
                  ? 'other'
                  : classifyK6Error(tags);
          step.errors[errorClass] = (step.errors[errorClass] ?? 0) + 1;
        }
        this.sampleAtMs.push(atMs);
        this.sampleMs.push(value);
        this.sampleFailed.push(failed ? 1 : 0);
        if (!this.target && tags.url) this.target = originOf(tags.url);
        break;
      }
      case 'vus':
        this.vus.push({ atMs, value });
        break;
      case 'checks':
        this.counters.checks++;
        if (value !== 0) this.counters.checksPassed++;
        break;
      case 'iterations':
      case 'dropped_iterations':
        this.counters[entry.metric] += value;
        break;
    }
  }

  result(file: string, options: ImportOptions): RunResult {
    if (this.problems.length) throw new ImportInvalidError(file, this.problems);
    if (this.points === 0 || this.steps.size === 0) {
      throw new ImportInvalidError(file, [
        'it has no http_req_duration Points: give the file of k6 run --out json=FILE for a test that made HTTP requests',
      ]);
    }
    const { firstMs, lastMs } = this;
    const seconds = Math.floor((lastMs - firstMs) / 1_000) + 1;
    const perSecond = Array.from({ length: seconds }, () => ({ values: [] as number[], errors: 0 }));
    for (let i = 0; i < this.sampleAtMs.length; i++) {
      const bucket = perSecond[Math.floor((this.sampleAtMs[i]! - firstMs) / 1_000)]!;
      bucket.values.push(this.sampleMs[i]!);
      bucket.errors += this.sampleFailed[i]!;
    }
    const vus = [...this.vus].sort((a, b) => a.atMs - b.atMs);
    let v = 0;
    let inFlight = 0;
    const timeSeries: TimeSeriesPoint[] = perSecond.map((bucket, tSec) => {
      const endMs = firstMs + (tSec + 1) * 1_000;
      while (v < vus.length && vus[v]!.atMs < endMs) inFlight = Math.round(vus[v++]!.value);
      return {
        tSec,
        requests: bucket.values.length,
        errors: bucket.errors,
        p95Ms: p95Ms(bucket.values),
        inFlight,
      };
    });
    const metrics: Record<string, RunMetric> = {};
    const durationS = (lastMs - firstMs) / 1_000;
    const { counters } = this;
    if (counters.checks)
      metrics.checks = { count: counters.checks, rate: counters.checksPassed / counters.checks };
    for (const name of ['iterations', 'dropped_iterations'] as const) {
      if (counters[name])
        metrics[name] = { count: counters[name], rate: durationS > 0 ? counters[name] / durationS : 0 };
    }
    const result: RunResult = {
      ...importedHeader('k6', file, options),
      target: options.target ?? this.target ?? 'unknown (k6)',
      durationMs: lastMs - firstMs,
      steps: [...this.steps].map(([name, s]) => {
        const encoded = s.histogram.encode();
        return {
          name,
          requests: s.requests,
          errors: s.errors,
          latencyHistogram: encoded,
          serviceHistogram: encoded,
        };
      }),
      timeSeries,
      serverSamples: [],
      metrics,
    };
    return checkRunResult(result, file);
  }
}

/** The path and query of a URL (k6's default `name` tag), or the name itself when it is not one. */
function pathOf(name: string): string {
  try {
    const url = new URL(name);
    return `${url.pathname}${url.search}`;
  } catch {
    return name;
  }
}

function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}
