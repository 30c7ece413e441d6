import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ImportInvalidError } from '../../errors.js';
import { LatencyHistogram } from '../../results/latency-histogram.js';
import { runMetrics } from '../run-metrics.js';
import { importAutocannonJson } from './autocannon-import.js';

const file = new URL('./fixtures/autocannon/health-c10-d3.json', import.meta.url);
const raw = JSON.parse(readFileSync(file, 'utf8')) as {
  url: string;
  duration: number;
  errors: number;
  timeouts: number;
  statusCodeStats: Record<string, { count: number }>;
  latency: Record<string, number>;
  requests: { total: number; sent: number };
};

describe('autocannon JSON import', () => {
  const result = importAutocannonJson(raw, 'health-c10-d3.json');
  const step = result.steps[0]!;
  const histogram = LatencyHistogram.decode(step.latencyHistogram);

  it('reproduces every percentile autocannon reported', () => {
    const reported = Object.entries(raw.latency).filter(([key]) => /^p\d/.test(key));
    expect(reported.length).toBeGreaterThan(5);
    for (const [key, valueMs] of reported) {
      const percentile = Number(key.slice(1).replace('_', '.'));
      // autocannon's values are whole milliseconds; the histogram keeps them to 0.1 %.
      expect(Math.abs(histogram.percentileMs(percentile) - valueMs), key).toBeLessThanOrEqual(
        valueMs * 0.001,
      );
    }
    expect(histogram.maxMs).toBeCloseTo(raw.latency.max!, 1);
  });

  it('has one latency per measured response and the requests autocannon sent', () => {
    expect(histogram.count).toBe(raw.latency.totalCount);
    expect(step.requests).toBe(raw.requests.sent);
    expect(result.durationMs).toBe(raw.duration * 1_000);
    expect(result.engine).toBe('autocannon');
    expect(result.target).toBe(new URL(raw.url).origin);
    expect(step.name).toBe(new URL(raw.url).pathname);
  });

  it('counts 4xx and 5xx responses from the status code table', () => {
    const count = (from: number) =>
      Object.entries(raw.statusCodeStats)
        .filter(([code]) => Number(code) >= from && Number(code) < from + 100)
        .reduce((n, [, s]) => n + s.count, 0);
    const expected: Record<string, number> = {};
    if (count(400)) expected.http_4xx = count(400);
    if (count(500)) expected.http_5xx = count(500);
    if (raw.timeouts) expected.timeout = raw.timeouts;
    if (raw.errors - raw.timeouts) expected.other = raw.errors - raw.timeouts;
    expect(step.errors).toEqual(expected);
    expect(runMetrics(result).errors?.rate).toBeCloseTo(
      (count(400) + count(500) + raw.errors) / raw.requests.sent,
      12,
    );
  });

  it('names the missing fields of a file that is not autocannon output', () => {
    expect(() => importAutocannonJson({ latency: { p50: 1 } }, 'wrk.json')).toThrow(ImportInvalidError);
    expect(() => importAutocannonJson({ latency: { p50: 1 } }, 'wrk.json')).toThrow(
      /wrk\.json cannot be imported:[\s\S]*\(top level\): missing field "duration"[\s\S]*\/latency: missing field "totalCount"/,
    );
  });
});
