import { pct, type RecentComparison } from '../history/recent-history.js';
import { formatFigure } from './markdown-report.js';

function verdictCell(c: RecentComparison): string {
  switch (c.verdict) {
    case 'regression':
      return '**regression** ❌';
    case 'too-few':
      return `too few results (${c.points})`;
    default:
      return c.verdict;
  }
}

/**
 * The head against the recent history of each series, for the gate's report: the figures that
 * left their recent range or creep first, then a collapsed table of the rest.
 */
export function renderRecentHistoryMarkdown(
  comparisons: readonly RecentComparison[],
  opts: { window: number; failOnCreep: boolean },
): string {
  const lines = [`#### Against the recent history (this host, last ${opts.window} results per figure)`, ''];
  if (comparisons.length === 0) {
    lines.push(
      'The history has no results of these scenarios on this host yet; `--record` adds this run.',
      '',
    );
    return `${lines.join('\n')}\n`;
  }
  const notable = comparisons.filter(
    (c) => c.verdict === 'regression' || c.verdict === 'improvement' || c.creep,
  );
  const row = (c: RecentComparison) =>
    `| ${c.scenario} | ${c.metric.metric} | ${formatFigure(c.median, c.metric.unit)} (${c.points}) | ${c.bound === null ? 'n/a' : formatFigure(c.bound, c.metric.unit)} | ${formatFigure(c.head, c.metric.unit)} | ${pct(c.change)} | ${verdictCell(c)} |`;
  const header = [
    '| scenario | figure | recent median (results) | bound | head | change | verdict |',
    '|---|---|---|---|---|---|---|',
  ];
  if (notable.length > 0) lines.push(...header, ...notable.map(row), '');
  else lines.push('Every figure is within its recent range.', '');
  for (const c of comparisons.filter((x) => x.creep)) {
    lines.push(
      `- **creep** in ${c.scenario} ${c.metric.metric}: ${pct(c.creep!.change)} from ${formatFigure(c.creep!.fromMedian, c.metric.unit)} to ${formatFigure(c.creep!.toMedian, c.metric.unit)} in ${c.creep!.steps.length} steps, each below ${(c.threshold * 100).toFixed(0)} %${opts.failOnCreep ? ' (fails the gate)' : ' (reported; --fail-on-creep makes it fail)'}`,
    );
  }
  const rest = comparisons.filter((c) => !notable.includes(c));
  if (rest.length > 0) {
    lines.push(
      '',
      `<details><summary>${rest.length} other figures</summary>`,
      '',
      ...header,
      ...rest.map(row),
      '',
      '</details>',
    );
  }
  return `${lines.join('\n')}\n`;
}
