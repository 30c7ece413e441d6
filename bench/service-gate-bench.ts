/**
 * The gate on a team's own service (the FastAPI one of the tests, or the node:http one), as
 * `headroom gate --against base` runs it with a project file: per run, a git repository made on
 * the fly with a base commit and a head commit, both checked out, started on free loopback ports
 * and measured in paired rounds. Counts false calls in either direction on A/A (head = base) and
 * the share of failing runs when the compute endpoint's CPU spin grows by +5, +10 and +20 %.
 *
 *   npm run bench:gate -- --system python --runs 5 [--trials 5 --trial-s 2 --rate 15]
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { DEFAULT_GATE_OPTIONS, DEFAULT_GATE_TRIALS, type GateOutcome } from '../analyzer/regression-gate.js';
import { loadProjectConfig } from '../gate/project-config.js';
import { runGate } from '../gate/run-gate.js';
import {
  nodeService,
  pythonService,
  SUITE,
  serviceRepo,
  suiteFiles,
} from '../gate/test-support/service-repo.js';

export async function serviceGateBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      system: { type: 'string', default: 'python' },
      runs: { type: 'string', default: '20' },
      trials: { type: 'string', default: String(DEFAULT_GATE_TRIALS) },
      'trial-s': { type: 'string', default: '2' },
      rate: { type: 'string', default: '10' },
      changes: { type: 'string', default: '5,10,20' },
    },
    strict: false,
  });
  const system = String(values.system);
  if (system !== 'python' && system !== 'node') throw new Error('--system: reference, python or node');
  const runs = Number(values.runs);
  const trials = Number(values.trials);
  const trialS = Number(values['trial-s']);
  const rate = Number(values.rate);
  const changes = String(values.changes).split(',').map(Number);
  const files = system === 'python' ? pythonService : nodeService;
  const service =
    system === 'python'
      ? {
          start: '/usr/bin/python3 -m uvicorn app:app --host 127.0.0.1 --port ${port} --log-level warning',
          ready: '/health',
        }
      : { build: 'node build.js', start: 'node dist/server.js', ready: '/health' };
  console.log(
    `service gate bench (${system}): ${runs} runs each of A/A and of +${changes.join(', +')} % CPU on /compute; ` +
      `${trials} trials of ${trialS} s per side (+1 warm-up), ${rate} iterations/s of items → compute (shop) and report (its own scenario), concurrent rounds; ` +
      `${os.cpus().length} cores shared by the load generator, both services and anything else (load average ${os.loadavg()[0]!.toFixed(1)})`,
  );
  const gateOnce = async (head: Record<string, string>): Promise<{ outcome: GateOutcome; wallS: number }> => {
    const config = {
      service: { ...service, readyTimeoutS: 20 },
      suite: SUITE,
      gate: { trials, trialS, warmupTrials: 1 },
    };
    const repo = await serviceRepo(
      { 'headroom.config.json': JSON.stringify(config), ...suiteFiles(rate) },
      files('same'),
      head,
    );
    try {
      const startedMs = performance.now();
      const { outcome } = await runGate({
        config: await loadProjectConfig(`${repo.dir}/headroom.config.json`),
        against: repo.base,
      });
      return { outcome, wallS: (performance.now() - startedMs) / 1000 };
    } finally {
      await repo.close();
    }
  };
  // A call is a gated figure's regression or improvement; one under the latency floor carries a note (counted apart).
  const calls = (o: GateOutcome) =>
    o.scenarios.flatMap((s) =>
      s.figures
        .filter((f) => f.gated && (f.verdict === 'regression' || f.verdict === 'improvement'))
        .map(
          (f) => `${f.figure} ${f.verdict} ${(f.change * 100).toFixed(1)} %${f.note ? ` (${f.note})` : ''}`,
        ),
    );
  const compute = (o: GateOutcome) =>
    o.scenarios[0]!.figures.find((f) => f.figure === 'latency:compute.p50')!;
  let falseRuns = 0;
  let falseRunsBeyondFloor = 0;
  const failing = new Map<number, number>(changes.map((c) => [c, 0]));
  const walls: number[] = [];
  for (let r = 1; r <= runs; r++) {
    const aa = await gateOnce(files('same'));
    walls.push(aa.wallS);
    const aaCalls = calls(aa.outcome);
    if (aaCalls.length > 0) falseRuns++;
    if (aaCalls.some((c) => !c.includes('under the'))) falseRunsBeyondFloor++;
    const parts = [`A/A ${aaCalls.length ? `FALSE CALL (${aaCalls.join(', ')})` : 'quiet'}`];
    for (const c of changes) {
      const ab = await gateOnce(files('cpu', 1 + c / 100));
      walls.push(ab.wallS);
      if (!ab.outcome.passed) failing.set(c, failing.get(c)! + 1);
      const f = compute(ab.outcome);
      parts.push(
        `+${c} %: ${ab.outcome.passed ? 'pass' : 'FAIL'} (compute p50 ${(f.change * 100).toFixed(1)} %, ${(f.low * 100).toFixed(1)} … ${(f.high * 100).toFixed(1)} %)`,
      );
    }
    console.log(
      `  ${String(r).padStart(2)}: ${parts.join('; ')}; load average ${os.loadavg()[0]!.toFixed(1)}`,
    );
  }
  const sorted = [...walls].sort((a, b) => a - b);
  console.log(
    `\nA/A runs with a false call in either direction: ${falseRuns}/${runs}; ` +
      `beyond the ${DEFAULT_GATE_OPTIONS.minLatencyChangeMs} ms latency floor (what the report calls): ${falseRunsBeyondFloor}/${runs} (goal ≤ 1 in 20)`,
  );
  for (const c of changes)
    console.log(
      `runs failing at +${c} % CPU on /compute: ${failing.get(c)}/${runs}${c === 10 ? ' (goal ≥ 19 in 20)' : ''}`,
    );
  console.log(
    `wall time of one gate run (checkout, build, start, ${trials + 1} rounds): median ${sorted[sorted.length >> 1]!.toFixed(0)} s, max ${sorted[sorted.length - 1]!.toFixed(0)} s`,
  );
}
