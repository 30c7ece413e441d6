import { parseArgs } from 'node:util';
import { demoEndEvent, stagesEvent } from '../../dashboard/demo-events.js';
import { UsageInvalidError } from '../../errors.js';
import { ExitCode } from '../../exit-code.js';
import { type DemoResult, runDemo } from '../../pipeline/demo.js';
import type { CliIo } from '../cli-io.js';
import { dashboardArgv, dashboardFlags, dashboardHelp, openCommandDashboard } from '../dashboard-flags.js';
import { defined, numberFlag } from '../flag-value.js';
import { loadSimulatorOptions, simulatorFlags } from '../simulator-flags.js';

export const demoHelp = `headroom demo --rows N [--json] [--store URL] [--queue URL] [--dashboard] [simulator flags]

Starts the simulators and the pipeline, uploads an N-row CSV through the API, waits until every row
is a message or a failure, and prints per-stage counts, rates and duration (counted from the database).
A run cut by its time bound counts the rows still on their way as unfinished (never as lost), says
how long the whole run would need at the rate it saw, and exits 1. Lost rows are the ones the
database shows were dropped; duplicates are messages written twice. Exit 0 only when neither.
  --rows N                    rows to generate (default 20000)
  --json                      print one JSON object
  --store URL                 sqlite:<file> (default: a temporary SQLite file) or postgres://…
  --queue URL                 in-process (default) or redis://…
  --scraping-concurrency N    scrapes in flight    --ai-concurrency N   LLM calls in flight
  --timeout-s S               upper bound of the run (default: from the rows, the concurrency and the
                              simulated world, about twice the time they need, plus 2 min)
${dashboardHelp("each stage's rows done and rows/s, once a second")}Simulator flags: --sites --site-latency-ms --site-latency-sigma --page-bytes --fault-rate
  --fault-404 --fault-500 --fault-reset --fault-timeout --fault-slow-body --seed
  --llm-ttft-ms --llm-tokens-per-second --llm-tokens-per-message --llm-error-rate --llm-429-rate
  --llm-rpm --llm-tpm
  --sim-config FILE           the same settings from a JSON file (cli/simulator-config.schema.json:
                              siteLatencyMs, llmRpm, …); flags given here override it
`;

export async function demoCommand(argv: string[], io: CliIo): Promise<ExitCode> {
  const { values } = parseArgs({
    args: dashboardArgv(argv),
    options: {
      rows: { type: 'string', default: '20000' },
      json: { type: 'boolean', default: false },
      store: { type: 'string' },
      queue: { type: 'string' },
      'scraping-concurrency': { type: 'string' },
      'ai-concurrency': { type: 'string' },
      'timeout-s': { type: 'string' },
      ...simulatorFlags,
      ...dashboardFlags,
    },
  });
  const rows = numberFlag('rows', values.rows, { min: 1, max: 10_000_000, integer: true })!;
  const timeoutS = numberFlag('timeout-s', values['timeout-s'], { min: 1 });
  const scraping = numberFlag('scraping-concurrency', values['scraping-concurrency'], {
    min: 1,
    integer: true,
  });
  const ai = numberFlag('ai-concurrency', values['ai-concurrency'], { min: 1, integer: true });
  if (values.store === '') throw new UsageInvalidError('--store needs a URL, e.g. sqlite:./demo.db');
  const simulators = await loadSimulatorOptions(values);

  const dashboard = await openCommandDashboard(values, io, {
    title: 'headroom demo',
    subtitle: `${rows} rows through the reference pipeline and the simulators`,
  });
  const result = await runDemo({
    rows,
    store: values.store,
    queue: values.queue,
    simulators,
    pipeline: { concurrency: defined({ scraping, ai_processing: ai }) },
    timeoutMs: timeoutS === undefined ? undefined : timeoutS * 1000,
    onTick: dashboard && ((tick) => dashboard.publish(stagesEvent(tick))),
    onProgress: (p) => {
      const s = (p.elapsedMs / 1000).toFixed(0);
      if (!p.upload) return io.progress(`${s}s ${p.phase}…`);
      const u = p.upload;
      const settled = u.ai.done + u.ai.failed + u.scrape.failed;
      io.progress(
        `${s}s  ingested ${u.ingest.accepted}/${rows}  scraped ${u.scrape.done} (${u.scrape.failed} failed)  ` +
          `messages ${u.ai.done} (${u.ai.failed} failed)  ${((settled * 1000) / Math.max(p.elapsedMs, 1)).toFixed(0)} rows/s`,
      );
    },
  }).catch(async (err: unknown) => {
    await dashboard?.close();
    throw err;
  });
  io.endProgress();
  await dashboard?.finish(demoEndEvent(result));
  io.stdout(values.json ? `${JSON.stringify(result)}\n` : renderDemo(result));
  return result.lost === 0 && result.duplicated === 0 && result.unfinished === 0 && !result.timedOut
    ? ExitCode.Pass
    : ExitCode.ThresholdsFailed;
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const mb = (bytes: number) => `${fmt(bytes / 1024 / 1024)} MB`;

/** What a run cut by its bound still had to do, and how long it would have needed. */
function cutLine(r: DemoResult): string {
  const bound = `cut by its time bound of ${fmt(r.timeoutMs / 1000)} s with ${fmt(r.unfinished)} rows unfinished (still on their way, not lost)`;
  if (r.estimatedTotalMs === null) return `  unfinished    ${bound}; no row had settled, so no estimate`;
  const needS = r.estimatedTotalMs / 1000;
  return (
    `  unfinished    ${bound};\n` +
    `                at the rate seen it would need about ${fmt(needS)} s in all: rerun with --timeout-s ${fmt(Math.ceil(needS * 1.5))}`
  );
}

export function renderDemo(r: DemoResult): string {
  const lines = [
    `headroom demo: ${fmt(r.rows)} rows on ${r.store} + ${r.queue} queue, ${r.host.cores} cores (${r.host.cpuModel})`,
    `  duration      ${fmt(r.durationMs / 1000, 1)} s   ${fmt(r.rowsPerSecond, 1)} rows/s end to end${r.timedOut ? '   (TIMED OUT)' : ''}`,
    `  outcome       ${fmt(r.messages)} messages, ${fmt(r.failed)} failed, ${fmt(r.lost)} lost, ${fmt(r.duplicated)} duplicated, ${fmt(r.rejected)} rejected at upload`,
    ...(r.timedOut ? [cutLine(r)] : []),
    '',
    '  stage     rows done   failed   finished at   rows/s',
    `  ingest    ${fmt(r.stages.ingest.rows).padStart(9)}   ${'-'.padStart(6)}   ${fmt(r.stages.ingest.durationMs / 1000, 1).padStart(9)} s   ${fmt(r.stages.ingest.rowsPerSecond).padStart(7)}`,
    `  scrape    ${fmt(r.stages.scrape.done).padStart(9)}   ${fmt(r.stages.scrape.failed).padStart(6)}   ${fmt(r.stages.scrape.durationMs / 1000, 1).padStart(9)} s   ${fmt(r.stages.scrape.rowsPerSecond).padStart(7)}`,
    `  ai        ${fmt(r.stages.ai.done).padStart(9)}   ${fmt(r.stages.ai.failed).padStart(6)}   ${fmt(r.stages.ai.durationMs / 1000, 1).padStart(9)} s   ${fmt(r.stages.ai.rowsPerSecond).padStart(7)}`,
    '',
    `  CPU per row   pipeline ${fmt(r.processes.pipeline.cpuMsPerRow, 3)} ms, simulators ${fmt(r.processes.simulators.cpuMsPerRow, 3)} ms`,
    `  peak memory   pipeline ${mb(r.processes.pipeline.maxRssBytes)}, simulators ${mb(r.processes.simulators.maxRssBytes)}`,
    "  (simulators, pipeline and database share this machine's cores)",
  ];
  const reasons = Object.entries(r.failuresByReason);
  if (reasons.length) {
    lines.push('', '  failures by reason');
    for (const [reason, n] of reasons) lines.push(`    ${fmt(n).padStart(7)}  ${reason}`);
  }
  return `${lines.join('\n')}\n`;
}
