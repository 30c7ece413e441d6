import type { PipelineSample } from '../pipeline-sample.js';

/** A saved sample of a 2-core host: scrape 0.3 s per row, ai 2 s per row (both latency-bound). */
export function twoStageSample(): PipelineSample {
  const point = (n: number, w: number) => ({
    concurrency: n,
    meanInFlight: n,
    throughputRps: n / w,
    items: 1000,
    windowS: 10,
    cpuSecondsPerItem: 0.0003,
    externalCpuSecondsPerItem: 0.0001,
    rssBytes: 100e6 + n * 20_000,
  });
  return {
    kind: 'headroom.pipeline-sample',
    version: 1,
    createdAt: '2026-11-23T00:00:00.000Z',
    host: { cpuModel: 'test', cores: 2, memoryBytes: 8e9, os: 'Linux', node: 'v20' },
    world: { colocatedSimulators: true },
    baseRssBytes: 100e6,
    stages: [
      { stage: 'scrape', points: [point(50, 0.3), point(200, 0.3)] },
      { stage: 'ai', points: [point(50, 2), point(200, 2), point(800, 2)] },
    ],
    durationMs: 60_000,
  };
}
