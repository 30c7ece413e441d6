/**
 * npx tsx bench/decision-rule-bench.ts
 *
 * The gate's decision rule on synthetic trials whose truth is known: for each number of trials per
 * side and trial-to-trial noise (lognormal, seeded), 400 unpaired A/A comparisons (how often a
 * regression is called where there is none) and 400 with a true +10 % change (how often it is
 * caught). Pure computation: the figures do not depend on the machine.
 */
import { compareScenarioTrials } from '../analyzer/regression-gate.js';
import type { RunSummary } from '../analyzer/summary.js';
import { SeededRandom } from '../pipeline/sim/seeded-random.js';

const COMPARISONS = 400;

/** A login p50 around `centerMs` with lognormal noise of about `sigma` (Box–Muller). */
function loginP50(random: SeededRandom, centerMs: number, sigma: number): RunSummary {
  const g = Math.sqrt(-2 * Math.log(random.next() || 1e-12)) * Math.cos(2 * Math.PI * random.next());
  return {
    kind: 'headroom.run-summary',
    version: 1,
    scenario: { name: 'auth', profile: 'quick', configHash: 'sha256:0000000000000000' },
    createdAt: new Date(0).toISOString(),
    durationMs: 4_000,
    requests: 80,
    errors: 0,
    figures: {
      'latency:login.p50': {
        value: centerMs * Math.exp(sigma * g),
        unit: 'ms',
        direction: 'lower-is-better',
        gate: 'latency',
      },
    },
  };
}

console.log(
  '| trials per side | trial-to-trial noise | A/A called a regression | true +10 % called a regression |',
);
console.log('|---|---|---|---|');
for (const [trials, sigma] of [
  [5, 0.03],
  [5, 0.04],
  [8, 0.04],
  [8, 0.05],
] as const) {
  const random = new SeededRandom(2026);
  const side = (centerMs: number) => Array.from({ length: trials }, () => loginP50(random, centerMs, sigma));
  let falseAlarms = 0;
  let caught = 0;
  for (let i = 0; i < COMPARISONS; i++) {
    if (compareScenarioTrials(side(35), side(35), {}).failed) falseAlarms++;
    if (compareScenarioTrials(side(35), side(38.5), {}).failed) caught++;
  }
  const pct = (n: number) => `${((100 * n) / COMPARISONS).toFixed(1)} %`;
  console.log(`| ${trials} | ${sigma * 100} % | ${pct(falseAlarms)} | ${pct(caught)} |`);
}
