import { parseArgs } from 'node:util';
import { writePipelineSample } from '../../analyzer/pipeline-sample-file.js';
import { writeFileAtomic } from '../../atomic-file.js';
import {
  dashboardFeed,
  endEvent,
  startDashboard,
  thresholdSources,
} from '../../dashboard/dashboard-server.js';
import { UsageInvalidError } from '../../errors.js';
import { ExitCode } from '../../exit-code.js';
import { configuredService } from '../../gate/configured-service.js';
import { findProjectConfig } from '../../gate/project-config.js';
import { entryFromRun } from '../../history/history-entry.js';
import { recordInHistory } from '../../history/open-history-store.js';
import { renderHtmlReport } from '../../reports/html-report.js';
import { runReportDocument } from '../../reports/run-report.js';
import { writeRunResult } from '../../results/run-result.js';
import { DRIVERS, type Driver, runWithDriver } from '../../scenarios/interop/run-with-driver.js';
import { loadScenario, type Profile } from '../../scenarios/load-scenario.js';
import { runMetrics } from '../../scenarios/run-metrics.js';
import type { ScenarioRun } from '../../scenarios/run-scenario.js';
import type { CliIo } from '../cli-io.js';
import { numberFlag } from '../flag-value.js';
import { renderSampleTable } from '../pipeline-sample-table.js';
import { loadSimulatorOptions, simulatorFlags } from '../simulator-flags.js';

export const runHelp = `headroom run <scenario|file.json> [options]

Runs a scenario of the library (auth, api-stress, worker, database, memory-leak, pipeline) or a file,
against the reference pipeline (started for the run) or --target, and checks its thresholds.
  --profile quick|full    quick: at most 60 s (default); full: the guide's durations
  --target URL            the API to load, e.g. http://127.0.0.1:3000/api/v1
  --config FILE           start the service of this project file (default ./headroom.config.json
                          when there is one and no --target) from this checkout, unbuilt, and load it
  --allow-remote          allow a target that is not on loopback
  --store URL             the database scenario's store (default: a temporary SQLite database)
  --inject-leak BYTES     start the reference pipeline with a leak of BYTES per request
  --inject-latency-ms N   start it with N ms added to every request
  --slowdown F            start it with request CPU multiplied by F
  --out FILE              write the run result (versioned JSON with HDR histograms)
  --html FILE             write a self-contained HTML report of the run (charts, no network)
  --dashboard[=PORT]      serve a live page of the run on 127.0.0.1 (a free port, or PORT; every
                          interface with --allow-remote) and print its address
  --dashboard-linger S    keep serving the page (and the HTML report) S seconds after the run
  --record                add the run to the result history, with git's commit and branch here
  --history-store URL     the history to add it to (default sqlite:.headroom/history.db)
  --json                  print the run result as JSON
  --sample-out FILE       pipeline scenario: write the sample the capacity model reads
  simulator flags         pipeline scenario: --site-latency-ms, --llm-rpm, --sim-config FILE, …
                          (as in "headroom demo --help")
  --driver NAME           the load generator: headroom (built-in engines, default), autocannon
                          (closed-loop stress), artillery (installed on demand), locust
Exit codes: 0 thresholds passed, 1 a threshold failed, 2 usage or input error, 3 internal error.
`;

export async function runCommand(argv: string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseArgs({
    // A bare --dashboard asks for a free port.
    args: argv.map((a) => (a === '--dashboard' ? '--dashboard=0' : a)),
    allowPositionals: true,
    options: {
      profile: { type: 'string', default: 'quick' },
      target: { type: 'string' },
      config: { type: 'string' },
      'allow-remote': { type: 'boolean', default: false },
      store: { type: 'string' },
      'inject-leak': { type: 'string' },
      'inject-latency-ms': { type: 'string' },
      slowdown: { type: 'string' },
      out: { type: 'string' },
      html: { type: 'string' },
      json: { type: 'boolean', default: false },
      driver: { type: 'string', default: 'headroom' },
      'sample-out': { type: 'string' },
      record: { type: 'boolean', default: false },
      dashboard: { type: 'string' },
      'dashboard-linger': { type: 'string', default: '0' },
      'history-store': { type: 'string' },
      ...simulatorFlags,
    },
  });
  if (positionals.length !== 1)
    throw new UsageInvalidError('name one scenario: headroom run <scenario|file.json>');
  if (values.profile !== 'quick' && values.profile !== 'full')
    throw new UsageInvalidError(`--profile must be quick or full (got "${values.profile}")`);
  if (!(DRIVERS as readonly string[]).includes(values.driver))
    throw new UsageInvalidError(`--driver must be one of ${DRIVERS.join(', ')} (got "${values.driver}")`);
  const scenario = await loadScenario(positionals[0]!, { profile: values.profile as Profile });
  const targetArgs: string[] = [];
  if (values['inject-leak']) targetArgs.push('--inject-leak', values['inject-leak']);
  if (values['inject-latency-ms']) targetArgs.push('--inject-latency-ms', values['inject-latency-ms']);
  if (values.slowdown) targetArgs.push('--slowdown', values.slowdown);
  if (targetArgs.length && values.target)
    throw new UsageInvalidError('--inject-* and --slowdown change the embedded pipeline: leave out --target');

  // A team's own service: started here from its project file, its process tree sampled from /proc.
  const config = values.target ? undefined : await findProjectConfig(process.cwd(), values.config);
  if (config && (values.driver !== 'headroom' || targetArgs.length || scenario.type !== 'http'))
    throw new UsageInvalidError(
      `with a project file (${config.file}) run loads your service with the headroom driver, an http scenario and no --inject-*/--slowdown; give --target to load something else`,
    );
  const lingerS = numberFlag('dashboard-linger', values['dashboard-linger'], { min: 0, max: 3600 }) ?? 0;
  const dashboard =
    values.dashboard === undefined
      ? undefined
      : await startDashboard({
          port: numberFlag('dashboard', values.dashboard, { min: 0, max: 65_535, integer: true }),
          allowRemote: values['allow-remote'],
          meta: {
            title: `headroom run ${scenario.name}`,
            subtitle: `${scenario.name} (${scenario.profile}) against ${values.target ?? (config ? `the service of ${config.file}` : 'the reference pipeline')}`,
            thresholds: thresholdSources(scenario.thresholds),
          },
        });
  if (dashboard) io.stderr(`dashboard: ${dashboard.url}\n`);
  const feed = dashboard ? dashboardFeed(dashboard) : undefined;
  const service = config
    ? await configuredService(config.service, config.rootDir)
        .start('project')
        .catch(async (err: unknown) => {
          await dashboard?.close();
          throw err;
        })
    : undefined;
  const serviceOptions = service
    ? {
        target: service.baseUrl,
        setupUsers: false,
        processRoot: service.pid,
        metricsUrl: service.metricsUrl,
      }
    : {};
  let run: Awaited<ReturnType<typeof runWithDriver>>;
  try {
    run = await runWithDriver(scenario, values.driver as Driver, {
      onToolOutput: (line) => io.progress(`${values.driver}: ${line.slice(0, 100)}`),
      target: values.target,
      allowRemote: values['allow-remote'],
      store: values.store,
      targetArgs,
      simulators: await loadSimulatorOptions(values),
      onSample: (p) =>
        io.progress(
          `${scenario.name} ${(p.elapsedMs / 1000).toFixed(0)}/${(p.budgetMs / 1000).toFixed(0)} s  window ${p.window}/${p.windows}: ` +
            `${p.stage} at ${p.concurrency} in flight` +
            (p.point ? ` → ${p.point.throughputRps.toFixed(1)} rows/s` : '') +
            (p.combined ? ` → ${p.combined.throughputRps.toFixed(1)} rows/s` : ''),
        ),
      onProgress: (p) => {
        feed?.onProgress(p);
        io.progress(
          `${scenario.name} ${p.phase}  ${(p.elapsedMs / 1000).toFixed(0)}/${(scenario.durationMs / 1000).toFixed(0)} s  ` +
            `${p.rateRps.toFixed(0)} req/s  p95 ${p.p95Ms.toFixed(1)} ms  errors ${p.errors}  in flight ${p.inFlight}`,
        );
      },
      onServerSample: feed?.onServerSample,
      ...serviceOptions,
    });
  } catch (err) {
    await dashboard?.close();
    throw err;
  } finally {
    await service?.stop();
  }
  io.endProgress();
  if (values.out) await writeRunResult(values.out, run.result);
  if (values['sample-out']) {
    if (!run.sample) throw new UsageInvalidError('--sample-out needs the pipeline scenario');
    await writePipelineSample(values['sample-out'], run.sample);
  }
  const reportHtml =
    values.html || dashboard
      ? renderHtmlReport(runReportDocument(run.result, { thresholds: run.thresholds }))
      : '';
  if (values.html) await writeFileAtomic(values.html, reportHtml);
  if (dashboard) {
    dashboard.setReport(reportHtml);
    dashboard.publish(endEvent(run, true));
    if (lingerS > 0) {
      io.stderr(`dashboard: ${dashboard.url} (the run is over; serving it ${lingerS} s more)\n`);
      await new Promise((resolve) => setTimeout(resolve, lingerS * 1000));
    }
    await dashboard.close();
  }
  io.stdout(values.json ? `${JSON.stringify(run.result)}\n` : renderRun(run));
  // stderr: --json keeps stdout one JSON object.
  if (values.record)
    for (const line of await recordInHistory(values['history-store'], [entryFromRun(run.result)]))
      io.stderr(`${line}\n`);
  return run.passed ? ExitCode.Pass : ExitCode.ThresholdsFailed;
}

const fmt = (n: number | null | undefined, digits = 1) =>
  n === null || n === undefined
    ? 'n/a'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** A short text report: per-step latency, schedule accuracy, `more` lines, thresholds with their verdicts. */
export function renderRun(run: ScenarioRun, more: string[] = []): string {
  const r = run.result;
  const metrics = runMetrics(r);
  const lines = [
    `headroom run ${r.scenario.name} (${r.scenario.profile}) → ${r.target}`,
    `  ${r.engine}, ${fmt(r.durationMs / 1000)} s; host ${r.host.cpuModel ?? ''} ${r.host.cores ?? ''} cores (load generator and target share it)`,
  ];
  if (run.sample) lines.push('', ...renderSampleTable(run.sample));
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
  lines.push(...more);
  if (run.thresholds.length === 0) {
    lines.push('', '  no thresholds checked');
    return `${lines.join('\n')}\n`;
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
