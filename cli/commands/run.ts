import { parseArgs } from 'node:util';
import { UsageInvalidError } from '../../errors.js';
import { ExitCode } from '../../exit-code.js';
import { loadScenario, type Profile } from '../../scenarios/load-scenario.js';
import { runMetrics } from '../../scenarios/run-metrics.js';
import { writeRunResult } from '../../scenarios/run-result.js';
import { runScenario, type ScenarioRun } from '../../scenarios/run-scenario.js';
import type { CliIo } from '../cli-io.js';

export const runHelp = `headroom run <scenario|file.json> [options]

Runs a scenario of the library (auth, api-stress, worker, database, memory-leak) or a scenario file,
against the reference pipeline (started for the run) or --target, and checks its thresholds.
  --profile quick|full    quick: at most 60 s (default); full: the guide's durations
  --target URL            the API to load, e.g. http://127.0.0.1:3000/api/v1
  --allow-remote          allow a target that is not on loopback
  --store URL             the database scenario's store (default: a temporary SQLite database)
  --inject-leak BYTES     start the reference pipeline with a leak of BYTES per request
  --inject-latency-ms N   start it with N ms added to every request
  --slowdown F            start it with request CPU multiplied by F
  --out FILE              write the run result (versioned JSON with HDR histograms)
  --json                  print the run result as JSON
Exit codes: 0 thresholds passed, 1 a threshold failed, 2 usage or input error, 3 internal error.
`;

export async function runCommand(argv: string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      profile: { type: 'string', default: 'quick' },
      target: { type: 'string' },
      'allow-remote': { type: 'boolean', default: false },
      store: { type: 'string' },
      'inject-leak': { type: 'string' },
      'inject-latency-ms': { type: 'string' },
      slowdown: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 1)
    throw new UsageInvalidError('name one scenario: headroom run <scenario|file.json>');
  if (values.profile !== 'quick' && values.profile !== 'full')
    throw new UsageInvalidError(`--profile must be quick or full (got "${values.profile}")`);
  const scenario = await loadScenario(positionals[0]!, { profile: values.profile as Profile });
  const targetArgs: string[] = [];
  if (values['inject-leak']) targetArgs.push('--inject-leak', values['inject-leak']);
  if (values['inject-latency-ms']) targetArgs.push('--inject-latency-ms', values['inject-latency-ms']);
  if (values.slowdown) targetArgs.push('--slowdown', values.slowdown);
  if (targetArgs.length && values.target)
    throw new UsageInvalidError('--inject-* and --slowdown change the embedded pipeline: leave out --target');

  const run = await runScenario(scenario, {
    target: values.target,
    allowRemote: values['allow-remote'],
    store: values.store,
    targetArgs,
    onProgress: (p) =>
      io.progress(
        `${scenario.name} ${p.phase}  ${(p.elapsedMs / 1000).toFixed(0)}/${(scenario.durationMs / 1000).toFixed(0)} s  ` +
          `${p.rateRps.toFixed(0)} req/s  p95 ${p.p95Ms.toFixed(1)} ms  errors ${p.errors}  in flight ${p.inFlight}`,
      ),
  });
  io.endProgress();
  if (values.out) await writeRunResult(values.out, run.result);
  io.stdout(values.json ? `${JSON.stringify(run.result)}\n` : renderRun(run));
  return run.passed ? ExitCode.Pass : ExitCode.ThresholdsFailed;
}

const fmt = (n: number | null | undefined, digits = 1) =>
  n === null || n === undefined
    ? 'n/a'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** A short text report: per-step latency, schedule accuracy, thresholds with their verdicts. */
export function renderRun(run: ScenarioRun): string {
  const r = run.result;
  const metrics = runMetrics(r);
  const lines = [
    `headroom run ${r.scenario.name} (${r.scenario.profile}) → ${r.target}`,
    `  ${r.engine}, ${fmt(r.durationMs / 1000)} s; host ${r.host.cpuModel ?? ''} ${r.host.cores ?? ''} cores (load generator and target share it)`,
  ];
  if (r.steps.length) {
    lines.push('', '  step             requests   errors      p50 ms      p95 ms      p99 ms      max ms');
    for (const s of r.steps) {
      const m = metrics[`latency:${s.name}`]!;
      const errors = Object.values(s.errors).reduce((a, b) => a + b, 0);
      const p = (q: number) => fmt(m.percentile?.(q), 1).padStart(10);
      lines.push(
        `  ${s.name.padEnd(15)} ${String(s.requests).padStart(9)} ${String(errors).padStart(8)}  ${p(50)}  ${p(95)}  ${p(99)}  ${fmt(m.max, 1).padStart(10)}`,
      );
    }
  }
  if (r.schedule) {
    lines.push(
      '',
      `  schedule: ${r.schedule.sent} of ${r.schedule.intended} arrivals sent, ${r.schedule.dropped} dropped; ` +
        `${fmt(r.schedule.achievedRps)} of ${fmt(r.schedule.requestedRps)} req/s (error ${fmt(r.schedule.scheduleError * 100, 2)} %), ` +
        `mean lag ${fmt(r.schedule.meanLagMs, 2)} ms`,
    );
  }
  if (r.heapTrend) {
    const h = r.heapTrend;
    lines.push(
      '',
      `  heap after GC: ${fmt(h.slopeMbPerHour)} MB/h (95 % interval ${fmt(h.slopeLowMbPerHour)} … ${fmt(h.slopeHighMbPerHour)}) ` +
        `over ${h.fitted} samples after ${h.warmupS} s warm-up → ${h.leak ? 'LEAK' : 'no leak'}`,
    );
  }
  lines.push('', '  thresholds');
  for (const t of run.thresholds) {
    lines.push(
      `    ${t.passed ? 'pass' : 'FAIL'}  ${t.metric} ${t.threshold}  (measured ${fmt(t.actual, 3)})`,
    );
  }
  lines.push('', run.passed ? '  PASSED' : '  FAILED: a threshold was not met');
  return `${lines.join('\n')}\n`;
}
