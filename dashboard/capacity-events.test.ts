import { describe, expect, it } from 'vitest';
import { capacityFromSample } from '../analyzer/capacity-model.js';
import { twoStageSample } from '../analyzer/test-support/two-stage-sample.js';
import { uslThroughput } from '../analyzer/usl-fit.js';
import { samplePipeline } from '../scenarios/pipeline-sampler.js';
import { type FitEvent, fitEvent, type LevelEvent, levelEvent } from './capacity-events.js';

describe('the capacity page events', () => {
  it("turns each of the sampler's windows into a level, with its point once measured", async () => {
    const events: LevelEvent[] = [];
    // One stage at two levels, no combined window: the sampler's shortest useful run.
    await samplePipeline({
      simulators: { siteFarm: { latency: { medianMs: 50, sigma: 0.2 } } },
      stages: ['scrape'],
      combined: false,
      sampleSeconds: 10,
      windowS: 1,
      levels: { scrape: [4, 16] },
      onProgress: (p) => events.push(levelEvent(p) as LevelEvent),
    });
    expect(events.every((e) => e.type === 'level' && e.stage === 'scrape' && e.windows >= 2)).toBe(true);
    // Each level is announced, then comes back with its point.
    expect(events.map((e) => `${e.concurrency}${e.point ? ' measured' : ''}`)).toEqual([
      '4',
      '4 measured',
      '16',
      '16 measured',
    ]);
    const measured = events.filter((e) => e.point).map((e) => e.point!);
    expect(measured.map((p) => p.concurrency)).toEqual([4, 16]);
    expect(measured[1]!.throughputRps).toBeGreaterThan(measured[0]!.throughputRps);
    expect(events.map((e) => e.window)).toEqual([1, 1, 2, 2]);
  }, 60_000);

  it('draws each fitted curve through the levels and past the configured concurrency', () => {
    const report = capacityFromSample(twoStageSample(), { rows: 100_000, source: 'test' });
    const event = fitEvent(report) as FitEvent;
    expect(event.type).toBe('fit');
    expect(event.stages.map((s) => s.stage)).toEqual(report.stages.map((s) => s.stage));
    for (const s of event.stages) {
      const fit = report.stages.find((r) => r.stage === s.stage)!.fit!;
      expect(s.curve.length).toBe(40);
      expect(s.curve[0]!.concurrency).toBeCloseTo(1, 9);
      expect(s.curve.at(-1)!.concurrency).toBeGreaterThanOrEqual(Math.max(fit.maxConcurrency, s.concurrency));
      for (const p of s.curve) expect(p.throughputRps).toBeCloseTo(uslThroughput(fit, p.concurrency), 9);
    }
    expect(event.forecast.rows).toBe(100_000);
    expect(event.forecast.bottleneck).toContain('ai');
  });
});
