import Fastify from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../results/latency-histogram.js';
import type { RunResult } from '../results/run-result.js';
import type { ServerSample } from '../results/server-sample.js';
import { heapTrend } from '../scenarios/heap-sampler.js';
import { runOpenModel } from '../scenarios/open-model-engine.js';
import { runMetrics } from '../scenarios/run-metrics.js';
import { summarizeRun } from './summary.js';

function sample(
  tSec: number,
  cpuPercent: number | null,
  rssMb: number,
  heapMb: number,
  elu: number,
): ServerSample {
  return {
    tSec,
    cpuPercent,
    heapUsedBytes: heapMb * 1024 ** 2,
    rssBytes: rssMb * 1024 ** 2,
    eventLoopUtilization: elu,
    queueWaiting: 0,
    queueActive: 0,
    poolInUse: null,
    poolWaiting: null,
  };
}

describe('summarizeRun', () => {
  let run: RunResult;
  beforeAll(async () => {
    // A real run: a 2-step flow against Fastify on port 0, one step slow and one always failing.
    const app = Fastify();
    app.get('/slow', async () => {
      await new Promise((r) => setTimeout(r, 5));
      return 'ok';
    });
    app.get('/broken', async (_req, reply) => reply.code(500).send('no'));
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      run = await runOpenModel({
        target: url,
        rateRps: 40,
        durationMs: 1_000,
        flow: [
          { name: 'slow', method: 'GET', path: '/slow' },
          { name: 'broken', method: 'GET', path: '/broken' },
        ],
        scenario: { name: 'summary-test', profile: 'quick' },
      });
    } finally {
      await app.close();
    }
  });

  it('gives each step the percentiles of its own histogram, gated as latency', () => {
    const summary = summarizeRun(run);
    const slow = runMetrics(run)['latency:slow']!;
    expect(summary.figures['latency:slow.p50']!.value).toBe(slow.percentile!(50));
    expect(summary.figures['latency:slow.p95']!.value).toBe(slow.percentile!(95));
    expect(summary.figures['latency:slow.p99.9']!.value).toBe(slow.percentile!(99.9));
    expect(summary.figures['latency:slow.p50']!.value).toBeGreaterThanOrEqual(5);
    expect(summary.figures['latency:slow.p50']).toMatchObject({
      unit: 'ms',
      direction: 'lower-is-better',
      gate: 'latency',
    });
    // The last values of the tail hang on a handful of requests: shown, not gated.
    expect(summary.figures['latency:slow.max']!.gate).toBe('info');
  });

  it('keeps the overall percentiles of a mixed flow as information only', () => {
    const summary = summarizeRun(run);
    expect(summary.figures['latency.p50']!.gate).toBe('info');
    expect(summary.figures['latency.p95']!.value).toBe(runMetrics(run).latency!.percentile!(95));
  });

  it('counts the error rate as failed ÷ sent over every step', () => {
    const summary = summarizeRun(run);
    const sent = run.steps.reduce((n, s) => n + s.requests, 0);
    const failed = run.steps[1]!.requests;
    expect(summary.requests).toBe(sent);
    expect(summary.errors).toBe(failed);
    expect(summary.figures.error_rate).toMatchObject({
      value: failed / sent,
      gate: 'error-rate',
      unit: 'ratio',
    });
    expect(failed / sent).toBeCloseTo(0.5, 1);
  });

  it('gives throughput as requests per second of the run, higher being better', () => {
    const summary = summarizeRun(run);
    expect(summary.figures.throughput_rps!.value).toBeCloseTo(summary.requests / (run.durationMs / 1000), 6);
    expect(summary.figures.throughput_rps!.direction).toBe('higher-is-better');
  });

  it("reads the target's resources from its server samples", () => {
    const withSamples: RunResult = {
      ...run,
      durationMs: 2_000,
      serverSamples: [
        sample(0.5, null, 100, 40, 0.1),
        sample(1, 30, 120, 60, 0.2),
        sample(1.5, 50, 110, 50, 0.4),
      ] as unknown as RunResult['serverSamples'],
    };
    const summary = summarizeRun(withSamples);
    const requests = summary.requests;
    expect(summary.figures['server.cpu_percent_mean']!.value).toBe(40);
    // 40 % of one core for 2 s = 800 ms of CPU, spread over the run's requests.
    expect(summary.figures['server.cpu_ms_per_request']!.value).toBeCloseTo(800 / requests, 9);
    expect(summary.figures['server.cpu_ms_per_request']!.gate).toBe('resource');
    expect(summary.figures['server.rss_peak_bytes']).toMatchObject({ value: 120 * 1024 ** 2, gate: 'info' });
    expect(summary.figures['server.heap_peak_bytes']!.value).toBe(60 * 1024 ** 2);
    expect(summary.figures['server.event_loop_utilization_mean']!.value).toBeCloseTo(0.7 / 3, 9);
  });

  it("summarises a scenario's own figures with their direction", () => {
    const wait = LatencyHistogram.create();
    for (const ms of [1, 2, 3, 4, 100]) wait.recordUs(ms * 1000);
    const summary = summarizeRun({
      ...run,
      metrics: {
        queue_wait: { histogram: wait.encode() },
        pool_efficiency: { value: 0.93 },
        task_failures: { count: 1, rate: 0.01 },
      },
    });
    expect(summary.figures['metric:queue_wait.p50']!.value).toBe(wait.percentileMs(50));
    expect(summary.figures['metric:queue_wait.p50']!.value).toBeCloseTo(3, 2);
    expect(summary.figures['metric:pool_efficiency']).toMatchObject({
      value: 0.93,
      direction: 'higher-is-better',
    });
    expect(summary.figures['metric:task_failures']).toMatchObject({
      value: 0.01,
      direction: 'lower-is-better',
    });
  });

  it('carries the leak verdict and slope interval when the heap was sampled', () => {
    const samples = Array.from({ length: 20 }, (_, i) => ({
      tSec: i * 2,
      heapUsedBytes: (50 + i * 0.5) * 1024 ** 2,
      rssBytes: 100 * 1024 ** 2,
    }));
    const trend = heapTrend(samples, 4, 50);
    const summary = summarizeRun({ ...run, heapTrend: trend });
    expect(summary.leak).toEqual({
      leak: true,
      slopeMbPerHour: trend.slopeMbPerHour,
      slopeLowMbPerHour: trend.slopeLowMbPerHour,
      slopeHighMbPerHour: trend.slopeHighMbPerHour,
      maxSlopeMbPerHour: 50,
    });
    expect(summarizeRun(run).leak).toBeUndefined();
  });

  it('is plain versioned JSON: it survives a round trip unchanged', () => {
    const summary = summarizeRun(run);
    expect(summary).toMatchObject({ kind: 'headroom.run-summary', version: 1 });
    expect(JSON.parse(JSON.stringify(summary))).toEqual(summary);
  });
});
