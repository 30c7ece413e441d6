import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/** A numeric axis. The unit is required: a figure without its unit cannot be read. */
export interface ValueAxis {
  /** What the axis measures, e.g. "latency". */
  title: string;
  /** Its unit, e.g. "ms", "requests/s", "%"; shown as "latency (ms)". */
  unit: string;
  /**
   * `linear` (default); `log` (base 10); `percentile`: values are percentiles (0 ≤ p < 100) drawn
   * at log10(100 / (100 − p)), so 90, 99 and 99.9 are evenly spaced, as HdrHistogram plots them.
   */
  scale?: 'linear' | 'log' | 'percentile';
  /** Start the axis at zero (default: true for linear axes). */
  beginAtZero?: boolean;
}

/** The category axis of a bar chart: one bar group per category. */
export interface CategoryAxis {
  title: string;
  categories: string[];
}

/** One point of an x–y series; a null y leaves a gap. */
export interface ChartPoint {
  x: number;
  y: number | null;
}

/** A series of an x–y chart. */
export interface XySeries {
  label: string;
  points: ChartPoint[];
  /** `line` joins the points, `points` marks them only; default from the chart's type. */
  draw?: 'line' | 'points';
  dashed?: boolean;
  /** A CSS colour; default from the report's palette by series position. */
  color?: string;
}

/**
 * A line or scatter chart on numeric axes. A scatter chart of measured points with a `draw: 'line'`
 * series over it shows a fitted curve against what was measured.
 */
export interface XyChartSpec {
  type: 'line' | 'scatter';
  title: string;
  x: ValueAxis;
  y: ValueAxis;
  series: XySeries[];
}

/** A bar chart: one value per category and series (null: no bar). */
export interface BarChartSpec {
  type: 'bar';
  title: string;
  x: CategoryAxis;
  y: ValueAxis;
  series: Array<{ label: string; values: Array<number | null>; color?: string }>;
}

export type ChartSpec = XyChartSpec | BarChartSpec;

/**
 * A table cell: text, a number (right-aligned), or formatted text that is a number (`numeric`,
 * right-aligned) or a verdict (`tone`).
 */
export type TableCell = string | number | { text: string; numeric?: boolean; tone?: 'pass' | 'fail' };

export interface ReportTable {
  caption?: string;
  columns: string[];
  rows: TableCell[][];
}

export interface ReportSection {
  heading: string;
  paragraphs?: string[];
  tables?: ReportTable[];
  charts?: ChartSpec[];
}

/** What an HTML report shows; every text is escaped when rendered, so it may come from any file. */
export interface HtmlReportDocument {
  title: string;
  /** Host, time, and whether load generator and target shared the host's cores. */
  subtitle: string;
  sections: ReportSection[];
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

let chartJsSource: string | undefined;

/**
 * Chart.js's UMD build, read once. chart.js does not export its dist/ files, so the file is found
 * beside the package's CommonJS entry, which resolves from src/ and from the built dist/ alike.
 */
export function chartJs(): string {
  if (chartJsSource === undefined) {
    const entry = createRequire(import.meta.url).resolve('chart.js');
    const source = readFileSync(path.join(path.dirname(entry), 'chart.umd.js'), 'utf8');
    // The source map is not shipped with the report: a reference to it is a request that fails.
    chartJsSource = source.replace(/^\/\/# sourceMappingURL=.*$/m, '');
  }
  return chartJsSource;
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/**
 * JSON that is safe inside a <script> element: `<` is written as \u003c so no text can close the
 * element, and the line separators JSON allows but older JavaScript parsers do not are escaped.
 */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Script text that cannot end its <script> element early. */
export function scriptText(source: string): string {
  return source.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

function axisTitle(axis: { title: string; unit?: string }): string {
  return axis.unit === undefined ? axis.title : `${axis.title} (${axis.unit})`;
}

function checkValueAxis(axis: ValueAxis, where: string): void {
  if (!axis.title?.trim()) throw new Error(`${where}: the axis needs a title`);
  if (!axis.unit?.trim()) throw new Error(`${where}: the axis "${axis.title}" needs a unit`);
}

/** Checks what the types cannot: non-empty axis titles and units, categories matching values. */
function checkChart(chart: ChartSpec, where: string): void {
  if (!chart.title.trim()) throw new Error(`${where}: the chart needs a title`);
  checkValueAxis(chart.y, `${where} "${chart.title}" y`);
  if (chart.type === 'bar') {
    if (!chart.x.title?.trim()) throw new Error(`${where} "${chart.title}" x: the axis needs a title`);
    for (const s of chart.series) {
      if (s.values.length !== chart.x.categories.length) {
        throw new Error(
          `${where} "${chart.title}": series "${s.label}" has ${s.values.length} values for ${chart.x.categories.length} categories`,
        );
      }
    }
  } else {
    checkValueAxis(chart.x, `${where} "${chart.title}" x`);
  }
}

const percentilePosition = (p: number) => Math.log10(100 / (100 - p));

function scaleOptions(axis: ValueAxis | CategoryAxis): Record<string, unknown> {
  const title = { display: true, text: axisTitle(axis), font: { size: 13 } };
  if ('categories' in axis) return { type: 'category', title };
  if (axis.scale === 'log') return { type: 'logarithmic', title };
  if (axis.scale === 'percentile') return { type: 'linear', min: 0, title, ticks: { stepSize: 1 } };
  return { type: 'linear', beginAtZero: axis.beginAtZero ?? true, title };
}

/** A chart.js configuration (plain data; the page adds the percentile tick labels). */
function chartConfig(chart: ChartSpec): Record<string, unknown> {
  const common = {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    normalized: true,
    interaction: { mode: 'nearest', intersect: false },
    plugins: {
      legend: { position: 'bottom' },
      title: { display: false },
    },
  };
  if (chart.type === 'bar') {
    return {
      type: 'bar',
      data: {
        labels: chart.x.categories,
        datasets: chart.series.map((s, i) => ({
          label: s.label,
          data: s.values,
          backgroundColor: s.color ?? PALETTE[i % PALETTE.length],
        })),
      },
      options: { ...common, scales: { x: scaleOptions(chart.x), y: scaleOptions(chart.y) } },
    };
  }
  const px = chart.x.scale === 'percentile' ? percentilePosition : (v: number) => v;
  const py = chart.y.scale === 'percentile' ? percentilePosition : (v: number) => v;
  return {
    type: 'scatter',
    data: {
      datasets: chart.series.map((s, i) => {
        const color = s.color ?? PALETTE[i % PALETTE.length];
        const line = (s.draw ?? (chart.type === 'line' ? 'line' : 'points')) === 'line';
        return {
          label: s.label,
          data: s.points.map((p) => ({ x: px(p.x), y: p.y === null ? null : py(p.y) })),
          showLine: line,
          borderColor: color,
          backgroundColor: color,
          borderWidth: line ? 2 : 1,
          // Dots on a line chart's lines while they can be told apart; none on a scatter chart's
          // lines, which are fits and guides drawn over the measured points.
          pointRadius: line ? (chart.type === 'line' && s.points.length <= 30 ? 2 : 0) : 3,
          ...(s.dashed ? { borderDash: [6, 4] } : {}),
          spanGaps: false,
          // Fitted lines are drawn over the points they were fitted to.
          order: line ? 0 : 1,
        };
      }),
    },
    options: {
      ...common,
      scales: { x: scaleOptions(chart.x), y: scaleOptions(chart.y) },
    },
  };
}

/** Builds the charts from their configurations; adds what JSON cannot hold (tick label functions). */
const BOOTSTRAP = `(() => {
  const charts = JSON.parse(document.getElementById('headroom-charts').textContent);
  const percentileLabel = (v) => {
    if (!Number.isInteger(v)) return '';
    return (100 - 100 / 10 ** v).toFixed(Math.max(0, v - 2)) + '%';
  };
  const percentileOf = (v) => (100 - 100 / 10 ** v).toPrecision(6).replace(/\\.?0+$/, '') + '%';
  for (const chart of charts) {
    const scales = chart.config.options.scales;
    for (const axis of chart.percentileAxes) scales[axis].ticks.callback = percentileLabel;
    // Legend in the order the series were given, whatever order they are drawn in; on x–y charts
    // a short line marks a line series and a dot a series of points.
    const labels = { sort: (a, b) => a.datasetIndex - b.datasetIndex };
    if (chart.config.type === 'scatter') {
      Object.assign(labels, {
        usePointStyle: true,
        generateLabels: (c) =>
          Chart.defaults.plugins.legend.labels.generateLabels(c).map((item) => ({
            ...item,
            pointStyle: c.data.datasets[item.datasetIndex].showLine ? 'line' : 'circle',
          })),
      });
    }
    chart.config.options.plugins.legend.labels = labels;
    if (chart.percentileAxes.length) {
      chart.config.options.plugins.tooltip = { callbacks: { label: (item) => {
        const x = chart.percentileAxes.includes('x') ? percentileOf(item.parsed.x) : item.parsed.x;
        const y = chart.percentileAxes.includes('y') ? percentileOf(item.parsed.y) : item.parsed.y;
        return item.dataset.label + ': ' + x + ', ' + y;
      } } };
    }
    new Chart(document.getElementById(chart.canvasId), chart.config);
  }
})();`;

const STYLE = `
  :root { color-scheme: light; }
  body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
    margin: 0; color: #1b1f23; background: #f6f7f9; }
  header { background: #fff; border-bottom: 1px solid #dde1e6; padding: 20px 32px; }
  h1 { font-size: 24px; margin: 0 0 4px; }
  .subtitle { color: #57606a; margin: 0; }
  main { max-width: 1100px; margin: 0 auto; padding: 8px 32px 40px; }
  section { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: 4px 24px 20px;
    margin-top: 20px; }
  h2 { font-size: 19px; margin: 16px 0 8px; }
  table { border-collapse: collapse; margin: 12px 0; font-variant-numeric: tabular-nums; }
  caption { text-align: left; font-weight: 600; padding-bottom: 4px; }
  th, td { padding: 4px 12px; border-bottom: 1px solid #e6e9ed; text-align: left; }
  th { background: #f0f2f5; font-weight: 600; }
  td.num, th.num { text-align: right; }
  td.pass { color: #116329; font-weight: 600; }
  td.fail { color: #b3261e; font-weight: 600; }
  figure { margin: 16px 0 0; }
  figcaption { font-weight: 600; margin-bottom: 4px; }
  .chart-box { position: relative; height: 340px; }
`;

const isNumeric = (cell: TableCell) =>
  typeof cell === 'number' || (typeof cell === 'object' && cell.numeric === true);

function renderCell(cell: TableCell): string {
  if (typeof cell === 'number') {
    return `<td class="num">${escapeHtml(cell.toLocaleString('en-US', { maximumFractionDigits: 3 }))}</td>`;
  }
  if (typeof cell === 'string') return `<td>${escapeHtml(cell)}</td>`;
  const classes = [cell.numeric ? 'num' : '', cell.tone ?? ''].filter(Boolean).join(' ');
  return `<td${classes ? ` class="${classes}"` : ''}>${escapeHtml(cell.text)}</td>`;
}

function renderTable(table: ReportTable): string {
  const caption = table.caption ? `<caption>${escapeHtml(table.caption)}</caption>` : '';
  // A column whose filled cells are all numbers is right-aligned, heading included.
  const numericColumn = table.columns.map((_, i) => {
    const filled = table.rows.map((row) => row[i]).filter((c): c is TableCell => c !== undefined && c !== '');
    return filled.length > 0 && filled.every(isNumeric);
  });
  const head = `<tr>${table.columns
    .map((c, i) => `<th scope="col"${numericColumn[i] ? ' class="num"' : ''}>${escapeHtml(c)}</th>`)
    .join('')}</tr>`;
  const body = table.rows.map((row) => `<tr>${row.map(renderCell).join('')}</tr>`).join('\n');
  return `<table>${caption}<thead>${head}</thead><tbody>\n${body}\n</tbody></table>`;
}

/**
 * Renders a report as one self-contained HTML file: chart.js is inlined, nothing is loaded from
 * the network (a Content-Security-Policy forbids it), animations are off so the charts are drawn
 * at once. Throws when a chart lacks an axis title or unit.
 */
export function renderHtmlReport(doc: HtmlReportDocument): string {
  const charts: Array<{ canvasId: string; config: Record<string, unknown>; percentileAxes: string[] }> = [];
  const sections = doc.sections.map((section, s) => {
    const parts = [`<h2>${escapeHtml(section.heading)}</h2>`];
    for (const p of section.paragraphs ?? []) parts.push(`<p>${escapeHtml(p)}</p>`);
    for (const t of section.tables ?? []) parts.push(renderTable(t));
    (section.charts ?? []).forEach((chart, c) => {
      checkChart(chart, `section "${section.heading}", chart ${c + 1}`);
      const canvasId = `chart-${s}-${c}`;
      const percentileAxes = (['x', 'y'] as const).filter((a) => {
        const axis = chart[a];
        return 'scale' in axis && axis.scale === 'percentile';
      });
      charts.push({ canvasId, config: chartConfig(chart), percentileAxes });
      parts.push(
        `<figure><figcaption>${escapeHtml(chart.title)}</figcaption>` +
          `<div class="chart-box"><canvas id="${canvasId}" role="img" aria-label="${escapeHtml(
            `${chart.title}: ${axisTitle(chart.y)} against ${axisTitle(chart.x)}`,
          )}"></canvas></div></figure>`,
      );
    });
    return `<section>\n${parts.join('\n')}\n</section>`;
  });
  // Inline scripts and styles only; no fetch, image, font or frame may load from anywhere.
  const csp = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(doc.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>${escapeHtml(doc.title)}</h1><p class="subtitle">${escapeHtml(doc.subtitle)}</p></header>
<main>
${sections.join('\n')}
</main>
<script type="application/json" id="headroom-charts">${scriptJson(charts)}</script>
<script>${scriptText(chartJs())}</script>
<script>${BOOTSTRAP}</script>
</body>
</html>
`;
}
