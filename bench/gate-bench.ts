/**
 * The regression gate on this machine, against the embedded pipeline: how often A/A comparisons
 * make a false call in either direction, how often a true change of +5, +10 and +20 % in a gated
 * figure fails the gate, and how long the quick suite's gate takes.
 *
 * The change (`--inject cpu`, the default) is a CPU spin on one step's route, sized in each run to
 * the given share of that step's p50 as the run's A/A comparison measured it: +10 % is then +10 %
 * of the login p50 the gate compares, and the bench prints what each A/B comparison measured.
 * `--inject slowdown` starts B with `--slowdown 1.1` … instead (CPU spun for a share of each
 * request's handling time, which is a smaller share of its round trip).
 *
 *   npm run bench:gate [-- --runs 20 --changes 5,10,20 --trials 5 --scenario auth --interleave concurrent --no-suite]
 *   npm run bench:gate -- --runs 0 --suite-runs 20     (the quick suite's gate on identical code, 20 times)
 *
 * Each comparison is what `headroom gate --against` does for one scenario: two fresh pipeline
 * processes (A and A for A/A; A and B, B with the slowdown, for A/B), the gate's warm-up and
 * trials in rounds from one load generator, and the paired comparison. Fresh processes each time,
 * because the difference between two processes of one build is part of what an A/A comparison
 * must tolerate. The load generator and both targets share this machine's cores with whatever
 * else runs on it.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { medianOf as median } from '../analyzer/comparison.js';
import {
  compareScenarioTrials,
  DEFAULT_GATE_TRIALS,
  type ScenarioGate,
} from '../analyzer/regression-gate.js';
import { type RunSummary, summarizeRun } from '../analyzer/summary.js';
import { runGate } from '../gate/run-gate.js';
import { type EmbeddedTarget, startEmbeddedTarget } from '../scenarios/embedded-target.js';
import { gateSuite } from '../scenarios/gate-suite.js';
import { type Interleave, runInterleavedTrials } from '../scenarios/trial-runner.js';

// A team's own service (python, node): its own bench, see bench/service-gate-bench.ts.
const system = parseArgs({ options: { system: { type: 'string', default: 'reference' } }, strict: false })
  .values.system;
if (system !== 'reference') {
  const { serviceGateBench } = await import('./service-gate-bench.js');
  await serviceGateBench(process.argv.slice(2));
  process.exit(0);
}

const { values } = parseArgs({
  options: {
    system: { type: 'string', default: 'reference' },
    comparisons: { type: 'string', default: '20' },
    runs: { type: 'string' },
    trials: { type: 'string', default: String(DEFAULT_GATE_TRIALS) },
    scenario: { type: 'string', default: 'auth' },
    changes: { type: 'string', default: '5,10,20' },
    /** One change as a factor (1.1 = +10 %), instead of --changes. */
    slowdown: { type: 'string' },
    /** cpu: a spin of the change's share of the step's p50 on its route; slowdown: --slowdown. */
    inject: { type: 'string', default: 'cpu' },
    step: { type: 'string', default: 'login' },
    route: { type: 'string', default: '/api/v1/auth/login' },
    interleave: { type: 'string', default: 'concurrent' },
    'no-suite': { type: 'boolean', default: false },
    /** Gates of the whole quick suite against HEAD (identical code: an A/A of every gated figure). */
    'suite-runs': { type: 'string', default: '1' },
  },
});
const comparisons = Number(values.runs ?? values.comparisons);
const trials = Number(values.trials);
const suiteRuns = values['no-suite'] ? 0 : Number(values['suite-runs']);
if (!(Number.isInteger(suiteRuns) && suiteRuns >= 0))
  throw new Error('--suite-runs: a whole number, e.g. 20');
const interleave = values.interleave as Interleave;
if (interleave !== 'concurrent' && interleave !== 'alternate')
  throw new Error('--interleave: concurrent or alternate');
const changes = values.slowdown
  ? [Math.round((Number(values.slowdown) - 1) * 1000) / 10]
  : values.changes.split(',').map(Number);
if (changes.some((c) => !(c > 0))) throw new Error('--changes: percentages above 0, e.g. 5,10,20');
const inject = values.inject;
if (inject !== 'cpu' && inject !== 'slowdown') throw new Error('--inject: cpu or slowdown');
const stepP50 = `latency:${values.step}.p50`;
const entry = gateSuite('quick').entries.find((e) => e.scenario === values.scenario);
if (!entry) throw new Error(`the quick suite has no ${values.scenario} entry`);

console.log(
  `gate bench: ${comparisons} runs, each an A/A comparison and an A/B one at +${changes.join(', +')} % ` +
    `(${inject === 'cpu' ? `CPU spun on ${values.route}: that share of the ${values.step} p50 measured in the run's A/A` : '--slowdown'}), of ${entry.scenario}, ` +
    `${trials} trials of ${entry.trialS} s per side (+${entry.warmupTrials} warm-up), ${interleave}; ` +
    `${os.cpus().length} cores shared by the load generator, two pipeline processes and anything else running (load average ${os.loadavg()[0]!.toFixed(1)})`,
);

const startedMs = performance.now();
let falseAlarms = 0;
let falseCalls = 0;
let falseCallsBeyondFloor = 0;
const gatedVerdicts = { aa: new Map<string, number>(), ab: new Map<string, number>() };
const spreads = new Map<string, number[]>();
const count = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);

// Targets are child processes: stop them when the bench is interrupted, or they outlive it.
const running = new Set<EmbeddedTarget>();
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    void Promise.all([...running].map((t) => t.close())).finally(() => process.exit(130));
  });

/** One comparison as the gate makes it: two fresh targets, rounds of trials, paired comparison. */
async function compareOnce(
  headArgs: string[],
  orderSeed: number,
): Promise<{ gate: ScenarioGate; summaries: RunSummary[][] }> {
  const targets = await Promise.all([startEmbeddedTarget(), startEmbeddedTarget({ args: headArgs })]);
  for (const t of targets) running.add(t);
  try {
    const sides = await runInterleavedTrials(
      targets.map((t, i) => ({ label: i ? 'head' : 'base', apiUrl: t.apiUrl })),
      entry!,
      { trials, interleave, orderSeed },
    );
    const summaries = sides.map((side) => side.map(summarizeRun));
    return { gate: compareScenarioTrials(summaries[0]!, summaries[1]!, { paired: true }), summaries };
  } finally {
    await Promise.all(targets.map((t) => t.close()));
    for (const t of targets) running.delete(t);
  }
}

const failing = new Map<number, number>(changes.map((c) => [c, 0]));
/** The change each A/B comparison measured in the step's p50 (its Hodges–Lehmann estimate). */
const measured = new Map<number, number[]>(changes.map((c) => [c, []]));
const p50sMs: number[] = [];
let compared = 0;
for (let c = 1; c <= comparisons; c++) {
  // A/A and the changes alternate, so a change in the machine's load over the bench touches each.
  const aa = await compareOnce([], c);
  compared++;
  if (aa.gate.failed) falseAlarms++;
  // Either direction: an "improvement" on identical code is as false as a regression.
  const aaCalls = aa.gate.figures.filter(
    (f) => f.gated && (f.verdict === 'regression' || f.verdict === 'improvement'),
  );
  if (aaCalls.length > 0) falseCalls++;
  if (aaCalls.some((f) => !f.note)) falseCallsBeyondFloor++;
  tally(aa.gate, gatedVerdicts.aa);
  const parts = [
    `A/A ${aa.gate.failed ? 'FALSE ALARM' : aaCalls.length ? 'FALSE CALL' : 'quiet'} (${failedList(aa.gate) || gatedLine(aa.gate)})`,
  ];
  // The step's p50 on this build, now: the median of both A/A sides' trials.
  const p50Ms = median(aa.summaries.flat().map((s) => s.figures[stepP50]?.value ?? Number.NaN));
  if (inject === 'cpu' && !(p50Ms > 0))
    throw new Error(`the A/A comparison measured no ${stepP50}: check --step`);
  p50sMs.push(p50Ms);
  parts.push(`${values.step} p50 ${p50Ms.toFixed(1)} ms`);
  for (const change of changes) {
    const spinMs = (change / 100) * p50Ms;
    const ab = await compareOnce(
      inject === 'cpu'
        ? ['--inject-cpu-ms', spinMs.toFixed(3), '--inject-routes', values.route]
        : ['--slowdown', String(1 + change / 100)],
      c,
    );
    compared++;
    if (ab.gate.failed) failing.set(change, failing.get(change)! + 1);
    const moved = ab.gate.figures.find((f) => f.figure === stepP50);
    if (moved) measured.get(change)!.push(moved.change);
    if (change === (changes.includes(10) ? 10 : changes[0])) tally(ab.gate, gatedVerdicts.ab);
    parts.push(
      `+${change} % ${ab.gate.failed ? 'FAIL' : 'pass'} (${failedList(ab.gate) || gatedLine(ab.gate)})`,
    );
    // Trial-to-trial spread (max/min − 1 within a side) of each figure, to see which is stable.
    if (change === changes[0]) recordSpreads([...aa.summaries, ab.summaries[0]!]);
  }
  console.log(`  ${String(c).padStart(2)}: ${parts.join('; ')}; load average ${os.loadavg()[0]!.toFixed(1)}`);
}
const comparisonsS = (performance.now() - startedMs) / 1000;

if (comparisons > 0) {
  console.log(`\nverdicts of gated figures (A/A | A/B at +${changes.includes(10) ? 10 : changes[0]} %):`);
  for (const key of new Set([...gatedVerdicts.aa.keys(), ...gatedVerdicts.ab.keys()]))
    console.log(
      `  ${key.padEnd(40)} ${String(gatedVerdicts.aa.get(key) ?? 0).padStart(3)} | ${gatedVerdicts.ab.get(key) ?? 0}`,
    );
  console.log('\nmedian trial-to-trial spread within a side (max/min − 1), latency and resource figures:');
  for (const [name, xs] of [...spreads].filter(([n]) => /^(latency|server)/.test(n)).sort()) {
    console.log(`  ${name.padEnd(40)} ${(median(xs) * 100).toFixed(1)} %`);
  }
  console.log(
    `\nfalse alarms (A/A): ${falseAlarms}/${comparisons} (goal ≤ 1/20, aim 0)` +
      `\nA/A runs with a false call in either direction (regression or improvement of a gated figure): ${falseCalls}/${comparisons}, beyond the latency floor ${falseCallsBeyondFloor}/${comparisons}` +
      changes
        .map(
          (c) =>
            `\nruns failing at +${c} % (${inject === 'cpu' ? `${stepP50} measured ${spread(measured.get(c)!)}` : `--slowdown ${1 + c / 100}`}): ` +
            `${failing.get(c)}/${comparisons}${c === 10 ? ' (goal ≥ 19/20)' : ''}`,
        )
        .join('') +
      `\n${compared} comparisons took ${comparisonsS.toFixed(0)} s (${(comparisonsS / compared).toFixed(0)} s each)` +
      `\n${stepP50} in the A/A comparisons (what the spins were sized from): median ${median(p50sMs).toFixed(2)} ms, ` +
      `${Math.min(...p50sMs).toFixed(2)} … ${Math.max(...p50sMs).toFixed(2)} ms`,
  );
}

if (suiteRuns > 0) {
  // The whole quick suite as CI runs it: base built from HEAD in a git worktree, head this tree.
  // With no change between them, every failed run is a false alarm and every call a false call.
  console.log(
    `\nquick-suite gate against HEAD (identical code), ${suiteRuns} run${suiteRuns > 1 ? 's' : ''}, ${trials} trials per side, ${interleave}, worktree build included:`,
  );
  const walls: number[] = [];
  let suiteFailed = 0;
  let suiteCalls = 0;
  const culprits = new Map<string, number>();
  for (let run = 1; run <= suiteRuns; run++) {
    const suiteStartMs = performance.now();
    const { outcome } = await runGate({
      suite: 'quick',
      trials,
      interleave,
      against: 'HEAD',
      // A seed per run: each run draws its own start order and round orders, as different CI runs would.
      ...(suiteRuns > 1 ? { orderSeed: run } : {}),
      onProgress: suiteRuns > 1 ? undefined : (line) => process.stdout.write(`  ${line}\n`),
    });
    const wallS = (performance.now() - suiteStartMs) / 1000;
    walls.push(wallS);
    if (!outcome.passed) suiteFailed++;
    const named: string[] = [];
    let called = false;
    for (const s of outcome.scenarios) {
      for (const f of s.figures) {
        if (!f.gated || (f.verdict !== 'regression' && f.verdict !== 'improvement') || f.note) continue;
        called = true;
        const name = `${s.scenario} ${f.figure} ${f.verdict}`;
        count(culprits, name);
        named.push(`${name} ${(f.change * 100).toFixed(1)} %${f.failed ? ' (failed)' : ''}`);
      }
      if (s.leak?.failed) {
        count(culprits, `${s.scenario} leak`);
        named.push(`${s.scenario} leak (failed)`);
      }
    }
    if (called) suiteCalls++;
    console.log(
      `  ${String(run).padStart(2)}: ${outcome.passed ? 'passed' : 'FAILED'} in ${wallS.toFixed(0)} s` +
        `${named.length ? `; ${named.join(', ')}` : ''}; load average ${os.loadavg()[0]!.toFixed(1)}`,
    );
  }
  console.log(
    `quick-suite gate on identical code: failed ${suiteFailed}/${suiteRuns} (goal ≤ 1/20); ` +
      `a call in either direction (beyond the latency floor) in ${suiteCalls}/${suiteRuns}; ` +
      `wall time median ${median(walls).toFixed(0)} s, max ${Math.max(...walls).toFixed(0)} s (goal ≤ 300 s)`,
  );
  for (const [name, n] of [...culprits].sort((a, b) => b[1] - a[1])) console.log(`  ${name}: ${n}`);
}

/** Median and range of relative changes, in per cent. */
function spread(changes: number[]): string {
  if (changes.length === 0) return 'not measured';
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;
  return `median ${pct(median(changes))}, ${pct(Math.min(...changes))} … ${pct(Math.max(...changes))}`;
}

function recordSpreads(sides: RunSummary[][]): void {
  for (const side of sides) {
    for (const name of Object.keys(side[0]!.figures)) {
      const xs = side.map((s) => s.figures[name]?.value).filter((x): x is number => x !== undefined && x > 0);
      if (xs.length === side.length)
        spreads.set(name, [...(spreads.get(name) ?? []), Math.max(...xs) / Math.min(...xs) - 1]);
    }
  }
}

function tally(gate: ScenarioGate, into: Map<string, number>): void {
  for (const f of gate.figures) if (f.gated) count(into, `${f.figure} ${f.verdict}`);
  if (gate.leak) count(into, `leak ${gate.leak.failed ? 'failed' : 'passed'}`);
}

function failedList(gate: ScenarioGate): string {
  return gate.figures
    .filter((f) => f.failed)
    .map((f) => `${f.figure} ${(f.change * 100).toFixed(1)} %`)
    .join(', ');
}

function gatedLine(gate: ScenarioGate): string {
  return gate.figures
    .filter((f) => f.gated && f.changeKind === 'relative')
    .map((f) => `${f.figure} ${(f.change * 100).toFixed(1)} % ${f.verdict}`)
    .join(', ');
}
