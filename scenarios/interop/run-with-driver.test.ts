import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageInvalidError } from '../../errors.js';
import { LatencyHistogram } from '../../results/latency-histogram.js';
import { checkRunResult } from '../../results/run-result.js';
import { loadScenario } from '../load-scenario.js';
import { runMetrics } from '../run-metrics.js';
import { runWithDriver } from './run-with-driver.js';

/** Same figure to the histogram's precision (0.1 %), or 1 µs for tiny values. */
function expectSameLatency(actualMs: number, reportedMs: number): void {
  expect(Math.abs(actualMs - reportedMs)).toBeLessThanOrEqual(Math.max(reportedMs * 0.001, 0.001));
}

/** CSV rows as objects (Locust's files have no quoted fields in these columns; CRLF lines). */
function csvRows(text: string): Array<Record<string, string>> {
  const [header, ...lines] = text.trim().split(/\r?\n/);
  const columns = header!.split(',');
  return lines.map((line) => Object.fromEntries(line.split(',').map((v, i) => [columns[i]!, v])));
}

describe('runWithDriver', () => {
  let workDir: string;
  beforeAll(async () => {
    workDir = await mkdtemp(path.join(os.tmpdir(), 'headroom-driver-test-'));
  });
  afterAll(async () => {
    await rm(workDir, { recursive: true, force: true });
  });

  it("runs api-stress (quick) through Artillery into a RunResult whose count and p95 are Artillery's own", async () => {
    const dir = path.join(workDir, 'artillery');
    await mkdir(dir);
    const scenario = await loadScenario('api-stress', { profile: 'quick' });
    const run = await runWithDriver(scenario, 'artillery', { workDir: dir });

    // Artillery's report, read here on its own.
    const report = JSON.parse(await readFile(run.reportFile!, 'utf8')) as {
      aggregate: {
        counters: Record<string, number>;
        summaries: Record<string, { p95: number; count: number }>;
      };
    };
    const result = checkRunResult(run.result, 'memory');
    expect(result.engine).toBe('artillery');
    const sent = result.steps.reduce((t, s) => t + s.requests, 0);
    expect(sent).toBe(report.aggregate.counters['http.requests']);
    // 40 s of arrivals, 20→200/s then 200/s, three requests per iteration.
    expect(sent).toBeGreaterThan(0.9 * 7_100 * 3);
    for (const step of result.steps) {
      const own = report.aggregate.summaries[`plugins.metrics-by-endpoint.response_time.${step.name}`]!;
      const h = LatencyHistogram.decode(step.latencyHistogram);
      expect(h.count).toBe(own.count);
      expectSameLatency(h.percentileMs(95), own.p95);
    }
    // All steps together: the merged rebuilt histograms against Artillery's overall p95 (which it
    // computed from its samples); close, not equal, as each step's shape between percentiles is
    // interpolated linearly (on the fixture api-stress-quick.json: 29.8 ms against 26.8 ms).
    const p95 = runMetrics(result).latency!.percentile!(95);
    const ownP95 = report.aggregate.summaries['http.response_time']!.p95;
    expect(Math.abs(p95 - ownP95)).toBeLessThanOrEqual(Math.max(0.25 * ownP95, 2));
    expect(result.serverSamples.length).toBeGreaterThan(30);
    expect(run.thresholds.map((t) => t.metric)).toEqual(['latency', 'errors', 'requests']);
  });

  it("runs api-stress (quick) through Locust into a RunResult whose count and p95 are Locust's own", async () => {
    const dir = path.join(workDir, 'locust');
    await mkdir(dir);
    const scenario = await loadScenario('api-stress', { profile: 'quick' });
    const run = await runWithDriver(scenario, 'locust', { workDir: dir });

    const stats = csvRows(await readFile(run.reportFile!, 'utf8'));
    const result = checkRunResult(run.result, 'memory');
    expect(result.engine).toBe('locust');
    const aggregated = stats.find((r) => r.Name === 'Aggregated')!;
    expect(result.steps.reduce((t, s) => t + s.requests, 0)).toBe(Number(aggregated['Request Count']));
    expect(Number(aggregated['Request Count'])).toBeGreaterThan(0.8 * 7_100 * 3);
    for (const step of result.steps) {
      const own = stats.find((r) => r.Name === step.name)!;
      expectSameLatency(LatencyHistogram.decode(step.latencyHistogram).percentileMs(95), Number(own['95%']));
    }
    const p95 = runMetrics(result).latency!.percentile!(95);
    const ownP95 = Number(aggregated['95%']);
    expect(Math.abs(p95 - ownP95)).toBeLessThanOrEqual(Math.max(0.25 * ownP95, 2));
    expect(result.serverSamples.length).toBeGreaterThan(30);
  });

  it('refuses a scenario that is not an HTTP flow, naming the driver that runs it', async () => {
    const worker = await loadScenario('worker');
    await expect(runWithDriver(worker, 'locust')).rejects.toBeInstanceOf(UsageInvalidError);
    await expect(runWithDriver(worker, 'locust')).rejects.toThrow(/--driver headroom/);
  });
});
