import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ImportInvalidError } from '../../errors.js';
import { LatencyHistogram } from '../../results/latency-histogram.js';
import { checkRunResult } from '../../results/run-result.js';
import { importArtilleryReport } from './artillery-import.js';

const fixture = (name: string) => new URL(`./fixtures/artillery/${name}`, import.meta.url);

interface Summary {
  count: number;
  min: number;
  max: number;
  median: number;
  p75: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
}
interface Report {
  aggregate: { counters: Record<string, number>; summaries: Record<string, Summary> };
  intermediate: Array<{ counters: Record<string, number> }>;
}

async function load(name: string): Promise<Report> {
  return JSON.parse(await readFile(fixture(name), 'utf8')) as Report;
}

/** Equal to the histogram's precision (0.1 %), or 1 µs for tiny values. */
function expectSameLatency(actualMs: number, reportedMs: number): void {
  expect(Math.abs(actualMs - reportedMs)).toBeLessThanOrEqual(Math.max(reportedMs * 0.001, 0.001));
}

const PERCENTILES: Array<[keyof Summary, number]> = [
  ['median', 50],
  ['p75', 75],
  ['p90', 90],
  ['p95', 95],
  ['p99', 99],
  ['p999', 99.9],
];

describe('importArtilleryReport', () => {
  it("rebuilds each step's histogram so that it reads back the report's count, min, max and percentiles", async () => {
    const report = await load('api-stress-quick.json');
    const result = importArtilleryReport(report, 'api-stress-quick.json');

    expect(result.steps.map((s) => s.name)).toEqual(['health', 'dashboard', 'me']);
    for (const step of result.steps) {
      const summary = report.aggregate.summaries[`plugins.metrics-by-endpoint.response_time.${step.name}`]!;
      const h = LatencyHistogram.decode(step.latencyHistogram);
      expect(h.count).toBe(summary.count);
      expectSameLatency(h.minMs, summary.min);
      expectSameLatency(h.maxMs, summary.max);
      for (const [field, percentile] of PERCENTILES)
        expectSameLatency(h.percentileMs(percentile), summary[field]);
    }
  });

  it("counts requests per step from the endpoint counters, totalling Artillery's http.requests", async () => {
    const report = await load('api-stress-quick.json');
    const result = importArtilleryReport(report, 'api-stress-quick.json');

    for (const step of result.steps) {
      const codes = Object.entries(report.aggregate.counters)
        .filter(([k]) => k.startsWith(`plugins.metrics-by-endpoint.${step.name}.codes.`))
        .reduce((t, [, v]) => t + v, 0);
      expect(step.requests).toBe(codes);
    }
    expect(result.steps.reduce((t, s) => t + s.requests, 0)).toBe(report.aggregate.counters['http.requests']);
    expect(result.engine).toBe('artillery');
    expect(() => checkRunResult(result, 'memory')).not.toThrow();
  });

  it('spreads the 10 s periods over seconds without losing a response', async () => {
    const report = await load('api-stress-quick.json');
    const result = importArtilleryReport(report, 'api-stress-quick.json');

    const responses = report.intermediate.reduce((t, p) => t + (p.counters['http.responses'] ?? 0), 0);
    expect(result.timeSeries.reduce((t, p) => t + p.requests, 0)).toBe(responses);
    expect(result.timeSeries.map((p) => p.tSec)).toEqual(result.timeSeries.map((_, i) => i));
    expect(result.durationMs).toBeGreaterThan(39_000);
  });

  it('classifies 4xx answers as errors of their step, once, not again as failed expectations', async () => {
    const report = await load('errors-mix.json');
    const result = importArtilleryReport(report, 'errors-mix.json');

    const missing = result.steps.find((s) => s.name === 'missing')!;
    expect(missing.errors).toEqual({ http_4xx: report.aggregate.counters['http.codes.404'] });
    expect(result.steps.find((s) => s.name === 'health')!.errors).toEqual({});
    expect(result.timeSeries.reduce((t, p) => t + p.errors, 0)).toBe(
      report.aggregate.counters['http.codes.404'],
    );
  });

  it('makes one step of all requests when the report has no per-endpoint metrics', async () => {
    const report = await load('errors-mix.json');
    const counters = Object.fromEntries(
      Object.entries(report.aggregate.counters).filter(([k]) => !k.startsWith('plugins.metrics-by-endpoint')),
    );
    const summaries = { 'http.response_time': report.aggregate.summaries['http.response_time']! };
    const result = importArtilleryReport(
      { aggregate: { ...report.aggregate, counters, summaries }, intermediate: [] },
      'plain.json',
    );
    expect(result.steps).toHaveLength(1);
    expect(result.steps[0]!.requests).toBe(counters['http.requests']);
    expect(result.steps[0]!.errors).toEqual({ http_4xx: counters['http.codes.404'] });
  });

  it('names the missing field of a file that is not an Artillery report', () => {
    expect(() => importArtilleryReport({ intermediate: [] }, 'x.json')).toThrow(ImportInvalidError);
    expect(() => importArtilleryReport({ intermediate: [] }, 'x.json')).toThrow(/missing field "aggregate"/);
  });
});
