import type { SeriesReport } from '../history/history-changes.js';
import { type HtmlReportDocument, type ReportSection, renderHtmlReport } from './html-report.js';

const pct = (x: number) => `${x >= 0 ? '+' : '−'}${(Math.abs(x) * 100).toFixed(1)} %`;
const shortSha = (sha: string | null) => (sha ? sha.slice(0, 10) : '(no commit)');

/**
 * The trend of recorded series as a self-contained HTML page: each series' values in the order they
 * were measured, its change points marked, and a table of the changes with the commits around each
 * (a link when `commitUrl` has a `{sha}` to fill in).
 */
export function renderHistoryHtml(
  reports: readonly SeriesReport[],
  opts: { commitUrl?: string } = {},
): string {
  const link = (sha: string | null) =>
    sha && opts.commitUrl ? `${shortSha(sha)} ${opts.commitUrl.replace('{sha}', sha)}` : shortSha(sha);
  const sections = reports.map((r): ReportSection => {
    const title = `${r.scenario} ${r.metric.metric} on ${r.host.cpuModel}, ${r.host.cores} cores (${r.host.id})`;
    const unit = r.metric.unit === 'value' ? 'value' : r.metric.unit;
    return {
      heading: title,
      paragraphs: [
        `${r.points.length} results, ${r.metric.direction}; a step counts as a regression at ${(r.threshold * 100).toFixed(0)} %.`,
        ...(r.creep
          ? [
              `Creep: ${pct(r.creep.change)} from the first level to the last, in ${r.creep.steps.length} steps each below the threshold.`,
            ]
          : []),
      ],
      charts: [
        {
          type: 'scatter',
          title: `${r.metric.metric} by result, change points marked`,
          x: { title: 'result (in the order measured)', unit: '#', beginAtZero: false },
          y: { title: r.metric.metric, unit, beginAtZero: false },
          series: [
            { label: 'value', draw: 'line', points: r.points.map((p, i) => ({ x: i + 1, y: p.value })) },
            {
              label: 'first result after a change',
              draw: 'points',
              color: '#d62728',
              points: r.changes.map((c) => ({ x: c.index + 1, y: c.to.value })),
            },
          ],
        },
      ],
      tables:
        r.changes.length === 0
          ? []
          : [
              {
                caption: 'Change points',
                columns: ['#', 'commits', 'before', 'after', 'change (95 % interval)', 'p', 'verdict'],
                rows: r.changes.map((c) => [
                  c.index + 1,
                  `${link(c.from.commit)} → ${link(c.to.commit)}`,
                  { text: c.beforeMedian.toPrecision(4), numeric: true },
                  { text: c.afterMedian.toPrecision(4), numeric: true },
                  `${pct(c.change)} (${pct(c.changeLow)} … ${pct(c.changeHigh)})`,
                  { text: c.pValue.toFixed(3), numeric: true },
                  c.regression
                    ? { text: 'regression', tone: 'fail' as const }
                    : { text: c.worse ? 'worse' : 'better', tone: c.worse ? undefined : ('pass' as const) },
                ]),
              },
            ],
    };
  });
  const doc: HtmlReportDocument = {
    title: 'headroom history',
    subtitle: `${reports.length} series; change points by E-Divisive means with a permutation test`,
    sections,
  };
  return renderHtmlReport(doc);
}
