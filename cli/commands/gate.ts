import { parseArgs } from 'node:util';
import { DEFAULT_GATE_TRIALS, overallVerdictLine } from '../../analyzer/regression-gate.js';
import { writeFileAtomic } from '../../atomic-file.js';
import { DEFAULT_BASELINE_DIR } from '../../baselines/baseline-store.js';
import { gateEndEvent, gateRoundEvent } from '../../dashboard/gate-events.js';
import { UsageInvalidError } from '../../errors.js';
import { ExitCode } from '../../exit-code.js';
import { findProjectConfig, PROJECT_CONFIG_FILE } from '../../gate/project-config.js';
import { type GateRun, runGate } from '../../gate/run-gate.js';
import { entryFromTrials, gitProvenance } from '../../history/history-entry.js';
import { DEFAULT_HISTORY_STORE, openHistoryStore, recordedLine } from '../../history/open-history-store.js';
import {
  compareWithRecentHistory,
  DEFAULT_RECENT_HISTORY,
  type RecentComparison,
  recentHistoryFailures,
} from '../../history/recent-history.js';
import { renderJsonReport } from '../../reports/json-report.js';
import { renderJunitReport } from '../../reports/junit-report.js';
import { renderMarkdownReport } from '../../reports/markdown-report.js';
import { renderRecentHistoryMarkdown } from '../../reports/recent-history-markdown.js';
import { GATE_SUITES } from '../../scenarios/gate-suite.js';
import type { CliIo } from '../cli-io.js';
import { dashboardArgv, dashboardFlags, dashboardHelp, openCommandDashboard } from '../dashboard-flags.js';
import { numberFlag } from '../flag-value.js';

export const gateHelp = `headroom gate [options]

The CI regression gate: runs a suite's short trials on this build and compares them with this
host's stored baselines, or with --against a git ref built in a temporary worktree and measured
here in rounds with this build (both at once by default) from the same load generator, and
compared round by round. With a project file (${PROJECT_CONFIG_FILE} in this folder, or
--config) it gates the team's own service instead of headroom's reference pipeline: the ref is
built with the service's build command, both services start on free loopback ports, and the
project's suite runs against both (see docs/gate-your-service.md).
  --config FILE      project file (default ./${PROJECT_CONFIG_FILE} when there is one)
  --suite NAME       ${Object.keys(GATE_SUITES).join(', ')} (default quick: auth, api-stress, worker);
                     not with a project file (its suite is used)
  --trials N         measured trials per side (default the project's gate.trials, else ${DEFAULT_GATE_TRIALS}, at least 2)
  --against REF      compare with this git ref (e.g. origin/main) instead of stored baselines
  --aa               A/A: gate the ref (--against, default HEAD) against itself, two processes
                     of one build, to show this runner's noise floor (every call is a false one)
  --seed N           seed of the start order and of each round's side order (default 1)
  --interleave MODE  with --against: concurrent (default: each round loads base and head at once,
                     so the machine's other load hits both) or alternate (A B, B A, …)
  --dir D            baseline folder (default ${DEFAULT_BASELINE_DIR})
  --force            use another host's baselines when this host has none (flagged in reports)
  --markdown F       write the Markdown report (PR comment, $GITHUB_STEP_SUMMARY)
  --junit F          write the JUnit XML report
  --json F           write the JSON report
  --slowdown F       start this build's pipeline with request CPU × F (to see the gate fire)
  --history          also compare this build with the recent results of each figure on this host
                     (the history's last --history-window results, a robust prediction bound and the
                     gate's threshold), and say when a series creeps; a regression there fails the gate
  --history-window N results per figure the recent range is read from (default ${DEFAULT_RECENT_HISTORY.window})
  --fail-on-creep    with --history: creep (small steps adding up past the threshold) fails the gate
  --record           add this build's figures (the median of its trials) to the history, with git's
                     commit and branch here
  --history-store URL  the history (default ${DEFAULT_HISTORY_STORE}, or postgres://…?schema=…)
${dashboardHelp('rounds done, each gated figure, its interval so far')}Exit codes: 0 pass, 1 regression or leak, 2 usage or input error, 3 internal error.
`;

export async function gateCommand(argv: string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseArgs({
    args: dashboardArgv(argv),
    allowPositionals: true,
    options: {
      ...dashboardFlags,
      suite: { type: 'string', default: 'quick' },
      trials: { type: 'string' },
      against: { type: 'string' },
      dir: { type: 'string' },
      force: { type: 'boolean', default: false },
      markdown: { type: 'string' },
      junit: { type: 'string' },
      json: { type: 'string' },
      slowdown: { type: 'string' },
      interleave: { type: 'string', default: 'concurrent' },
      config: { type: 'string' },
      aa: { type: 'boolean', default: false },
      seed: { type: 'string' },
      history: { type: 'boolean', default: false },
      'history-window': { type: 'string' },
      'fail-on-creep': { type: 'boolean', default: false },
      record: { type: 'boolean', default: false },
      'history-store': { type: 'string' },
    },
  });
  if (positionals.length > 0)
    throw new UsageInvalidError(
      `gate takes no positional arguments (got ${positionals.join(' ')}); see headroom gate --help`,
    );
  const trials = numberFlag('trials', values.trials, { integer: true, min: 2 });
  const seed = numberFlag('seed', values.seed, { integer: true, min: 0 });
  const config = await findProjectConfig(process.cwd(), values.config);
  if (config && values.slowdown !== undefined)
    throw new UsageInvalidError(
      '--slowdown slows the reference pipeline; with a project file, change the service',
    );
  const slowdown = numberFlag('slowdown', values.slowdown, { min: 1 });
  if (values.interleave !== 'concurrent' && values.interleave !== 'alternate')
    throw new UsageInvalidError(`--interleave must be concurrent or alternate (got "${values.interleave}")`);
  const historyWindow = numberFlag('history-window', values['history-window'], { integer: true, min: 3 });
  if (values.record && values.aa)
    throw new UsageInvalidError('--record with --aa would record a ref measured against itself; drop one');
  if ((historyWindow !== undefined || values['fail-on-creep']) && !values.history)
    throw new UsageInvalidError('--history-window and --fail-on-creep go with --history');
  // The live page: each measured round's figures, then the verdict.
  const dashboard = await openCommandDashboard(values, io, {
    title: 'headroom gate',
    subtitle: `suite ${config ? config.file : values.suite} against ${values.against ?? (values.aa ? 'itself' : 'stored baselines')}`,
  });
  const startedMs = performance.now();
  const run = await runGate({
    suite: values.suite,
    trials,
    against: values.against,
    aa: values.aa,
    ...(config ? { config } : {}),
    ...(seed !== undefined ? { orderSeed: seed } : {}),
    interleave: values.interleave,
    dir: values.dir,
    force: values.force,
    headTargetArgs: slowdown === undefined ? [] : ['--slowdown', String(slowdown)],
    onProgress: (line) => io.progress(`gate ${line}`),
    ...(dashboard ? { onRound: (r) => dashboard.publish(gateRoundEvent(r)) } : {}),
  }).catch(async (err: unknown) => {
    await dashboard?.close();
    throw err;
  });
  await dashboard?.finish(gateEndEvent(run.outcome));
  io.endProgress();
  const { outcome } = run;
  const history =
    values.history || values.record
      ? await gateHistory(run, {
          storeUrl: values['history-store'],
          compare: values.history,
          record: values.record,
          window: historyWindow ?? DEFAULT_RECENT_HISTORY.window,
          cwd: config ? config.rootDir : process.cwd(),
        })
      : undefined;
  const failOnCreep = values['fail-on-creep'];
  const historyMarkdown = history?.comparisons
    ? renderRecentHistoryMarkdown(history.comparisons, { window: history.window, failOnCreep })
    : '';
  const historyFailures = history?.comparisons ? recentHistoryFailures(history.comparisons, failOnCreep) : [];
  const historyFailed = historyFailures.length > 0;
  // The headline, the JUnit suites and the JSON's `passed` say what the exit code says, so a
  // build failed only by its history never reads as passed in the report.
  const markdown =
    renderMarkdownReport(outcome, {
      failedElsewhere: historyFailed
        ? [`against the recent history (below): ${historyFailures.join(', ')}`]
        : [],
    }) + (historyMarkdown ? `\n${historyMarkdown}` : '');
  if (values.markdown) await writeFileAtomic(values.markdown, markdown);
  if (values.junit)
    await writeFileAtomic(
      values.junit,
      renderJunitReport(
        outcome,
        history?.comparisons ? { recentHistory: { comparisons: history.comparisons, failOnCreep } } : {},
      ),
    );
  if (values.json)
    await writeFileAtomic(
      values.json,
      renderJsonReport(
        outcome,
        history?.comparisons
          ? {
              passed: outcome.passed && !historyFailed,
              basePassed: outcome.passed,
              history: history.comparisons,
            }
          : undefined,
      ),
    );
  io.stdout(markdown);
  for (const line of history?.recorded ?? []) io.stdout(`${line}\n`);
  const verdict = historyFailed
    ? `FAIL: against the recent history${outcome.passed ? '' : `; ${overallVerdictLine(outcome)}`}`
    : overallVerdictLine(outcome);
  io.stdout(
    `\n${verdict} (${((performance.now() - startedMs) / 1000).toFixed(0)} s; load generator and ${config ? 'services' : 'pipelines'} share ${run.host.cores} cores)\n`,
  );
  return outcome.passed && !historyFailed ? ExitCode.Pass : ExitCode.ThresholdsFailed;
}

/**
 * The gate's side trip to the history: the head's figures (the median of its trials, one entry
 * per scenario) compared with the recent results of each series, then recorded, in that order so
 * a build is never compared with itself.
 */
async function gateHistory(
  run: GateRun,
  opts: { storeUrl?: string; compare: boolean; record: boolean; window: number; cwd: string },
): Promise<{ comparisons?: RecentComparison[]; recorded: string[]; window: number }> {
  const provenance = gitProvenance(opts.cwd);
  const entries = Object.values(run.head)
    .filter((runs) => runs.length > 0)
    .map((runs) => entryFromTrials(runs, provenance));
  const store = await openHistoryStore(opts.storeUrl);
  try {
    const comparisons = opts.compare
      ? await compareWithRecentHistory(store, entries, { window: opts.window })
      : undefined;
    const recorded: string[] = [];
    if (opts.record) {
      for (const entry of entries) {
        recorded.push(recordedLine(entry, await store.add(entry)));
      }
    }
    return { comparisons, recorded, window: opts.window };
  } finally {
    await store.close();
  }
}
