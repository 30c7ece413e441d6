import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../../atomic-file.js';
import { savedRunEvents, startDashboard } from '../../dashboard/dashboard-server.js';
import { UsageInvalidError } from '../../errors.js';
import { ExitCode } from '../../exit-code.js';
import { renderHtmlReport } from '../../reports/html-report.js';
import { runReportDocument } from '../../reports/run-report.js';
import { readRunResultFile } from '../../results/run-result.js';
import { loadScenario } from '../../scenarios/load-scenario.js';
import { runMetrics } from '../../scenarios/run-metrics.js';
import { evaluateThresholds } from '../../scenarios/threshold.js';
import type { CliIo } from '../cli-io.js';
import { numberFlag } from '../flag-value.js';
import { waitForSignal } from '../wait-for-signal.js';

export const reportHelp = `headroom report <run.json> [options]

Renders a saved run result (headroom run --out) as one self-contained HTML file: summary table,
latency and rates over time, the percentile distribution, the target's CPU, memory and event loop,
and the heap trend when the run measured one. The file loads nothing from the network.
  --out FILE              where to write it (default: the result's name with .html)
  --scenario NAME|FILE    check this scenario's thresholds (of the run's profile) against the result
  --serve[=PORT]          also serve the run as the live dashboard would have shown it, on
                          127.0.0.1 (a free port, or PORT), until Ctrl-C or --serve-for S
  --serve-for S           stop serving after S seconds
  --allow-remote          serve on every interface, not only loopback
Exit codes: 0 written, 2 usage or input error (e.g. not a run result), 3 internal error.
`;

export async function reportCommand(argv: string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseArgs({
    // A bare --serve asks for a free port.
    args: argv.map((a) => (a === '--serve' ? '--serve=0' : a)),
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      scenario: { type: 'string' },
      serve: { type: 'string' },
      'serve-for': { type: 'string' },
      'allow-remote': { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 1)
    throw new UsageInvalidError('name one result file: headroom report <run.json>');
  const file = positionals[0]!;
  const result = await readRunResultFile(file);
  let thresholds: ReturnType<typeof evaluateThresholds> | undefined;
  if (values.scenario) {
    const scenario = await loadScenario(values.scenario, { profile: result.scenario.profile });
    thresholds = evaluateThresholds(scenario.thresholds, runMetrics(result));
  }
  const out = values.out ?? `${file.replace(/\.json$/i, '')}.html`;
  const html = renderHtmlReport(runReportDocument(result, { thresholds }));
  await writeFileAtomic(out, html);
  io.stdout(`wrote ${out} (${Math.ceil(Buffer.byteLength(html) / 1024)} KB)\n`);
  if (thresholds) {
    const failed = thresholds.filter((t) => !t.passed).length;
    io.stdout(`thresholds: ${thresholds.length - failed} passed, ${failed} failed (shown in the report)\n`);
  }
  if (values.serve !== undefined) {
    const serveForS = numberFlag('serve-for', values['serve-for'], { min: 1 });
    const dashboard = await startDashboard({
      port: numberFlag('serve', values.serve, { min: 0, max: 65_535, integer: true }),
      allowRemote: values['allow-remote'],
      meta: {
        title: `headroom run ${result.scenario.name} (saved)`,
        subtitle: `${file}: ${result.scenario.name} (${result.scenario.profile}) against ${result.target}, ${result.createdAt}`,
        thresholds: Object.fromEntries((thresholds ?? []).map((t) => [t.metric, [t.threshold]])),
      },
    });
    dashboard.setReport(html);
    for (const event of savedRunEvents(result, thresholds ?? [])) dashboard.publish(event);
    io.stdout(`serving ${dashboard.url}${serveForS ? ` for ${serveForS} s` : ' (Ctrl-C to stop)'}\n`);
    await (serveForS ? new Promise((resolve) => setTimeout(resolve, serveForS * 1000)) : waitForSignal());
    await dashboard.close();
  }
  return ExitCode.Pass;
}
