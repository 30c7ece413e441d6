import { parseArgs } from 'node:util';
import { summarizeRun } from '../../analyzer/summary.js';
import { UsageInvalidError } from '../../errors.js';
import { ExitCode } from '../../exit-code.js';
import { formatFigure } from '../../reports/markdown-report.js';
import { type RunResult, readRunResultFile } from '../../results/run-result.js';
import { libraryScenarios, loadScenario } from '../../scenarios/load-scenario.js';
import { runMetrics } from '../../scenarios/run-metrics.js';
import { evaluateThresholds, parseThreshold, type Threshold } from '../../scenarios/threshold.js';
import type { CliIo } from '../cli-io.js';
import { renderRun } from './run.js';

export const analyzeHelp = `headroom analyze <run.json> [options]

Reads a saved run result (headroom run --out, or headroom import) and prints what it measured:
per-step latency percentiles from its HDR histograms, errors, schedule accuracy, the target's
resources and the leak test; then checks thresholds against it, without running anything again.
  --scenario NAME|FILE    check this scenario's thresholds (of the run's profile); by default the
                          library scenario the run names, if there is one
  --threshold 'METRIC EXPR'  check a threshold in k6's grammar, e.g. 'latency p(95)<500',
                          'errors rate<0.01', 'latency:login p(99)<800' (repeatable; replaces
                          the scenario's thresholds for that metric)
  --no-thresholds         print the figures only
  --json                  print { summary, thresholds, passed } as JSON
Exit codes: 0 thresholds passed (or none checked), 1 a threshold failed, 2 usage or input error,
3 internal error.
`;

export async function analyzeCommand(argv: string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      scenario: { type: 'string' },
      threshold: { type: 'string', multiple: true, default: [] },
      'no-thresholds': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 1)
    throw new UsageInvalidError('name one result file: headroom analyze <run.json>');
  if (values['no-thresholds'] && (values.scenario || values.threshold.length))
    throw new UsageInvalidError(
      '--no-thresholds leaves nothing for --scenario or --threshold to do: drop one',
    );
  const file = positionals[0]!;
  const result = await readRunResultFile(file);
  const thresholds = values['no-thresholds']
    ? {}
    : { ...(await scenarioThresholds(result, values.scenario)), ...parseThresholdFlags(values.threshold) };
  const outcomes = evaluateThresholds(thresholds, runMetrics(result));
  const passed = outcomes.every((t) => t.passed);
  if (values.json) {
    io.stdout(`${JSON.stringify({ summary: summarizeRun(result), thresholds: outcomes, passed })}\n`);
  } else {
    io.stdout(renderRun({ result, thresholds: outcomes, passed }, resourceLines(result)));
  }
  return passed ? ExitCode.Pass : ExitCode.ThresholdsFailed;
}

/**
 * The thresholds of the scenario named by the flag or, failing that, by the run itself when it is
 * one of the library's (an imported k6 run named "k6-summary" has none to check).
 */
async function scenarioThresholds(
  result: RunResult,
  flag: string | undefined,
): Promise<Record<string, Threshold[]>> {
  const name = flag ?? result.scenario.name;
  if (!flag && !(await libraryScenarios()).includes(name)) return {};
  return (await loadScenario(name, { profile: result.scenario.profile })).thresholds;
}

/** `--threshold 'METRIC EXPR'`: the metric, whitespace, then the expression (which may hold spaces). */
function parseThresholdFlags(flags: string[]): Record<string, Threshold[]> {
  const thresholds: Record<string, Threshold[]> = {};
  for (const flag of flags) {
    const m = /^\s*(\S+)\s+(.+)$/.exec(flag);
    if (!m)
      throw new UsageInvalidError(
        `--threshold "${flag}": write the metric, a space, then the expression, e.g. 'latency p(95)<500'`,
      );
    let threshold: Threshold;
    try {
      threshold = parseThreshold(m[2]!);
    } catch (err) {
      throw new UsageInvalidError(`--threshold "${flag}": ${(err as Error).message}`);
    }
    // Flags for one metric add up; together they replace the scenario's thresholds on it.
    thresholds[m[1]!] = [...(thresholds[m[1]!] ?? []), threshold];
  }
  return thresholds;
}

/** The target's resources and the scenario's own figures, as the summary the gate reads holds them. */
function resourceLines(result: RunResult): string[] {
  const figures = Object.entries(summarizeRun(result).figures).filter(
    ([name]) =>
      name.startsWith('server.') || (name.startsWith('metric:') && !/\.(p90|p99\.9|max|mean)$/.test(name)),
  );
  if (figures.length === 0) return [];
  const lines = ['', '  target and scenario figures'];
  for (const [name, f] of figures) {
    lines.push(
      `    ${name.padEnd(36)} ${formatFigure(f.value, f.unit)}${f.gate === 'info' ? '' : `  (gated: ${f.gate})`}`,
    );
  }
  return lines;
}
