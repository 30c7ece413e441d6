import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, onTestFinished } from 'vitest';
import { LatencyHistogram } from '../results/latency-histogram.js';
import { checkRunResult } from '../results/run-result.js';
import { runAutocannon } from './autocannon-driver.js';
import { answerOk, startTestHttpServer, type TestHttpServer } from './test-support/test-http-server.js';

async function server(...args: Parameters<typeof startTestHttpServer>): Promise<TestHttpServer> {
  const started = await startTestHttpServer(...args);
  onTestFinished(() => started.close());
  return started;
}

describe('runAutocannon', () => {
  it("converts a short run into a valid RunResult whose counts match autocannon's own", async () => {
    const target = await server((_req, res) => answerOk(res));
    const { result, reported, raw } = await runAutocannon({
      target: target.url,
      connections: 4,
      durationMs: 1_000,
    });

    expect(() => checkRunResult(result, 'memory')).not.toThrow();
    expect(result.engine).toBe('autocannon');
    expect(raw.requests.total).toBeGreaterThan(0);
    expect(LatencyHistogram.decode(result.steps[0]!.latencyHistogram).count).toBe(raw.requests.total);
    expect(result.steps[0]!.requests).toBe(raw.requests.sent);
    expect(result.timeSeries.reduce((sum, p) => sum + p.requests, 0)).toBe(raw.requests.total);
    expect(reported.requests).toBe(raw.requests.total);
    // Every response reached the target, plus at most one in flight per connection at the end.
    expect(target.arrivalsMs.length - raw.requests.total).toBeLessThanOrEqual(4);
  });

  it("reports p95 from autocannon's own histogram, in whole milliseconds", async () => {
    const target = await server((_req, res) => {
      void sleep(20).then(() => answerOk(res));
    });
    const { reported, raw } = await runAutocannon({ target: target.url, connections: 2, durationMs: 1_000 });

    expect(reported.p50Ms).toBe(raw.latency.p50);
    expect(reported.p99Ms).toBe(raw.latency.p99);
    expect(Number.isInteger(reported.p95Ms)).toBe(true);
    expect(reported.p95Ms).toBeGreaterThanOrEqual(reported.p50Ms);
    expect(reported.p95Ms).toBeLessThanOrEqual(reported.p99Ms);
  });

  it('classifies 5xx answers and keeps their latency', async () => {
    const target = await server((_req, res) => res.writeHead(503).end());
    const { result, raw } = await runAutocannon({ target: target.url, connections: 2, durationMs: 1_000 });

    expect(result.steps[0]!.errors).toEqual({ http_5xx: raw['5xx'] });
    expect(raw['5xx']).toBeGreaterThan(0);
    expect(LatencyHistogram.decode(result.steps[0]!.latencyHistogram).count).toBe(raw['5xx']);
  });
});
