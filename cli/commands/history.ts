import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../../atomic-file.js';
import { UsageInvalidError } from '../../errors.js';
import { ExitCode } from '../../exit-code.js';
import { historyChanges, historyFails, type SeriesReport } from '../../history/history-changes.js';
import { entryFromFile } from '../../history/history-entry.js';
import { DEFAULT_HISTORY_STORE, openHistoryStore } from '../../history/open-history-store.js';
import { renderHistoryHtml } from '../../reports/history-html.js';
import type { CliIo } from '../cli-io.js';

export const historyHelp = `headroom history add <file...> | show <scenario> [metric] | changes [scenario] [metric]

The history of results, per host: every run result (headroom run --out, headroom import --out) and
capacity report recorded with its commit, branch, time and host fingerprint; change points found by
E-Divisive means with a permutation test, each with its commits and the size of the step.
  add FILE...        record results (also: headroom run --record)
    --commit SHA       the commit they belong to (default: git HEAD here)
    --branch NAME      the branch (default: git's current branch here)
  show SCENARIO [METRIC]   the series per host, with its change points (no METRIC: the figures there are)
    --html FILE        write the trend charts with the change points marked
    --commit-url URL   link each commit in the HTML, e.g. https://github.com/o/r/commit/{sha}
  changes [SCENARIO] [METRIC]   change points of every gated figure (latency, throughput, resources)
    --since REF        only what came after REF counts (git rev-list REF..HEAD); exit 1 on a
                       regression past the gate's threshold or on creep since then
    --repo DIR         the git checkout --since is read in (default: here)
    --threshold PCT    one threshold for every figure, in % (default: the gate's, 10 % or 20 %)
    --html FILE        as for show
  --store URL        sqlite:<path> (default ${DEFAULT_HISTORY_STORE}) or postgres://…?schema=…
  --json             print JSON instead of text
Exit codes: 0 no regression, 1 a regression or creep (changes), 2 usage or input error.
`;

export async function historyCommand(argv: string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      store: { type: 'string' },
      commit: { type: 'string' },
      branch: { type: 'string' },
      since: { type: 'string' },
      repo: { type: 'string' },
      threshold: { type: 'string' },
      html: { type: 'string' },
      'commit-url': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const [action, ...rest] = positionals;
  if (action !== 'add' && action !== 'show' && action !== 'changes') {
    throw new UsageInvalidError('give an action: headroom history add <file...> | show <scenario> | changes');
  }
  const threshold = values.threshold === undefined ? undefined : Number(values.threshold) / 100;
  if (threshold !== undefined && !(threshold > 0)) {
    throw new UsageInvalidError(
      `--threshold: must be a percentage above 0, e.g. 10 (got "${values.threshold}")`,
    );
  }
  if (action === 'add' && rest.length === 0) throw new UsageInvalidError('name the result files to record');
  if (action === 'show' && rest.length === 0)
    throw new UsageInvalidError('name the scenario: headroom history show <scenario>');

  const store = await openHistoryStore(values.store);
  try {
    if (action === 'add') {
      // Every file is read before any is recorded: a bad one leaves the history as it was.
      const entries = [];
      for (const file of rest) entries.push({ file, entry: await entryFromFile(file, values) });
      for (const { file, entry } of entries) {
        const id = await store.add(entry);
        io.stdout(
          `recorded ${file} as #${id}: ${entry.scenario}, ${Object.keys(entry.figures).length} figures, ` +
            `commit ${entry.commit?.slice(0, 10) ?? '(none)'}, host ${entry.host.id}\n`,
        );
      }
      return ExitCode.Pass;
    }
    const [scenario, metric] = rest;
    if (action === 'show' && !metric) {
      const metrics = await store.metrics(scenario!);
      if (metrics.length === 0) throw new UsageInvalidError(`the history has no results of "${scenario}"`);
      if (values.json) io.stdout(`${JSON.stringify(metrics)}\n`);
      else
        for (const m of metrics)
          io.stdout(`${m.metric.padEnd(36)} ${m.unit.padEnd(8)} ${m.direction}, gate ${m.gate}\n`);
      return ExitCode.Pass;
    }
    const reports = await historyChanges(store, {
      scenario,
      metric,
      since: values.since,
      cwd: values.repo,
      threshold,
    });
    if (values.html)
      await writeFileAtomic(values.html, renderHistoryHtml(reports, { commitUrl: values['commit-url'] }));
    if (values.json) io.stdout(`${JSON.stringify(reports)}\n`);
    else io.stdout(action === 'show' ? renderSeries(reports) : renderChanges(reports, values.since));
    if (values.html) io.stdout(`trend charts: ${values.html}\n`);
    return action === 'changes' && historyFails(reports) ? ExitCode.ThresholdsFailed : ExitCode.Pass;
  } finally {
    await store.close();
  }
}

const pct = (x: number) => `${x >= 0 ? '+' : '−'}${(Math.abs(x) * 100).toFixed(1)} %`;
const sha = (s: string | null) => (s ? s.slice(0, 10) : '(none)');
const heading = (r: SeriesReport) =>
  `${r.scenario}  ${r.metric.metric}  on ${r.host.id} (${r.host.cpuModel}, ${r.host.cores} cores)`;

function renderSeries(reports: readonly SeriesReport[]): string {
  const lines: string[] = [];
  for (const r of reports) {
    lines.push(heading(r), '  #     measured (UTC)        commit      branch            value');
    const changeAt = new Set(r.changes.map((c) => c.index));
    r.points.forEach((p, i) => {
      const mark = changeAt.has(i) ? '  ◀ change' : '';
      lines.push(
        `  ${String(i + 1).padEnd(5)} ${p.measuredAt.slice(0, 19).replace('T', ' ')}   ${sha(p.commit).padEnd(10)}  ${(p.branch ?? '').padEnd(16)}  ${p.value.toPrecision(5).padStart(10)}${mark}`,
      );
    });
    lines.push(...changeLines(r), '');
  }
  return `${lines.join('\n')}\n`;
}

function changeLines(r: SeriesReport): string[] {
  const lines = r.changes.map(
    (c) =>
      `  change at #${c.index + 1} (${sha(c.from.commit)}..${sha(c.to.commit)}): ${pct(c.change)} ` +
      `(${pct(c.changeLow)} … ${pct(c.changeHigh)}), ${c.beforeMedian.toPrecision(4)} → ${c.afterMedian.toPrecision(4)}, ` +
      `p ${c.pValue.toFixed(3)}, ${c.worse ? 'worse' : 'better'}${c.regression ? `  REGRESSION past ${(r.threshold * 100).toFixed(0)} %` : ''}` +
      `${c.sinceRef ? '' : '  (before --since)'}`,
  );
  if (r.creep) {
    lines.push(
      `  CREEP: ${pct(r.creep.change)} from the first level (${r.creep.fromMedian.toPrecision(4)}) to the last ` +
        `(${r.creep.toMedian.toPrecision(4)}) in ${r.creep.steps.length} steps, each below ${(r.threshold * 100).toFixed(0)} %`,
    );
  }
  return lines;
}

function renderChanges(reports: readonly SeriesReport[], since: string | undefined): string {
  const withChanges = reports.filter((r) => r.changes.length > 0 || r.creep);
  const lines = [
    `headroom history: ${reports.length} series, ${withChanges.length} with change points${since ? ` (new since ${since} marked)` : ''}`,
  ];
  for (const r of withChanges) lines.push('', heading(r), ...changeLines(r));
  lines.push(
    '',
    historyFails(reports)
      ? `FAIL: a regression past its threshold, or creep${since ? ` since ${since}` : ''}`
      : `pass: no regression past its threshold and no creep${since ? ` since ${since}` : ''}`,
  );
  return `${lines.join('\n')}\n`;
}
