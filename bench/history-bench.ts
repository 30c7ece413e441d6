/**
 * bench:history — the change-point detector on 1,000 seeded series: how often it finds a real step
 * (and where), how often it calls a change in a series that has none, and how long a series of
 * 10,000 points takes; and `gate --history`'s comparison of a head with its recent results. `--seed N` and `--series N` choose the draw.
 */
import { parseArgs } from 'node:util';
import { analyzeSeries, findChangePoints } from '../analyzer/change-point.js';
import { compareWithSeries } from '../history/recent-history.js';
import { SeededRandom } from '../pipeline/sim/seeded-random.js';

const { values } = parseArgs({
  options: { seed: { type: 'string', default: '2026' }, series: { type: 'string', default: '1000' } },
});
const seed = Number(values.seed);
const count = Number(values.series);
const random = new SeededRandom(seed);
const uniform = (low: number, high: number) => low + (high - low) * random.next();
const noisy = (level: number, noise: number) => 100 * level * (1 + noise * random.normal());

// One step of 3–20 % at a random point, 2–8 % noise, 20–120 points.
let found = 0;
let located = 0;
let covered = 0;
let clear = 0;
let clearLocated = 0;
const t0 = performance.now();
for (let s = 0; s < count; s++) {
  const before = Math.round(uniform(10, 60));
  const after = Math.round(uniform(10, 60));
  const step = uniform(0.03, 0.2) * (random.next() < 0.5 ? 1 : -1);
  const noise = uniform(0.02, 0.08);
  const xs = [
    ...Array.from({ length: before }, () => noisy(1, noise)),
    ...Array.from({ length: after }, () => noisy(1 + step, noise)),
  ];
  const changes = analyzeSeries(xs, 'lower-is-better', { seed: s }).changes;
  const hit = changes.find((c) => Math.abs(c.index - before) <= 1);
  const isClear = Math.abs(step) / noise >= 1.5;
  if (isClear) clear++;
  if (changes.length > 0) found++;
  if (hit) {
    located++;
    if (isClear) clearLocated++;
    if (step >= hit.changeLow && step <= hit.changeHigh) covered++;
  }
}
const stepMs = performance.now() - t0;

// No step at all: any change found is a false positive.
let falsePositives = 0;
const t1 = performance.now();
for (let s = 0; s < count; s++) {
  const xs = Array.from({ length: Math.round(uniform(20, 120)) }, () => noisy(1, uniform(0.02, 0.08)));
  if (findChangePoints(xs, { seed: s }).length > 0) falsePositives++;
}
const flatMs = performance.now() - t1;

// Time on 10,000 points: one 5 % step in 5 % noise, and none.
const long = (step: number) =>
  Array.from({ length: 10_000 }, (_, i) => noisy(i < 6_000 ? 1 : 1 + step, 0.05));
const time = (xs: number[]) => {
  const t = performance.now();
  const n = findChangePoints(xs).length;
  return { ms: performance.now() - t, n };
};
const withStep = time(long(0.05));
const without = time(long(0));

// gate --history: a head against 8–40 recent results of its series (2–8 % noise): false calls on a
// head drawn like its history, and calls at true steps of +5, +10, +15 and +20 %.
const recentSteps = [0, 0.05, 0.1, 0.15, 0.2];
const recentCalls = recentSteps.map(() => 0);
const latencyMetric = {
  metric: 'latency:x.p50',
  unit: 'ms',
  direction: 'lower-is-better',
  gate: 'latency',
} as const;
for (let s = 0; s < count; s++) {
  const noise = uniform(0.02, 0.08);
  const history = Array.from({ length: Math.round(uniform(8, 40)) }, (_, i) => ({
    id: i,
    measuredAt: '',
    commit: null,
    branch: null,
    hostId: 'h',
    value: noisy(1, noise),
  }));
  recentSteps.forEach((step, k) => {
    const head = noisy(1 + step, noise);
    if (compareWithSeries('x', latencyMetric, head, history, 0.1).verdict === 'regression') recentCalls[k]!++;
  });
}

const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(1)} %`;
console.log(`bench:history  seed ${seed}, ${count} series of each kind (one process; nothing else measured)`);
console.log(`  one step of 3–20 % in 2–8 % noise, 20–120 points:`);
console.log(`    a change found                 ${found}/${count} (${pct(found, count)})`);
console.log(`    located within ±1 point        ${located}/${count} (${pct(located, count)})`);
console.log(`      of steps ≥ 1.5 noise widths  ${clearLocated}/${clear} (${pct(clearLocated, clear)})`);
console.log(`    true size inside the interval  ${covered}/${located} located (${pct(covered, located)})`);
console.log(
  `    time                           ${stepMs.toFixed(0)} ms (${(stepMs / count).toFixed(2)} ms a series)`,
);
console.log(`  no step, 20–120 points, 2–8 % noise:`);
console.log(`    false positives                ${falsePositives}/${count} (${pct(falsePositives, count)})`);
console.log(`    time                           ${flatMs.toFixed(0)} ms`);
console.log(`  10,000 points (goal < 1,000 ms):`);
console.log(
  `    one 5 % step in 5 % noise      ${withStep.ms.toFixed(0)} ms, ${withStep.n} change point(s) found`,
);
console.log(
  `    no step                        ${without.ms.toFixed(0)} ms, ${without.n} change point(s) found`,
);
console.log(`  gate --history: a head against 8–40 recent results, 2–8 % noise, threshold 10 %:`);
recentSteps.forEach((step, k) => {
  const label = step === 0 ? 'no step (false calls)' : `+${(step * 100).toFixed(0)} % step`;
  console.log(
    `    ${label.padEnd(30)} ${recentCalls[k]}/${count} (${pct(recentCalls[k]!, count)}) called a regression`,
  );
});
console.log(
  `  (load average ${(await import('node:os'))
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')})`,
);
