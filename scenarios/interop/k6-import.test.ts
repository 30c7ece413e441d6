import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ImportInvalidError } from '../../errors.js';
import { LatencyHistogram } from '../../results/latency-histogram.js';
import { importK6, importK6JsonOutput, importK6Summary, readK6File } from './k6-import.js';

const fixture = (name: string) => new URL(`./fixtures/k6/${name}`, import.meta.url);
const ndjson = readFileSync(fixture('api-stress.ndjson'), 'utf8');
const summaryText = readFileSync(fixture('api-stress-summary.json'), 'utf8');

/** The k-th smallest value for percentile p, as HdrHistogram counts ranks. */
const atRank = (sorted: number[], p: number) =>
  sorted[Math.max(Math.ceil((p / 100) * sorted.length) - 1, 0)]!;
/** Within the histogram's precision (3 significant digits: 0.1 %) plus a microsecond of rounding. */
const expectSameMs = (actual: number, expected: number) =>
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(expected * 0.001 + 0.001);

interface Point {
  type: string;
  metric: string;
  data: { time: string; value: number; tags: Record<string, string> | null };
}
const points = ndjson
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line) as Point)
  .filter((p) => p.type === 'Point');

describe('k6 --out json import', () => {
  const result = importK6JsonOutput(ndjson, 'api-stress.ndjson');
  const durations = points.filter((p) => p.metric === 'http_req_duration');

  it('keeps one step per step tag with its request count', () => {
    const counts = new Map<string, number>();
    for (const p of durations) counts.set(p.data.tags!.step!, (counts.get(p.data.tags!.step!) ?? 0) + 1);
    expect(result.engine).toBe('k6');
    expect(Object.fromEntries(result.steps.map((s) => [s.name, s.requests]))).toEqual(
      Object.fromEntries(counts),
    );
  });

  it('rebuilds each step histogram exactly from the points', () => {
    for (const step of result.steps) {
      const values = durations
        .filter((p) => p.data.tags!.step === step.name)
        .map((p) => p.data.value)
        .sort((a, b) => a - b);
      const histogram = LatencyHistogram.decode(step.latencyHistogram);
      expect(histogram.count).toBe(values.length);
      for (const p of [50, 90, 95, 99]) expectSameMs(histogram.percentileMs(p), atRank(values, p));
      expectSameMs(histogram.maxMs, values[values.length - 1]!);
      expectSameMs(histogram.minMs, values[0]!);
    }
  });

  it('counts failed requests by class from their status and error code', () => {
    const expected: Record<string, Record<string, number>> = {};
    for (const p of durations) {
      const tags = p.data.tags!;
      if (tags.expected_response !== 'false') continue;
      const errorClass =
        tags.status === '500' ? 'http_5xx' : tags.error_code === '1050' ? 'timeout' : 'unexpected';
      const step = expected[tags.step!] ?? {};
      step[errorClass] = (step[errorClass] ?? 0) + 1;
      expected[tags.step!] = step;
    }
    for (const step of result.steps) expect(step.errors).toEqual(expected[step.name] ?? {});
  });

  it('builds a per-second time series whose counts add up to every request', () => {
    const total = result.timeSeries.reduce((n, s) => n + s.requests, 0);
    expect(total).toBe(durations.length);
    const failed = durations.filter((p) => p.data.tags!.expected_response === 'false').length;
    expect(result.timeSeries.reduce((n, s) => n + s.errors, 0)).toBe(failed);
    const times = points.map((p) => Date.parse(p.data.time));
    expect(result.durationMs).toBe(Math.max(...times) - Math.min(...times));
    expect(result.timeSeries).toHaveLength(Math.floor(result.durationMs / 1_000) + 1);
    const firstMs = Math.min(...times);
    const bySecond = new Map<number, number[]>();
    for (const p of durations) {
      const tSec = Math.floor((Date.parse(p.data.time) - firstMs) / 1_000);
      bySecond.set(tSec, [...(bySecond.get(tSec) ?? []), p.data.value]);
    }
    for (const second of result.timeSeries) {
      const values = (bySecond.get(second.tSec) ?? []).sort((a, b) => a - b);
      expect(second.requests).toBe(values.length);
      expect(second.p95Ms).toBe(values.length ? atRank(values, 95) : null);
    }
  });

  it('keeps checks, iterations and dropped iterations as metrics', () => {
    const checks = points.filter((p) => p.metric === 'checks');
    const sum = (metric: string) =>
      points.filter((p) => p.metric === metric).reduce((n, p) => n + p.data.value, 0);
    expect(result.metrics?.checks?.count).toBe(checks.length);
    expect(result.metrics?.checks?.rate).toBeCloseTo(sum('checks') / checks.length, 12);
    expect(result.metrics?.iterations?.count).toBe(sum('iterations'));
    expect(result.metrics?.dropped_iterations?.count).toBe(sum('dropped_iterations'));
  });

  it('names the line and the field of a malformed point', () => {
    const broken = `${ndjson.split('\n').slice(0, 9).join('\n')}\n{"type":"Point","metric":"vus","data":{"time":"yesterday","value":1}}\n`;
    expect(() => importK6JsonOutput(broken, 'broken.ndjson')).toThrow(
      /broken\.ndjson cannot be imported: line 10: data\.time must be an RFC 3339 time \(got "yesterday"\)/,
    );
  });

  it('refuses a file without request durations', () => {
    const vusOnly = points
      .filter((p) => p.metric === 'vus')
      .map((p) => JSON.stringify(p))
      .join('\n');
    expect(() => importK6JsonOutput(vusOnly, 'vus.ndjson')).toThrow(ImportInvalidError);
  });
});

describe('k6 --summary-export import', () => {
  const summary = JSON.parse(summaryText) as {
    metrics: Record<string, Record<string, number>>;
  };
  const trend = summary.metrics.http_req_duration!;
  const result = importK6Summary(summary, 'api-stress-summary.json');
  const histogram = LatencyHistogram.decode(result.steps[0]!.latencyHistogram);

  it('reproduces the summary percentiles, minimum and maximum', () => {
    expectSameMs(histogram.percentileMs(50), trend.med!);
    expectSameMs(histogram.percentileMs(90), trend['p(90)']!);
    expectSameMs(histogram.percentileMs(95), trend['p(95)']!);
    expectSameMs(histogram.minMs, trend.min!);
    expectSameMs(histogram.maxMs, trend.max!);
  });

  it('has one latency per request, the failures and the duration of the summary', () => {
    const reqs = summary.metrics.http_reqs!;
    expect(histogram.count).toBe(reqs.count);
    expect(result.steps[0]!.requests).toBe(reqs.count);
    expect(result.steps[0]!.errors).toEqual({ http_req_failed: summary.metrics.http_req_failed!.passes });
    expect(result.durationMs).toBeCloseTo((reqs.count! / reqs.rate!) * 1_000, 6);
    expect(result.metrics?.latency_avg_reported?.value).toBe(trend.avg);
    expect(result.metrics?.checks?.rate).toBe(summary.metrics.checks!.value);
  });

  it('agrees with the exact import of the same run at the summary percentiles', () => {
    const exact = LatencyHistogram.create();
    for (const step of importK6JsonOutput(ndjson, 'api-stress.ndjson').steps)
      exact.merge(LatencyHistogram.decode(step.latencyHistogram));
    // k6 interpolates between neighbouring samples; the rebuilt histogram pins the reported value.
    for (const p of [50, 90, 95])
      expect(Math.abs(histogram.percentileMs(p) / exact.percentileMs(p) - 1)).toBeLessThan(0.05);
  });

  it('reads the handleSummary() data shape, with figures under values', () => {
    const nested = {
      metrics: Object.fromEntries(
        Object.entries(summary.metrics).map(([k, v]) => [k, { type: 'x', values: v }]),
      ),
    };
    const fromNested = importK6Summary(nested, 'handle-summary.json');
    expect(fromNested.steps[0]!.latencyHistogram).toBe(result.steps[0]!.latencyHistogram);
  });

  it('tells the format apart from --out json lines by its content', () => {
    expect(importK6(summaryText, 's.json').timeSeries).toEqual([]);
    expect(importK6(ndjson, 'p.json').timeSeries.length).toBeGreaterThan(0);
  });

  it('names the missing field of a file that is not a summary export', () => {
    expect(() => importK6Summary({ metrics: { http_req_duration: trend } }, 'partial.json')).toThrow(
      /partial\.json cannot be imported:[\s\S]*\/metrics: missing field "http_reqs"/,
    );
    expect(() => importK6('not json', 'x.txt')).toThrow(ImportInvalidError);
  });
});

describe('k6 files on disk', () => {
  it('streams a gzipped --out json file to the same result as its text', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-k6-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const gz = path.join(dir, 'points.json.gz');
    await writeFile(gz, gzipSync(ndjson));
    const streamed = await readK6File(gz);
    const fromText = importK6JsonOutput(ndjson, gz);
    expect(streamed.steps).toEqual(fromText.steps);
    expect(streamed.timeSeries).toEqual(fromText.timeSeries);
  });

  it('reads a summary export file by its content', async () => {
    const result = await readK6File(fileURLToPath(fixture('api-stress-summary.json')));
    expect(result.steps[0]!.name).toBe('http_req_duration');
  });

  it('names a file that cannot be read', async () => {
    await expect(readK6File('/nonexistent/points.json')).rejects.toThrow(
      /points\.json cannot be imported: it cannot be read \(ENOENT\)/,
    );
  });
});
