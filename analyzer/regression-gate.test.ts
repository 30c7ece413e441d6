import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../pipeline/sim/seeded-random.js';
import { compareTrials } from './comparison.js';
import { compareScenarioTrials, gateOutcome, overallVerdictLine } from './regression-gate.js';
import type { LeakSummary, RunSummary, SummaryFigure } from './summary.js';

/** Lognormal multiplicative noise of about `sigma` (seeded). */
function noisy(random: SeededRandom, center: number, sigma: number): number {
  const g = Math.sqrt(-2 * Math.log(random.next() || 1e-12)) * Math.cos(2 * Math.PI * random.next());
  return center * Math.exp(sigma * g);
}

function summary(values: Record<string, number>, leak?: LeakSummary): RunSummary {
  const figure = (name: string, value: number): SummaryFigure => {
    if (name === 'error_rate')
      return { value, unit: 'ratio', direction: 'lower-is-better', gate: 'error-rate' };
    if (name === 'throughput_rps')
      return { value, unit: 'rps', direction: 'higher-is-better', gate: 'throughput' };
    if (name.startsWith('server.'))
      return { value, unit: 'ms', direction: 'lower-is-better', gate: 'resource' };
    if (name.startsWith('latency.')) return { value, unit: 'ms', direction: 'lower-is-better', gate: 'info' };
    return { value, unit: 'ms', direction: 'lower-is-better', gate: 'latency' };
  };
  const s: RunSummary = {
    kind: 'headroom.run-summary',
    version: 1,
    scenario: { name: 'auth', profile: 'quick', configHash: 'sha256:0000000000000000' },
    createdAt: '2026-01-01T00:00:00.000Z',
    durationMs: 4_000,
    requests: 80,
    errors: 0,
    figures: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, figure(k, v)])),
  };
  if (leak) s.leak = leak;
  return s;
}

/** `n` trials of a login p50 around `centerMs` with noise `sigma`. */
function loginTrials(random: SeededRandom, n: number, centerMs: number, sigma: number): RunSummary[] {
  return Array.from({ length: n }, () => summary({ 'latency:login.p50': noisy(random, centerMs, sigma) }));
}

describe('regression gate', () => {
  it('keeps A/A comparisons quiet: at most 1 % false alarms in 200 with 3 % trial noise', () => {
    const random = new SeededRandom(42);
    let alarms = 0;
    for (let i = 0; i < 200; i++) {
      const gate = compareScenarioTrials(loginTrials(random, 5, 35, 0.03), loginTrials(random, 5, 35, 0.03), {
        resamples: 2_000,
      });
      if (gate.failed) alarms++;
    }
    expect(alarms).toBeLessThanOrEqual(2);
  });

  it('catches a true +10 % change at least 95 times in 100 with 3 % trial noise', () => {
    const random = new SeededRandom(7);
    let caught = 0;
    for (let i = 0; i < 100; i++) {
      const gate = compareScenarioTrials(
        loginTrials(random, 5, 35, 0.03),
        loginTrials(random, 5, 38.5, 0.03),
        {
          resamples: 2_000,
        },
      );
      if (gate.failed) caught++;
    }
    expect(caught).toBeGreaterThanOrEqual(95);
  });

  it('would miss about half of those with a rule that wants the whole interval past +10 %', () => {
    const random = new SeededRandom(7);
    let whollyPast = 0;
    for (let i = 0; i < 100; i++) {
      const base = Array.from({ length: 5 }, () => noisy(random, 35, 0.03));
      const head = Array.from({ length: 5 }, () => noisy(random, 38.5, 0.03));
      if (compareTrials(base, head, 'lower-is-better', { resamples: 2_000 }).low > 1.1) whollyPast++;
    }
    expect(whollyPast).toBeLessThan(60);
  });

  it('says inconclusive, with the trials it would take, when noise hides the answer', () => {
    const random = new SeededRandom(3);
    const gate = compareScenarioTrials(loginTrials(random, 3, 35, 0.2), loginTrials(random, 3, 38, 0.2));
    const login = gate.figures.find((f) => f.figure === 'latency:login.p50')!;
    expect(login.verdict).toBe('inconclusive');
    expect(login.trialsNeeded).toBeGreaterThan(3);
    expect(gate.failed).toBe(false);
  });

  it('compares paired rounds so that noise both sides shared cancels', () => {
    const random = new SeededRandom(11);
    // Each round, the machine's load moves both sides by up to ±30 %; the head is 12 % slower.
    const base: RunSummary[] = [];
    const head: RunSummary[] = [];
    for (let round = 0; round < 6; round++) {
      const machine = noisy(random, 1, 0.3);
      base.push(summary({ 'latency:login.p50': 35 * machine * noisy(random, 1, 0.01) }));
      head.push(summary({ 'latency:login.p50': 39.2 * machine * noisy(random, 1, 0.01) }));
    }
    const unpaired = compareScenarioTrials(base, head).figures[0]!;
    const paired = compareScenarioTrials(base, head, { paired: true }).figures[0]!;
    expect(unpaired.verdict).toBe('inconclusive');
    expect(paired.verdict).toBe('regression');
    expect(paired.change).toBeCloseTo(0.12, 1);
  });

  it('judges the error rate by its difference in percentage points', () => {
    const zero = Array.from({ length: 5 }, () => summary({ error_rate: 0 }));
    const some = [0.004, 0.006, 0.005, 0.005, 0.004].map((r) => summary({ error_rate: r }));
    const worse = compareScenarioTrials(zero, some).figures[0]!;
    expect(worse).toMatchObject({ changeKind: 'difference', verdict: 'regression', failed: true });
    expect(worse.change).toBeCloseTo(0.0048, 6);
    expect(compareScenarioTrials(zero, zero).figures[0]).toMatchObject({
      verdict: 'unchanged',
      failed: false,
    });
  });

  it('fails on a throughput drop, reading it the other way round', () => {
    const base = [1000, 1010, 990, 1005, 995].map((x) => summary({ throughput_rps: x }));
    const head = [800, 810, 790, 805, 795].map((x) => summary({ throughput_rps: x }));
    expect(compareScenarioTrials(base, head).figures[0]).toMatchObject({
      verdict: 'regression',
      failed: true,
    });
    expect(compareScenarioTrials(head, base).figures[0]).toMatchObject({
      verdict: 'improvement',
      failed: false,
    });
  });

  it('holds resources to +20 %: +6 % passes, +40 % fails', () => {
    const base = [10, 10.1, 9.9, 10, 10.05].map((x) => summary({ 'server.cpu_ms_per_request': x }));
    const plus6 = [10.6, 10.7, 10.5, 10.6, 10.65].map((x) => summary({ 'server.cpu_ms_per_request': x }));
    const plus40 = [14, 14.1, 13.9, 14, 14.05].map((x) => summary({ 'server.cpu_ms_per_request': x }));
    expect(compareScenarioTrials(base, plus6).failed).toBe(false);
    expect(compareScenarioTrials(base, plus40).failed).toBe(true);
  });

  it('shows but never fails on figures outside the gates', () => {
    const base = [10, 10.1, 9.9].map((x) => summary({ 'latency.p95': x }));
    const head = [20, 20.1, 19.9].map((x) => summary({ 'latency.p95': x }));
    const gate = compareScenarioTrials(base, head);
    expect(gate.figures[0]).toMatchObject({ verdict: 'regression', gated: false, failed: false });
    expect(gate.failed).toBe(false);
  });

  it('gates only the chosen latency percentile of each step', () => {
    const base = [10, 10.1, 9.9].map((x) => summary({ 'latency:login.p99': x }));
    const head = [20, 20.1, 19.9].map((x) => summary({ 'latency:login.p99': x }));
    expect(compareScenarioTrials(base, head).failed).toBe(false);
    expect(compareScenarioTrials(base, head, { gatedLatency: ['p99'] }).failed).toBe(true);
  });

  it('ignores a sub-millisecond step moving by less than the latency floor', () => {
    const base = [0.2, 0.21, 0.19, 0.2].map((x) => summary({ 'latency:health.p50': x }));
    const head = [0.3, 0.31, 0.29, 0.3].map((x) => summary({ 'latency:health.p50': x }));
    const gate = compareScenarioTrials(base, head);
    expect(gate.failed).toBe(false);
    expect(gate.figures[0]).toMatchObject({
      verdict: 'regression',
      note: '0.100 ms worse, under the 0.5 ms floor',
    });
    expect(compareScenarioTrials(base, head, { minLatencyChangeMs: 0 }).failed).toBe(true);
  });

  it('holds the latency floor both ways: a sub-millisecond step getting faster is noted, not news', () => {
    const base = [0.9, 0.91, 0.89, 0.9, 0.9].map((v) => summary({ 'latency:health.p50': v }));
    const head = [0.7, 0.71, 0.69, 0.7, 0.7].map((v) => summary({ 'latency:health.p50': v }));
    const figure = compareScenarioTrials(base, head).figures[0]!;
    expect(figure.verdict).toBe('improvement');
    expect(figure.note).toBe('0.200 ms better, under the 0.5 ms floor');
  });

  it('holds a sub-millisecond CPU cost to its own gate, not the latency floor', () => {
    const base = [0.5, 0.51, 0.49, 0.5].map((x) => summary({ 'server.cpu_ms_per_request': x }));
    const head = [0.85, 0.86, 0.84, 0.85].map((x) => summary({ 'server.cpu_ms_per_request': x }));
    expect(compareScenarioTrials(base, head).failed).toBe(true);
  });

  it('fails when most of the head trials find a heap leak', () => {
    const leak = (isLeak: boolean, slope: number): LeakSummary => ({
      leak: isLeak,
      slopeMbPerHour: slope,
      slopeLowMbPerHour: slope - 20,
      slopeHighMbPerHour: slope + 20,
      maxSlopeMbPerHour: 50,
    });
    const base = [1, 2, 3].map((x) => summary({ 'latency:a.p50': 10 + x / 10 }, leak(false, 0)));
    const leaking = [400, 420, 10].map((s, i) => summary({ 'latency:a.p50': 10 + i / 10 }, leak(s > 100, s)));
    const gate = compareScenarioTrials(base, leaking);
    expect(gate.leak).toMatchObject({ failed: true, head: { slopeMbPerHour: 400 } });
    expect(gate.failed).toBe(true);
    expect(compareScenarioTrials(base, base).leak!.failed).toBe(false);
  });

  it('sums up the suite in one line, naming what failed and flagging forced host mismatches', () => {
    const base = [10, 10.1, 9.9].map((x) => summary({ 'latency:login.p50': x }));
    const slow = [13, 13.1, 12.9].map((x) => summary({ 'latency:login.p50': x }));
    const failed = gateOutcome([compareScenarioTrials(base, slow)], { base: 'a', head: 'b' });
    expect(failed.passed).toBe(false);
    expect(overallVerdictLine(failed)).toMatch(/^FAIL: auth latency:login\.p50 \+30\.[0-9] %/);
    const passed = gateOutcome([compareScenarioTrials(base, base)], {
      base: 'a',
      head: 'b',
      hostMismatch: { base: 'x', head: 'y' },
    });
    expect(passed.passed).toBe(true);
    expect(overallVerdictLine(passed)).toBe(
      'PASS: no regression in 1 scenario (hosts differ: comparison forced)',
    );
  });
});
