import { LatencyHistogram } from '../results/latency-histogram.js';
import type { RunResult } from '../results/run-result.js';
import type { ThresholdOutcome } from '../results/threshold-outcome.js';
import type {
  ChartPoint,
  ChartSpec,
  HtmlReportDocument,
  ReportSection,
  TableCell,
  XySeries,
} from './html-report.js';

/** What a report shows beyond the result file. */
export interface RunReportOptions {
  /** Outcomes of the scenario's thresholds; a result file does not keep them. */
  thresholds?: ThresholdOutcome[];
}

const MB = 1024 * 1024;
/** Longest line of the percentile curve: 99.9999 %; past the histogram's count it would repeat the maximum. */
const MAX_PERCENTILE_DECADES = 6;
/** Percentile curves drawn one per step up to this many steps; more would not be readable. */
const MAX_STEP_CURVES = 6;

const fmt = (n: number, digits = 1) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

const sumErrors = (errors: Record<string, number>) => Object.values(errors).reduce((a, b) => a + b, 0);

function isLoopback(target: string): boolean {
  let host: string;
  try {
    host = new URL(target).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return false;
  }
  return host === 'localhost' || host === '::1' || host.startsWith('127.') || host.startsWith('::ffff:127.');
}

function subtitle(r: RunResult): string {
  const h = r.host;
  const host = `${h.cpuModel}, ${h.cores} cores, ${fmt(h.memoryBytes / 1024 ** 3)} GB, ${h.os}, Node ${h.node}`;
  const time = `recorded ${r.createdAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}`;
  const shared = isLoopback(r.target)
    ? `load generator and target ran on this host and shared its ${h.cores} cores`
    : `target ${r.target} on another host`;
  return `${host} · ${time} · ${shared}`;
}

/** Latency figures of one histogram as table cells (ms), or n/a when it is empty. */
function latencyCells(h: LatencyHistogram): TableCell[] {
  if (h.count === 0) return ['n/a', 'n/a', 'n/a', 'n/a', 'n/a'];
  return [50, 90, 95, 99, 100].map((p) => ({ text: fmt(h.percentileMs(p), 2), numeric: true }));
}

/**
 * The percentile distribution as HdrHistogram plots it: points evenly spaced in log10(1/(1 − p)),
 * 20 per decade, up to the percentile the count supports (1 in `count`).
 */
function percentileCurve(h: LatencyHistogram): ChartPoint[] {
  if (h.count === 0) return [];
  const decades = Math.min(MAX_PERCENTILE_DECADES, Math.log10(h.count));
  const points: ChartPoint[] = [];
  for (let i = 0; i <= Math.ceil(decades * 20); i++) {
    const d = Math.min(i / 20, decades);
    const p = 100 * (1 - 10 ** -d);
    points.push({ x: p, y: h.percentileMs(p) });
  }
  return points;
}

function summarySection(r: RunResult, opts: RunReportOptions): ReportSection {
  const all = LatencyHistogram.create();
  const service = LatencyHistogram.create();
  let requests = 0;
  let errors = 0;
  const rows: TableCell[][] = r.steps.map((step) => {
    const h = LatencyHistogram.decode(step.latencyHistogram);
    all.merge(h);
    service.merge(LatencyHistogram.decode(step.serviceHistogram));
    const stepErrors = sumErrors(step.errors);
    requests += step.requests;
    errors += stepErrors;
    const rate = step.requests
      ? { text: `${fmt((stepErrors / step.requests) * 100, 2)} %`, numeric: true }
      : 'n/a';
    return [step.name, step.requests, stepErrors, rate, ...latencyCells(h)];
  });
  if (r.steps.length > 1) {
    const rate = requests ? { text: `${fmt((errors / requests) * 100, 2)} %`, numeric: true } : 'n/a';
    rows.push(['all steps', requests, errors, rate, ...latencyCells(all)]);
  }
  if (r.steps.length > 0) rows.push(['service time, all steps', '', '', '', ...latencyCells(service)]);
  const durationS = r.durationMs / 1000;
  const paragraphs = [
    `Scenario ${r.scenario.name} (${r.scenario.profile} profile, settings ${r.scenario.configHash}), ` +
      `${r.engine} engine against ${r.target} for ${fmt(durationS)} s: ${requests.toLocaleString('en-US')} requests ` +
      `over ${r.steps.length} ${r.steps.length === 1 ? 'step' : 'steps'} ` +
      `(${fmt(durationS > 0 ? requests / durationS : 0)} requests/s), ${errors.toLocaleString('en-US')} failed.`,
    'Latency runs from when each request was meant to be sent, so time spent waiting behind a slow ' +
      'target counts (coordinated omission corrected); service time runs from the actual send.',
  ];
  const errorRows = r.steps.flatMap((s) =>
    Object.entries(s.errors)
      .filter(([, n]) => n > 0)
      .map(([cls, n]): TableCell[] => [s.name, cls, n]),
  );
  const tables = [
    {
      caption: 'Requests and latency per step (ms)',
      columns: ['step', 'requests', 'errors', 'error rate', 'p50', 'p90', 'p95', 'p99', 'max'],
      rows,
    },
  ];
  if (errorRows.length)
    tables.push({ caption: 'Failures by class', columns: ['step', 'class', 'count'], rows: errorRows });
  if (r.schedule) {
    const s = r.schedule;
    tables.push({
      caption: 'Schedule accuracy (open model; an arrival starts one iteration of every step)',
      columns: [
        'intended',
        'sent',
        'dropped',
        'requested',
        'achieved',
        'schedule error',
        'mean lag',
        'max lag',
      ],
      rows: [
        [
          s.intended,
          s.sent,
          s.dropped,
          { text: `${fmt(s.requestedRps)} arrivals/s`, numeric: true },
          { text: `${fmt(s.achievedRps)} arrivals/s`, numeric: true },
          { text: `${fmt(s.scheduleError * 100, 2)} %`, numeric: true },
          { text: `${fmt(s.meanLagMs, 2)} ms`, numeric: true },
          { text: `${fmt(s.maxLagMs, 2)} ms`, numeric: true },
        ],
      ],
    });
  }
  if (opts.thresholds?.length) {
    tables.push({
      caption: 'Thresholds',
      columns: ['metric', 'threshold', 'measured', 'verdict'],
      rows: opts.thresholds.map((t) => [
        t.metric,
        t.threshold,
        t.actual === null ? 'not measured' : t.actual,
        t.passed ? { text: 'pass', tone: 'pass' } : { text: 'FAIL', tone: 'fail' },
      ]),
    });
  } else {
    paragraphs.push(
      'Thresholds: not given (a result file does not keep them; "headroom report --scenario" checks a scenario\'s).',
    );
  }
  return { heading: 'Summary', paragraphs, tables };
}

function metricsSection(r: RunResult): ReportSection | undefined {
  const entries = Object.entries(r.metrics ?? {});
  if (entries.length === 0) return undefined;
  const num = (v: number | undefined) => (v === undefined ? '' : v);
  const columns = ['figure', 'count', 'rate', 'value', 'bounds', 'p50 ms', 'p95 ms', 'p99 ms'];
  const rows: TableCell[][] = entries.map(([name, m]) => {
    const h = m.histogram ? LatencyHistogram.decode(m.histogram) : undefined;
    const p = (q: number) => (h && h.count > 0 ? { text: fmt(h.percentileMs(q), 2), numeric: true } : '');
    const bounds = m.min !== undefined && m.max !== undefined ? `${fmt(m.min, 2)} … ${fmt(m.max, 2)}` : '';
    return [name, num(m.count), num(m.rate), num(m.value), bounds, p(50), p(95), p(99)];
  });
  // Figures differ in kind (a count, a histogram, a fitted value): show only the columns some have.
  const kept = columns.map((_, i) => i === 0 || rows.some((row) => row[i] !== ''));
  return {
    heading: 'Scenario figures',
    tables: [
      {
        columns: columns.filter((_, i) => kept[i]),
        rows: rows.map((row) => row.filter((_, i) => kept[i])),
      },
    ],
  };
}

function overTimeSection(r: RunResult): ReportSection {
  const seconds = { title: 'time since the load started', unit: 's' };
  const charts: ChartSpec[] = [
    {
      type: 'line',
      title: 'Latency over time: p95 of each second',
      x: seconds,
      y: { title: 'latency', unit: 'ms' },
      series: [{ label: 'p95', points: r.timeSeries.map((p) => ({ x: p.tSec, y: p.p95Ms })) }],
    },
    {
      type: 'line',
      title: 'Requests and failures per second',
      x: seconds,
      y: { title: 'rate', unit: 'requests/s' },
      series: [
        { label: 'requests finished', points: r.timeSeries.map((p) => ({ x: p.tSec, y: p.requests })) },
        { label: 'failed', points: r.timeSeries.map((p) => ({ x: p.tSec, y: p.errors })) },
      ],
    },
  ];
  return {
    heading: 'Over time',
    paragraphs: [
      'Each point is one second, counted when requests finished. The result keeps the p95 of each ' +
        'second only; the other percentiles are in the table above and the distribution below.',
    ],
    charts,
  };
}

function distributionSection(r: RunResult): ReportSection | undefined {
  if (r.steps.length === 0) return undefined;
  const series: ChartSpec & { type: 'line' } = {
    type: 'line',
    title: 'Latency by percentile',
    x: { title: 'percentile', unit: '%', scale: 'percentile' },
    y: { title: 'latency', unit: 'ms' },
    series: [],
  };
  const service = LatencyHistogram.create();
  const all = LatencyHistogram.create();
  for (const step of r.steps) {
    const h = LatencyHistogram.decode(step.latencyHistogram);
    all.merge(h);
    service.merge(LatencyHistogram.decode(step.serviceHistogram));
    if (r.steps.length <= MAX_STEP_CURVES)
      series.series.push({ label: `${step.name}: latency`, points: percentileCurve(h) });
  }
  if (r.steps.length > MAX_STEP_CURVES)
    series.series.push({ label: 'all steps: latency', points: percentileCurve(all) });
  series.series.push({ label: 'all steps: service time', points: percentileCurve(service), dashed: true });
  return {
    heading: 'Latency distribution',
    paragraphs: [
      'The x axis spreads the tail: 90 %, 99 % and 99.9 % are evenly spaced. Each curve stops at the ' +
        'highest percentile its count supports; the maximum is in the summary table.',
    ],
    charts: [series],
  };
}

function sampleValue(sample: Record<string, unknown>, field: string): number | null {
  const v = sample[field];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function serverSection(r: RunResult): ReportSection {
  const samples = r.serverSamples;
  if (samples.length === 0) {
    return {
      heading: 'Target resources',
      paragraphs: ['No samples of the target: its /metrics was not read during this run.'],
    };
  }
  const seconds = { title: 'time since sampling started', unit: 's' };
  const curve = (field: string, scale = 1): ChartPoint[] =>
    samples.map((s) => {
      const v = sampleValue(s, field);
      return { x: sampleValue(s, 'tSec') ?? 0, y: v === null ? null : v * scale };
    });
  const present = (field: string) => samples.some((s) => sampleValue(s, field) !== null);
  // A chart of zeros says less than one sentence: queue and pool charts only when something moved.
  const busy = (field: string) => samples.some((s) => (sampleValue(s, field) ?? 0) > 0);
  const charts: ChartSpec[] = [
    {
      type: 'line',
      title: 'Target CPU and event-loop utilisation',
      x: seconds,
      y: { title: 'busy', unit: '%' },
      series: [
        { label: 'CPU (% of one core)', points: curve('cpuPercent') },
        { label: 'event loop (% of time busy)', points: curve('eventLoopUtilization', 100) },
      ],
    },
    {
      type: 'line',
      title: 'Target memory',
      x: seconds,
      y: { title: 'memory', unit: 'MB' },
      series: [
        { label: 'heap used', points: curve('heapUsedBytes', 1 / MB) },
        { label: 'resident set (RSS)', points: curve('rssBytes', 1 / MB) },
      ],
    },
  ];
  const paragraphs = [
    `${samples.length} samples of the target's /metrics, about one a second. CPU is the target ` +
      "process's own (100 % = one core busy).",
  ];
  if (busy('queueWaiting') || busy('queueActive')) {
    charts.push({
      type: 'line',
      title: 'Target queues',
      x: seconds,
      y: { title: 'queue length', unit: 'jobs' },
      series: [
        { label: 'waiting', points: curve('queueWaiting') },
        { label: 'running', points: curve('queueActive') },
      ],
    });
  } else if (present('queueWaiting')) {
    paragraphs.push('Queues: no job was waiting or running in any sample.');
  }
  if (busy('poolInUse') || busy('poolWaiting')) {
    charts.push({
      type: 'line',
      title: 'Target database pool',
      x: seconds,
      y: { title: 'count', unit: 'connections or callers' },
      series: [
        { label: 'connections in use', points: curve('poolInUse') },
        { label: 'callers waiting', points: curve('poolWaiting') },
      ],
    });
  } else if (present('poolInUse')) {
    paragraphs.push('Database pool: no connection was in use and no caller waited in any sample.');
  }
  return { heading: 'Target resources', paragraphs, charts };
}

function heapSection(r: RunResult): ReportSection | undefined {
  const t = r.heapTrend;
  if (!t) return undefined;
  const before = t.samples.filter((s) => s.tSec < t.warmupS);
  const after = t.samples.filter((s) => s.tSec >= t.warmupS);
  const heapMb = (s: { tSec: number; heapUsedBytes: number }) => ({ x: s.tSec, y: s.heapUsedBytes / MB });
  const series: XySeries[] = [];
  if (before.length)
    series.push({ label: 'warm-up (not fitted)', points: before.map(heapMb), color: '#9aa4ae' });
  series.push({ label: 'heap after GC', points: after.map(heapMb), color: '#1f77b4' });
  if (after.length >= 2) {
    const firstS = after[0]!.tSec;
    const lastS = after.at(-1)!.tSec;
    const fitted = (slope: number, throughS: number, throughMb: number) => (s: number) =>
      throughMb + (slope * (s - throughS)) / 3600;
    const line = fitted(t.slopeMbPerHour, 0, t.interceptMb);
    series.push({
      label: `fitted: ${fmt(t.slopeMbPerHour)} MB/h`,
      points: [firstS, lastS].map((s) => ({ x: s, y: line(s) })),
      draw: 'line',
      color: '#d62728',
    });
    // A least-squares line passes through the mean point; the interval's slopes pivot there.
    const meanS = after.reduce((a, s) => a + s.tSec, 0) / after.length;
    const meanMb = line(meanS);
    for (const [name, slope] of [
      ['low', t.slopeLowMbPerHour],
      ['high', t.slopeHighMbPerHour],
    ] as const) {
      const bound = fitted(slope, meanS, meanMb);
      series.push({
        label: `95 % interval, ${name}: ${fmt(slope)} MB/h`,
        points: [firstS, lastS].map((s) => ({ x: s, y: bound(s) })),
        draw: 'line',
        dashed: true,
        color: '#ff7f0e',
      });
    }
  }
  return {
    heading: 'Heap trend',
    paragraphs: [
      `Heap after a full GC, fitted over ${t.fitted} samples after a ${t.warmupS} s warm-up: ` +
        `${fmt(t.slopeMbPerHour)} MB/h (95 % interval ${fmt(t.slopeLowMbPerHour)} … ${fmt(t.slopeHighMbPerHour)} MB/h, ` +
        `r² ${fmt(t.rSquared, 3)}). Allowed: ${fmt(t.maxSlopeMbPerHour)} MB/h. ` +
        (t.leak
          ? 'LEAK: the whole interval is above the allowed slope.'
          : 'No leak: the interval is not wholly above the allowed slope.'),
    ],
    charts: [
      {
        type: 'scatter',
        title: 'Heap after GC and its fitted trend',
        x: { title: 'time since sampling started', unit: 's' },
        y: { title: 'heap used after GC', unit: 'MB', beginAtZero: false },
        series,
      },
    ],
  };
}

/**
 * The HTML report of one run: summary (per-step requests, errors, percentiles from the HDR
 * histograms; schedule accuracy; thresholds when given), latency and rates over time, the
 * percentile distribution, the target's CPU, memory and event loop, and the heap trend when the
 * run measured one.
 */
export function runReportDocument(result: RunResult, opts: RunReportOptions = {}): HtmlReportDocument {
  const sections = [
    summarySection(result, opts),
    metricsSection(result),
    overTimeSection(result),
    distributionSection(result),
    serverSection(result),
    heapSection(result),
  ].filter((s): s is ReportSection => s !== undefined);
  return {
    title: `headroom run: ${result.scenario.name} (${result.scenario.profile})`,
    subtitle: subtitle(result),
    sections,
  };
}
