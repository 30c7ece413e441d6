import { describe, expect, it } from 'vitest';
import { ScenarioInvalidError } from '../errors.js';
import { loadScenario, parseScenario } from './load-scenario.js';

const pipelineFile = {
  name: 'sampling',
  type: 'pipeline',
  profiles: {
    quick: { sampler: { sampleSeconds: 30, levels: { scrape: [10, 100] } } },
    full: { sampler: { sampleSeconds: 120 } },
  },
};

function problemsOf(data: unknown): string[] {
  try {
    parseScenario(data, 'bad.json', 'quick');
  } catch (err) {
    expect(err).toBeInstanceOf(ScenarioInvalidError);
    return (err as ScenarioInvalidError).problems;
  }
  throw new Error('expected the scenario to be refused');
}

describe('the pipeline scenario', () => {
  it('loads from the library with a quick profile bounded by 60 s and a longer full one', async () => {
    const quick = await loadScenario('pipeline', { profile: 'quick' });
    const full = await loadScenario('pipeline', { profile: 'full' });
    expect(quick.type).toBe('pipeline');
    expect(quick.sampler!.sampleSeconds).toBeLessThanOrEqual(60);
    expect(quick.durationMs).toBe(quick.sampler!.sampleSeconds * 1000);
    expect(full.sampler!.sampleSeconds).toBeGreaterThan(quick.sampler!.sampleSeconds);
    expect(full.sampler!.levels!.scrape!.length).toBeGreaterThanOrEqual(4);
  });

  it('takes sampler settings from the chosen profile, with defaults filled', () => {
    const s = parseScenario(structuredClone(pipelineFile), 'p.json', 'quick');
    expect(s.sampler).toEqual({ sampleSeconds: 30, combined: true, levels: { scrape: [10, 100] } });
  });

  it('refuses a pipeline profile without a sampler, naming the profile', () => {
    const data = structuredClone(pipelineFile) as { profiles: { full: unknown } };
    data.profiles.full = { load: { model: 'closed', vus: 1, durationS: 10 } };
    const problems = problemsOf(data);
    expect(problems).toContain('/profiles/full: missing field "sampler"');
  });

  it('refuses a sampling budget over two minutes, naming the field', () => {
    const data = structuredClone(pipelineFile);
    data.profiles.quick.sampler.sampleSeconds = 600;
    expect(problemsOf(data)).toContain('/profiles/quick/sampler/sampleSeconds: must be <= 120 (got 600)');
  });

  it('refuses a concurrency level below 1, naming the stage and the level', () => {
    const data = structuredClone(pipelineFile);
    data.profiles.quick.sampler.levels.scrape = [0, 100];
    expect(problemsOf(data)).toContain('/profiles/quick/sampler/levels/scrape/0: must be >= 1 (got 0)');
  });

  it('refuses a sampler in a scenario of another type', () => {
    const data = {
      name: 'tiny',
      type: 'worker',
      profiles: {
        quick: { load: { model: 'closed', vus: 1, durationS: 5 }, sampler: { sampleSeconds: 10 } },
        full: { load: { model: 'closed', vus: 1, durationS: 60 } },
      },
    };
    expect(problemsOf(data).join('\n')).toMatch(/\/profiles\/quick\/sampler/);
  });
});
