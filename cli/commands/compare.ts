import { parseArgs } from 'node:util';
import { compareTrialSets, loadTrialSet } from '../../analyzer/trial-set.js';
import { writeFileAtomic } from '../../atomic-file.js';
import { DEFAULT_BASELINE_DIR } from '../../baselines/baseline-store.js';
import { UsageInvalidError } from '../../errors.js';
import { ExitCode } from '../../exit-code.js';
import { renderJsonReport } from '../../reports/json-report.js';
import { renderJunitReport } from '../../reports/junit-report.js';
import { renderMarkdownReport } from '../../reports/markdown-report.js';
import type { CliIo } from '../cli-io.js';

export const compareHelp = `headroom compare <base> <head> [options]

Compares two sets of trials with the regression gate's rule. Each side is a folder of run results
(headroom run --out; one file per trial), a baseline file, or a scenario name (this host's stored
baseline). A single run per side is refused: one run against one run flakes.
  --dir D          baseline folder for scenario names (default ${DEFAULT_BASELINE_DIR})
  --force          compare even when the sides were measured on different hosts (flagged)
  --markdown F     write the Markdown report (PR comment, $GITHUB_STEP_SUMMARY)
  --junit F        write the JUnit XML report
  --json           print the JSON report instead of the Markdown one
Exit codes: 0 no regression, 1 regression or leak, 2 usage or input error, 3 internal error.
`;

export async function compareCommand(argv: string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      dir: { type: 'string' },
      force: { type: 'boolean', default: false },
      markdown: { type: 'string' },
      junit: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 2) throw new UsageInvalidError('give two sides: headroom compare <base> <head>');
  // One side after the other, so that when both are wrong the base side's problem is reported.
  const base = await loadTrialSet(positionals[0]!, { dir: values.dir, force: values.force });
  const head = await loadTrialSet(positionals[1]!, { dir: values.dir, force: values.force });
  const outcome = compareTrialSets(base, head, { force: values.force });
  if (values.markdown) await writeFileAtomic(values.markdown, renderMarkdownReport(outcome));
  if (values.junit) await writeFileAtomic(values.junit, renderJunitReport(outcome));
  io.stdout(values.json ? renderJsonReport(outcome) : renderMarkdownReport(outcome));
  return outcome.passed ? ExitCode.Pass : ExitCode.ThresholdsFailed;
}
