import { beforeAll, describe, expect, it } from 'vitest';
import type { PipelineSample, StageName, StagePoint } from '../analyzer/pipeline-sample.js';
import { checkPipelineSample } from '../analyzer/pipeline-sample-file.js';
import { ConfigInvalidError } from '../errors.js';
import { affinityOf, coreList } from './cpu-affinity.js';
import { geometricLevels, planSampling, samplePipeline } from './pipeline-sampler.js';

/** A fast world so that a few short windows hold many rows: pages in ~100 ms, messages in ~0.2 s. */
const FAST_WORLD = {
  siteFarm: { latency: { medianMs: 100, sigma: 0.3 } },
  llm: { timeToFirstTokenMs: 100, tokensPerSecond: 400, tokensPerMessage: 40 },
};

const points = (sample: PipelineSample, stage: StageName): StagePoint[] =>
  sample.stages.find((s) => s.stage === stage)?.points ?? [];

describe('samplePipeline on a small configuration', () => {
  let sample: PipelineSample;
  const seen: string[] = [];

  beforeAll(async () => {
    sample = await samplePipeline({
      // A provider limit far below what the AI stage does: the sample measures the stage without it.
      simulators: { ...FAST_WORLD, llm: { ...FAST_WORLD.llm, rateLimit: { requestsPerMinute: 600 } } },
      // Windows of a fixed length do not shrink to fit: 40 s hold them, 10 more the one-core part.
      sampleSeconds: 50,
      windowS: 2,
      combinedWindowS: 5,
      levels: { ingest: [1], write: [8], scrape: [10, 40], ai: [10, 40] },
      onProgress: (p) => seen.push(`${p.stage}:${p.concurrency}${p.point || p.combined ? ':done' : ''}`),
    });
  }, 80_000);

  it('measures every stage at each level asked for', () => {
    expect(sample.stages.map((s) => s.stage)).toEqual(['ingest', 'scrape', 'ai', 'write']);
    expect(points(sample, 'scrape').map((p) => p.concurrency)).toEqual([10, 40]);
    expect(points(sample, 'ai').map((p) => p.concurrency)).toEqual([10, 40]);
    for (const s of sample.stages) for (const p of s.points) expect(p.items).toBeGreaterThan(0);
  });

  it("keeps Little's law at low concurrency: rows/s ≈ rows in flight ÷ time per row", () => {
    for (const stage of ['scrape', 'ai'] as const) {
      const p = points(sample, stage)[0]!;
      const secondsPerRow = p.externalLatencyMs!.mean / 1000;
      // Within 15 %: a two-second window holds a few hundred rows, and the ends of the window cut
      // rows in flight.
      expect(p.throughputRps).toBeGreaterThan((p.meanInFlight / secondsPerRow) * 0.85);
      expect(p.throughputRps).toBeLessThan((p.meanInFlight / secondsPerRow) * 1.15);
      expect(p.meanInFlight).toBeGreaterThan(p.concurrency * 0.9);
    }
  });

  it("measures the AI stage and the combined window without the provider's per-minute limit, which the model applies", () => {
    // 600 requests/min is 10/s; 40 slots at ~0.2 s a message do about 200/s.
    expect(points(sample, 'ai')[1]!.throughputRps).toBeGreaterThan(50);
    expect(sample.combined!.throughputRps).toBeGreaterThan(20);
    expect(points(sample, 'ai').every((p) => (p.failedItems ?? 0) === 0)).toBe(true);
  });

  it('finds more throughput at four times the concurrency while the sites are the limit', () => {
    const [low, high] = points(sample, 'scrape');
    expect(high!.throughputRps).toBeGreaterThan(low!.throughputRps * 2);
  });

  it('charges CPU per row to the pipeline and to the simulators separately', () => {
    const scrape = points(sample, 'scrape')[0]!;
    expect(scrape.cpuSecondsPerItem).toBeGreaterThan(0);
    expect(scrape.externalCpuSecondsPerItem).toBeGreaterThan(0);
    expect(scrape.rssBytes).toBeGreaterThan(sample.baseRssBytes * 0.5);
  });

  it('measures the combined window: a fill, then a steady rate', () => {
    const c = sample.combined!;
    expect(c.fillS).toBeGreaterThan(0);
    expect(c.throughputRps).toBeGreaterThan(0);
    expect(c.items).toBeGreaterThan(0);
    expect(c.cpuSecondsPerRow).toBeGreaterThan(0);
  });

  it('ends the combined window pinned to one core, and gives the process its cores back', async () => {
    const c = sample.combined!;
    const cores = coreList(await affinityOf(process.pid));
    if (cores.length < 2) {
      expect(c.oneCore).toBeUndefined();
      return;
    }
    const one = c.oneCore!;
    if ('skipped' in one) throw new Error(`one-core part skipped: ${one.skipped}`);
    expect(one.core).toBe(cores[0]);
    expect(one.items).toBeGreaterThan(0);
    expect(one.windowS).toBeGreaterThanOrEqual(3.5);
    expect(one.cpuSecondsPerRow).toBeGreaterThan(0);
    expect(one.externalCpuSecondsPerRow).toBeGreaterThan(0);
    // Each stage's own rate over the part, for the model to weigh by its CPU per row.
    expect(one.stageRps!.scrape + one.stageRps!.ai).toBeGreaterThan(0);
    expect(one.aiShare).toBeGreaterThan(0);
    expect(one.aiShare).toBeLessThanOrEqual(1);
    // The rows of the steady part and of the pinned part are counted apart.
    expect(c.items).toBeGreaterThan(0);
  });

  it('records the simulated world and stays within its time budget', () => {
    expect(sample.world).toMatchObject({
      colocatedSimulators: true,
      siteLatencyMedianMs: 100,
      llmTtftMs: 100,
      llmRpm: 600,
      llmLimitsInSample: false,
    });
    expect(sample.durationMs).toBeLessThanOrEqual(50_000);
    expect(() => checkPipelineSample(sample, 'sample')).not.toThrow();
  });

  it('reports progress window by window, each start followed by its result', () => {
    expect(seen).toContain('scrape:10');
    expect(seen).toContain('scrape:10:done');
    // The combined window runs between the scrape and the AI stage.
    const combinedAt = seen.findIndex((e) => /^combined:.*:done$/.test(e));
    expect(combinedAt).toBeGreaterThan(seen.lastIndexOf('scrape:40:done'));
    expect(combinedAt).toBeLessThan(seen.indexOf('ai:10'));
  });
});

describe('sampling plan', () => {
  it('spreads default levels geometrically from a 32nd to twice the configured concurrency', () => {
    const plan = planSampling({ pipeline: { concurrency: { scraping: 1600, ai_processing: 3200 } } });
    expect(plan.levels.scrape).toEqual(geometricLevels(50, 3200, 4));
    expect(plan.levels.scrape[0]).toBe(50);
    expect(plan.levels.scrape.at(-1)).toBe(3200);
    expect(plan.levels.ai.at(-1)).toBe(6400);
  });

  it('refuses a budget over two minutes and a level below 1, naming each option', () => {
    let err: unknown;
    try {
      planSampling({ sampleSeconds: 300, levels: { scrape: [0, 10] } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigInvalidError);
    expect((err as ConfigInvalidError).problems).toEqual([
      'sampleSeconds: must be between 5 and 120 (got 300)',
      'levels.scrape: must be a non-empty list of integers >= 1 (got [0,10])',
    ]);
  });
});

/** A slow LLM: 200 ms to the first token + 120 tokens at 40/s = 3.2 s an AI row (the world of issue 14). */
const SLOW_LLM_WORLD = {
  siteFarm: { latency: { medianMs: 120, sigma: 0.3 } },
  llm: { timeToFirstTokenMs: 200, tokensPerSecond: 40, tokensPerMessage: 120 },
};

describe('a world whose slowest stage leaves no time for every window', () => {
  it('plans fewer, longer levels for a slow LLM, and still a combined window', () => {
    const fast = planSampling({ simulators: FAST_WORLD, sampleSeconds: 60 });
    const slow = planSampling({
      simulators: { llm: { timeToFirstTokenMs: 2000, tokensPerSecond: 20, tokensPerMessage: 150 } },
      sampleSeconds: 60,
    });
    expect(fast.levels.ai).toHaveLength(4);
    expect(slow.levels.ai.length).toBeLessThan(4);
    expect(slow.levels.ai.length).toBeGreaterThanOrEqual(1);
    expect(slow.combined).toBe(true);
    // Three AI calls (9.5 s each) at least, not the 10 s a fast world gets.
    expect(slow.combinedWindowS).toBeGreaterThanOrEqual(3 * 9.5);
  });

  it('keeps the combined window when the AI levels asked for would take the whole budget', async () => {
    // Four AI levels at 3.2 s a row need ~60 s of windows; the budget is 30 s. The AI levels give
    // way (the highest and the middle ones first), the combined window stays.
    const sample = await samplePipeline({
      simulators: SLOW_LLM_WORLD,
      pipeline: { concurrency: { scraping: 32, ai_processing: 64 } },
      sampleSeconds: 30,
      levels: { ingest: [1], write: [8], scrape: [8, 32], ai: [8, 16, 32, 64] },
    });
    expect(sample.combined).toBeDefined();
    expect(sample.combined!.items).toBeGreaterThan(0);
    expect(sample.combined!.throughputRps).toBeGreaterThan(0);
    expect(sample.configured).toMatchObject({ scrape: 32, ai: 64 });
    expect(points(sample, 'ai').length).toBeLessThan(4);
    // Tokens per message from the LLM's usage: the prompt carries the page, so it outweighs the completion.
    expect(sample.combined!.tokens!.completion).toBeGreaterThan(100);
    expect(sample.combined!.tokens!.prompt).toBeGreaterThan(sample.combined!.tokens!.completion);
    checkPipelineSample(sample, 'slow-llm sample');
  }, 90_000);
});
