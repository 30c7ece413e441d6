import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baselineFromRuns, saveBaseline } from '../../baselines/baseline-store.js';
import { hostFingerprint } from '../../baselines/host-fingerprint.js';
import { describeHost } from '../../results/host-description.js';
import { LatencyHistogram } from '../../results/latency-histogram.js';
import { type RunResult, writeRunResult } from '../../results/run-result.js';
import { main } from '../main.js';
import { capturedIo } from '../test-support/captured-io.js';

/** A run result whose login step centres on `p50Ms` (a trial of the auth scenario). */
function trial(p50Ms: number): RunResult {
  const h = LatencyHistogram.create();
  for (let i = 0; i < 200; i++) h.recordUs(p50Ms * (1 + (i - 100) / 1000) * 1000);
  return {
    kind: 'headroom.run-result',
    version: 1,
    createdAt: new Date().toISOString(),
    host: describeHost(),
    scenario: { name: 'auth', profile: 'quick', configHash: 'sha256:1111222233334444' },
    target: 'http://127.0.0.1:1/api/v1',
    engine: 'open-model',
    durationMs: 4_000,
    steps: [
      {
        name: 'login',
        requests: 200,
        errors: {},
        latencyHistogram: h.encode(),
        serviceHistogram: h.encode(),
      },
    ],
    timeSeries: [],
    serverSamples: [],
  };
}

let dir: string;
async function trialFolder(name: string, p50s: number[]): Promise<string> {
  const folder = path.join(dir, name);
  await mkdir(folder, { recursive: true });
  await Promise.all(p50s.map((p, i) => writeRunResult(path.join(folder, `trial-${i + 1}.json`), trial(p))));
  return folder;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'headroom-compare-cli-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('headroom compare', () => {
  it('exits 1 on a regression and writes the Markdown and JUnit reports', async () => {
    const base = await trialFolder('base', [35, 35.3, 34.8, 35.1, 35]);
    const head = await trialFolder('slow', [42, 42.2, 41.9, 42.1, 42]);
    const io = capturedIo();
    const md = path.join(dir, 'out', 'perf.md');
    const junit = path.join(dir, 'out', 'perf.xml');
    expect(await main(['compare', base, head, '--markdown', md, '--junit', junit], io)).toBe(1);
    expect(io.out).toContain('### headroom gate: FAIL');
    expect(await readFile(md, 'utf8')).toBe(io.out);
    expect(await readFile(junit, 'utf8')).toContain(
      '<failure message="latency regression: latency:login.p50 +20.0 %"',
    );
  });

  it('exits 0 when nothing changed and prints JSON with --json', async () => {
    const base = await trialFolder('a1', [35, 35.3, 34.8, 35.1, 35]);
    const same = await trialFolder('a2', [35.1, 34.9, 35.2, 35, 34.9]);
    const io = capturedIo();
    expect(await main(['compare', base, same, '--json'], io)).toBe(0);
    const outcome = JSON.parse(io.out) as {
      kind: string;
      passed: boolean;
      scenarios: Array<{ scenario: string }>;
    };
    expect(outcome).toMatchObject({ kind: 'headroom.gate-outcome', passed: true });
    expect(outcome.scenarios.map((s) => s.scenario)).toEqual(['auth']);
  });

  it("compares run results with this host's stored baseline by scenario name", async () => {
    const store = path.join(dir, 'baselines');
    await saveBaseline(
      baselineFromRuns([35, 35.3, 34.8, 35.1].map(trial), await hostFingerprint(), null),
      store,
    );
    const head = await trialFolder('b', [42, 42.2, 41.9, 42.1]);
    const io = capturedIo();
    expect(await main(['compare', 'auth', head, '--dir', store], io)).toBe(1);
    expect(io.out).toContain(`Base: baseline ${path.join(store, 'auth.')}`);
  });

  it('refuses one run per side with exit 2, saying why', async () => {
    const one = path.join(dir, 'single.json');
    await writeRunResult(one, trial(35));
    const io = capturedIo();
    expect(await main(['compare', one, one], io)).toBe(2);
    expect(io.err).toContain('a comparison needs at least 2 per side');
    expect(io.err).toContain('HRM_USAGE_INVALID');
  });

  it('exits 2 for a missing baseline, with the command that creates one', async () => {
    const io = capturedIo();
    expect(await main(['compare', 'auth', 'worker', '--dir', path.join(dir, 'empty')], io)).toBe(2);
    expect(io.err).toContain('HRM_BASELINE_NOT_FOUND');
    expect(io.err).toContain('headroom baseline save auth --dir');
  });
});
