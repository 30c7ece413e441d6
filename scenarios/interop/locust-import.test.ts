import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ImportInvalidError } from '../../errors.js';
import { LatencyHistogram } from '../../results/latency-histogram.js';
import { checkRunResult } from '../../results/run-result.js';
import { classifyLocustError, importLocustCsv } from './locust-import.js';

const read = (name: string) => readFile(new URL(`./fixtures/locust/${name}`, import.meta.url), 'utf8');

async function fixture(prefix: string) {
  return {
    stats: await read(`${prefix}_stats.csv`),
    history: await read(`${prefix}_stats_history.csv`),
    failures: await read(`${prefix}_failures.csv`),
  };
}

/** The CSV's rows as objects, split by hand (the fixtures have no quoted fields; Locust ends lines with CRLF). */
function rows(text: string): Array<Record<string, string>> {
  const [header, ...lines] = text.trim().split(/\r?\n/);
  const columns = header!.split(',');
  return lines.map((line) => Object.fromEntries(line.split(',').map((v, i) => [columns[i]!, v])));
}

/** Locust's percentiles are whole milliseconds (rounded): equal to the histogram's 0.1 %. */
function expectSameLatency(actualMs: number, reportedMs: number): void {
  expect(Math.abs(actualMs - reportedMs)).toBeLessThanOrEqual(Math.max(reportedMs * 0.001, 0.001));
}

describe('importLocustCsv', () => {
  it("rebuilds each step's histogram so that it reads back the CSV's count and percentiles", async () => {
    const csv = await fixture('api-stress-quick');
    const result = importLocustCsv(csv, 'api-stress-quick_stats.csv');

    const stats = rows(csv.stats).filter((r) => r.Name !== 'Aggregated');
    expect(result.steps.map((s) => s.name)).toEqual(stats.map((r) => r.Name));
    for (const row of stats) {
      const step = result.steps.find((s) => s.name === row.Name)!;
      const h = LatencyHistogram.decode(step.latencyHistogram);
      expect(step.requests).toBe(Number(row['Request Count']));
      expect(h.count).toBe(Number(row['Request Count']));
      for (const p of ['50', '66', '75', '80', '90', '95', '98', '99', '99.9', '99.99'])
        expectSameLatency(h.percentileMs(Number(p)), Number(row[`${p}%`]));
      expectSameLatency(h.maxMs, Number(row['100%']));
    }
    expect(() => checkRunResult(result, 'memory')).not.toThrow();
    expect(result.engine).toBe('locust');
  });

  it("takes the duration from the Aggregated row and the time series from the history's totals", async () => {
    const csv = await fixture('api-stress-quick');
    const result = importLocustCsv(csv, 'api-stress-quick_stats.csv');

    const aggregated = rows(csv.stats).find((r) => r.Name === 'Aggregated')!;
    const total = Number(aggregated['Request Count']);
    expect(result.durationMs).toBeCloseTo((total / Number(aggregated['Requests/s'])) * 1000, 6);
    const history = rows(csv.history).filter((r) => r.Name === 'Aggregated');
    const last = Number(history.at(-1)!['Total Request Count']);
    expect(result.timeSeries.reduce((t, p) => t + p.requests, 0)).toBe(last);
    expect(Math.max(...result.timeSeries.map((p) => p.inFlight))).toBe(
      Math.max(...history.map((r) => Number(r['User Count']))),
    );
  });

  it('classifies failures by their text and keeps them on their step', async () => {
    const csv = await fixture('errors-mix');
    const result = importLocustCsv(csv, 'errors-mix_stats.csv');

    const failures = rows(csv.failures);
    const missing = result.steps.find((s) => s.name === 'missing')!;
    expect(missing.errors).toEqual({ http_4xx: Number(failures[0]!.Occurrences) });
    expect(result.steps.find((s) => s.name === 'health')!.errors).toEqual({});
  });

  it('counts failures as "other" when no failures file explains them', async () => {
    const csv = await fixture('errors-mix');
    const result = importLocustCsv({ stats: csv.stats }, 'errors-mix_stats.csv');
    const failed = Number(rows(csv.stats).find((r) => r.Name === 'missing')!['Failure Count']);
    expect(result.steps.find((s) => s.name === 'missing')!.errors).toEqual({ other: failed });
    expect(result.timeSeries).toEqual([]);
  });

  it('reads the error texts Locust and the exported locustfiles write', () => {
    expect(classifyLocustError("CatchResponseError('status 503')")).toBe('http_5xx');
    expect(classifyLocustError("HTTPError('404 Client Error: Not Found for url: …')")).toBe('http_4xx');
    expect(classifyLocustError("ConnectionRefusedError(111, 'Connection refused')")).toBe(
      'connection_refused',
    );
    expect(classifyLocustError('ReadTimeout(…)')).toBe('timeout');
    expect(classifyLocustError('RemoteDisconnected(…)')).toBe('connection_reset');
  });

  it('names the missing column of a CSV that is not Locust output', () => {
    expect(() => importLocustCsv({ stats: 'a,b\n1,2\n' }, 'x.csv')).toThrow(ImportInvalidError);
    expect(() => importLocustCsv({ stats: 'a,b\n1,2\n' }, 'x.csv')).toThrow(/no column "Name"/);
  });
});
