import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ConfigInvalidError } from '../errors.js';
import { LatencyHistogram } from '../results/latency-histogram.js';
import { checkRunResult } from '../results/run-result.js';
import { runClosedModel } from './closed-model-engine.js';
import { answerOk, startTestHttpServer, type TestHttpServer } from './test-support/test-http-server.js';

async function server(...args: Parameters<typeof startTestHttpServer>): Promise<TestHttpServer> {
  const started = await startTestHttpServer(...args);
  onTestFinished(() => started.close());
  return started;
}

describe('runClosedModel', () => {
  it('runs exactly the iterations asked for, never more at once than there are users', async () => {
    const target = await server((_req, res) => {
      void sleep(5).then(() => answerOk(res));
    });
    const result = await runClosedModel({ target: target.url, vus: 3, iterations: 30 });

    expect(target.arrivalsMs).toHaveLength(30);
    expect(target.maxConcurrent).toBeLessThanOrEqual(3);
    expect(result.steps[0]).toMatchObject({ requests: 30, errors: {} });
    expect(
      LatencyHistogram.decode(result.steps[0]!.latencyHistogram).percentileMs(50),
    ).toBeGreaterThanOrEqual(5);
  });

  it("waits each user's think time before its next iteration", async () => {
    const target = await server((_req, res) => answerOk(res));
    await runClosedModel({
      target: target.url,
      vus: 1,
      durationMs: 1_000,
      flow: [{ name: 'home', method: 'GET', path: '/', thinkMs: 100 }],
    });

    const arrivals = target.arrivalsMs;
    expect(arrivals.length).toBeGreaterThanOrEqual(2);
    // A lower bound only: a busy machine can make gaps longer, never shorter.
    for (let i = 1; i < arrivals.length; i++)
      expect(arrivals[i]! - arrivals[i - 1]!).toBeGreaterThanOrEqual(99);
    expect(arrivals.length).toBeLessThanOrEqual(11);
  });

  it('produces the same versioned result shape as the open model, without a schedule', async () => {
    const target = await server((_req, res) => answerOk(res));
    const result = await runClosedModel({
      target: target.url,
      vus: 4,
      durationMs: 1_500,
      scenario: { name: 'api-stress', profile: 'full' },
    });

    expect(() => checkRunResult(result, 'memory')).not.toThrow();
    expect(result).toMatchObject({
      engine: 'closed-model',
      scenario: { name: 'api-stress', profile: 'full' },
    });
    expect(result.schedule).toBeUndefined();
    expect(result.timeSeries.reduce((sum, p) => sum + p.requests, 0)).toBe(result.steps[0]!.requests);
  });

  it('refuses a run with neither a duration nor an iteration count', async () => {
    await expect(runClosedModel({ target: 'http://127.0.0.1:1', vus: 2 })).rejects.toBeInstanceOf(
      ConfigInvalidError,
    );
  });
});
