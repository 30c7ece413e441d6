import { startPipeline } from '../../pipeline/pipeline.js';
import type { RunResult } from '../../results/run-result.js';
import { heapTrend, startHeapSampler } from '../../scenarios/heap-sampler.js';
import { runOpenModel } from '../../scenarios/open-model-engine.js';
import { startServerSampler } from '../../scenarios/server-sampler.js';

/**
 * A real run for report tests: the reference pipeline's API (Fastify on a free loopback port,
 * no workers) under open-model load, with its /metrics sampled and its heap after GC sampled and
 * fitted. The second step asks for a route that does not exist, so the run has failures to show.
 */
export async function measuredRun(opts: { durationMs: number; rateRps: number }): Promise<RunResult> {
  const pipeline = await startPipeline({
    store: ':memory:',
    http: { port: 0 },
    logLevel: 'silent',
    workers: false,
    admin: { enabled: true },
  });
  try {
    const sampler = startServerSampler(`${pipeline.apiUrl}/metrics`, { intervalMs: 250 });
    const heap = startHeapSampler(pipeline.apiUrl, 200);
    let result: RunResult;
    try {
      result = await runOpenModel({
        target: pipeline.apiUrl,
        flow: [
          { name: 'GET /health', method: 'GET', path: '/health' },
          { name: 'GET /missing', method: 'GET', path: '/missing' },
        ],
        rateRps: opts.rateRps,
        durationMs: opts.durationMs,
        scenario: { name: 'report-fixture', profile: 'quick' },
      });
    } finally {
      const serverSamples = await sampler.stop();
      const heapSamples = await heap.stop();
      result!.serverSamples = serverSamples as unknown as RunResult['serverSamples'];
      result!.heapTrend = heapTrend(heapSamples, 0.4, 50);
    }
    return result;
  } finally {
    await pipeline.close();
  }
}
