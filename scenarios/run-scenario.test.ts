import { describe, expect, it } from 'vitest';
import { RemoteTargetRefusedError } from '../errors.js';
import { libraryScenarios, loadScenario } from './load-scenario.js';
import { assertTargetAllowed, runScenario } from './run-scenario.js';

describe('scenario library against the embedded pipeline', async () => {
  for (const name of await libraryScenarios()) {
    it(`passes the ${name} quick profile`, async () => {
      const scenario = await loadScenario(name, { profile: 'quick' });
      const run = await runScenario(scenario);
      const failed = run.thresholds
        .filter((t) => !t.passed)
        .map((t) => `${t.metric} ${t.threshold}: ${t.actual}`);
      expect(failed).toEqual([]);
      expect(run.passed).toBe(true);
      expect(run.result.scenario).toMatchObject({ name, profile: 'quick' });
      // The database scenario drives the store directly; the pipeline scenario samples its own
      // pipelines stage by stage: neither has one target whose /metrics could be read.
      if (name !== 'database' && name !== 'pipeline')
        expect(run.result.serverSamples.length).toBeGreaterThan(10);
    });
  }

  it('finds the leak in memory-leak when the pipeline retains memory per request', async () => {
    const scenario = await loadScenario('memory-leak', { profile: 'quick' });
    const run = await runScenario(scenario, { targetArgs: ['--inject-leak', '20000'] });
    expect(run.passed).toBe(false);
    expect(run.result.heapTrend?.leak).toBe(true);
    // 50 req/s × 20 kB retained ≈ 3.4 GB/h; the fit must find that order of magnitude.
    expect(run.result.heapTrend!.slopeLowMbPerHour).toBeGreaterThan(1_000);
    expect(run.thresholds.find((t) => t.metric === 'heap_slope_mb_per_hour')?.passed).toBe(false);
  });
});

describe('target safety', () => {
  it('refuses a private or public target without --allow-remote, before sending anything', async () => {
    for (const target of ['http://10.0.0.1/api/v1', 'http://192.168.1.10/api/v1', 'http://93.184.216.34/']) {
      await expect(assertTargetAllowed(target)).rejects.toBeInstanceOf(RemoteTargetRefusedError);
    }
  });

  it('allows loopback targets', async () => {
    for (const target of ['http://127.0.0.1:3000/api/v1', 'http://localhost:3000/', 'http://[::1]:3000/']) {
      await expect(assertTargetAllowed(target)).resolves.toBeUndefined();
    }
  });

  it('allows a remote target only when told to', async () => {
    await expect(assertTargetAllowed('http://10.0.0.1/', true)).resolves.toBeUndefined();
  });
});
