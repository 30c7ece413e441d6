import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../results/latency-histogram.js';
import { type RunResult, writeRunResult } from '../../results/run-result.js';
import { runOpenModel } from '../../scenarios/open-model-engine.js';
import { answerOk, startTestHttpServer } from '../../scenarios/test-support/test-http-server.js';
import { main } from '../main.js';
import { capturedIo } from '../test-support/captured-io.js';

let dir: string;
let result: RunResult;
/** A run of a scenario the library does not have: no thresholds unless asked. */
let customFile: string;
/** The same run recorded as the library's auth scenario: auth's thresholds apply by default. */
let authFile: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'headroom-analyze-cli-'));
  const target = await startTestHttpServer((_req, res) => answerOk(res));
  try {
    result = await runOpenModel({
      target: target.url,
      rateRps: 100,
      durationMs: 1_000,
      scenario: { name: 'custom', profile: 'quick' },
    });
  } finally {
    await target.close();
  }
  customFile = path.join(dir, 'custom.json');
  authFile = path.join(dir, 'auth.json');
  await writeRunResult(customFile, result);
  await writeRunResult(authFile, { ...result, scenario: { ...result.scenario, name: 'auth' } });
  return () => rm(dir, { recursive: true, force: true });
});

/** The overall p95 worked out from the result's own histograms. */
function p95(): number {
  const all = LatencyHistogram.create();
  for (const s of result.steps) all.merge(LatencyHistogram.decode(s.latencyHistogram));
  return all.percentileMs(95);
}

describe('headroom analyze', () => {
  it('prints the steps and checks nothing when the run names no library scenario', async () => {
    const io = capturedIo();
    expect(await main(['analyze', customFile], io)).toBe(0);
    const step = result.steps[0]!;
    expect(io.out).toContain('headroom run custom (quick)');
    expect(io.out).toMatch(new RegExp(`${step.name}\\s+${step.requests}\\s+0`));
    expect(io.out).toContain('no thresholds checked');
  });

  it('checks --threshold expressions against the saved histograms: pass exits 0, fail exits 1', async () => {
    const pass = capturedIo();
    expect(await main(['analyze', customFile, '--threshold', 'latency p(95) < 60000'], pass)).toBe(0);
    expect(pass.out).toMatch(/pass {2}latency p\(95\) < 60000/);

    const fail = capturedIo();
    expect(
      await main(
        ['analyze', customFile, '--threshold', 'latency p(95)<0.001', '--threshold', 'errors rate<0.01'],
        fail,
      ),
    ).toBe(1);
    expect(fail.out).toContain(`FAIL  latency p(95)<0.001  (measured ${p95().toFixed(3)})`);
    expect(fail.out).toContain('pass  errors rate<0.01  (measured 0.000)');
    expect(fail.out).toContain('FAILED: a threshold was not met');
  });

  it('uses the thresholds of the library scenario the run names, unless told not to', async () => {
    const io = capturedIo();
    // auth's thresholds name its login and profile steps, which this run does not have: they fail.
    expect(await main(['analyze', authFile], io)).toBe(1);
    expect(io.out).toMatch(/FAIL {2}latency:login /);

    const none = capturedIo();
    expect(await main(['analyze', authFile, '--no-thresholds'], none)).toBe(0);
    expect(none.out).toContain('no thresholds checked');
  });

  it('prints the summary the gate compares and the outcomes as JSON', async () => {
    const io = capturedIo();
    expect(await main(['analyze', customFile, '--json', '--threshold', 'requests count>10'], io)).toBe(0);
    const printed = JSON.parse(io.out);
    expect(printed.passed).toBe(true);
    expect(printed.summary.kind).toBe('headroom.run-summary');
    expect(printed.summary.requests).toBe(result.steps.reduce((n, s) => n + s.requests, 0));
    expect(printed.summary.figures['latency.p95'].value).toBeCloseTo(p95(), 6);
    expect(printed.thresholds).toEqual([
      { metric: 'requests', threshold: 'count>10', actual: printed.summary.requests, passed: true },
    ]);
  });

  it('exits 2 with the fix for a malformed threshold or contradictory flags', async () => {
    const io = capturedIo();
    expect(await main(['analyze', customFile, '--threshold', 'latency p95<500'], io)).toBe(2);
    expect(io.err).toContain('write p(95)<500');
    const bare = capturedIo();
    expect(await main(['analyze', customFile, '--threshold', 'p(95)<500'], bare)).toBe(2);
    expect(bare.err).toContain("write the metric, a space, then the expression, e.g. 'latency p(95)<500'");
    const both = capturedIo();
    expect(await main(['analyze', customFile, '--no-thresholds', '--scenario', 'auth'], both)).toBe(2);
  });

  it('exits 2 naming a file it cannot read', async () => {
    const io = capturedIo();
    const missing = path.join(dir, 'missing.json');
    expect(await main(['analyze', missing], io)).toBe(2);
    expect(io.err).toContain(`${missing} is not a usable run result: it cannot be read (ENOENT)`);
    expect(io.err).toContain('HRM_RESULT_INVALID');
  });
});
