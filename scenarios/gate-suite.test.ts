import { describe, expect, it } from 'vitest';
import { UsageInvalidError } from '../errors.js';
import { GATE_SUITES, gateSuite, trialScenario } from './gate-suite.js';
import { loadScenario } from './load-scenario.js';

describe('gate suites', () => {
  it('slices a ramped quick profile into a trial at its steady rate', async () => {
    const trial = await trialScenario({ scenario: 'api-stress', trialS: 4, warmupTrials: 1 });
    const quick = await loadScenario('api-stress', { profile: 'quick' });
    expect(trial.load).toEqual({ model: 'open', phases: [{ rateRps: 200, durationMs: 4_000 }] });
    expect(trial.durationMs).toBe(4_000);
    expect(trial.flow).toEqual(quick.flow);
    expect(trial.profile).toBe('quick');
  });

  it('takes the rate and setup users the entry gives', async () => {
    const trial = await trialScenario({
      scenario: 'auth',
      trialS: 4,
      rateRps: 10,
      setupUsers: 40,
      warmupTrials: 1,
    });
    expect(trial.load).toEqual({ model: 'open', phases: [{ rateRps: 10, durationMs: 4_000 }] });
    expect(trial.setup.users).toBe(40);
  });

  it('keeps the submitters of a closed-model scenario and shortens its run', async () => {
    const trial = await trialScenario({ scenario: 'worker', trialS: 4, warmupTrials: 1 });
    expect(trial.load).toEqual({ model: 'closed', vus: 50, durationMs: 4_000 });
  });

  it('refuses scenarios that cannot run as short trials against the pipeline', async () => {
    await expect(trialScenario({ scenario: 'database', trialS: 4, warmupTrials: 0 })).rejects.toThrow(
      /database scenario cannot run as short gate trials/,
    );
  });

  it('keeps the quick suite within its time budget: at most 5 s per trial and at least 5 trials fit', () => {
    for (const entry of GATE_SUITES.quick!.entries) {
      expect(entry.trialS).toBeLessThanOrEqual(5);
      expect(entry.warmupTrials).toBeGreaterThanOrEqual(1);
    }
  });

  it('names the known suites for an unknown one', () => {
    expect(() => gateSuite('nightly')).toThrow(UsageInvalidError);
    expect(() => gateSuite('nightly')).toThrow('use one of quick, smoke');
  });
});
