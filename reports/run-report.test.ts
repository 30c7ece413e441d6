import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { LatencyHistogram } from '../results/latency-histogram.js';
import type { RunResult } from '../results/run-result.js';
import { runOpenModel } from '../scenarios/open-model-engine.js';
import { runMetrics } from '../scenarios/run-metrics.js';
import { answerOk, startTestHttpServer } from '../scenarios/test-support/test-http-server.js';
import { evaluateThresholds, parseThreshold } from '../scenarios/threshold.js';
import type { ChartSpec, HtmlReportDocument, ReportSection, TableCell, XyChartSpec } from './html-report.js';
import { runReportDocument } from './run-report.js';
import { measuredRun } from './test-support/measured-run.js';

const MB = 1024 * 1024;
const text = (cell: TableCell | undefined) => (typeof cell === 'object' ? cell.text : String(cell));
const ms = (n: number) => n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

function section(doc: HtmlReportDocument, heading: string): ReportSection {
  const found = doc.sections.find((s) => s.heading === heading);
  if (!found) throw new Error(`no section "${heading}" in ${doc.sections.map((s) => s.heading).join(', ')}`);
  return found;
}

function xyChart(s: ReportSection, title: string): XyChartSpec {
  const chart = s.charts?.find((c: ChartSpec) => c.title === title);
  if (!chart || chart.type === 'bar') throw new Error(`no x–y chart "${title}"`);
  return chart;
}

let result: RunResult;
let doc: HtmlReportDocument;

beforeAll(async () => {
  result = await measuredRun({ durationMs: 2_000, rateRps: 100 });
  doc = runReportDocument(result);
});

describe('runReportDocument on a measured run', () => {
  it('lists each step with its requests, errors and percentiles read from its HDR histogram', () => {
    const table = section(doc, 'Summary').tables![0]!;
    expect(table.columns).toEqual([
      'step',
      'requests',
      'errors',
      'error rate',
      'p50',
      'p90',
      'p95',
      'p99',
      'max',
    ]);
    expect(table.rows.map((r) => text(r[0]))).toEqual([
      'GET /health',
      'GET /missing',
      'all steps',
      'service time, all steps',
    ]);
    result.steps.forEach((step, i) => {
      const h = LatencyHistogram.decode(step.latencyHistogram);
      const row = table.rows[i]!;
      expect(row[1]).toBe(step.requests);
      expect(row[2]).toBe(Object.values(step.errors).reduce((a, b) => a + b, 0));
      expect(row.slice(4).map(text)).toEqual([50, 90, 95, 99, 100].map((p) => ms(h.percentileMs(p))));
    });
    expect(table.rows[2]![1]).toBe(result.steps[0]!.requests + result.steps[1]!.requests);
  });

  it('counts the failing step under its error class', () => {
    const failures = section(doc, 'Summary').tables!.find((t) => t.caption === 'Failures by class')!;
    expect(failures.rows).toEqual([['GET /missing', 'http_4xx', result.steps[1]!.errors.http_4xx]]);
    expect(result.steps[1]!.errors.http_4xx).toBe(result.steps[1]!.requests);
  });

  it("shows the schedule's accuracy as the engine measured it", () => {
    const s = result.schedule!;
    const table = section(doc, 'Summary').tables!.find((t) => t.caption?.startsWith('Schedule accuracy'))!;
    expect(table.rows[0]!.slice(0, 3)).toEqual([s.intended, s.sent, s.dropped]);
    expect(text(table.rows[0]![6])).toBe(`${ms(s.meanLagMs)} ms`);
  });

  it('says thresholds were not given when none are passed', () => {
    expect(section(doc, 'Summary').paragraphs!.some((p) => p.startsWith('Thresholds: not given'))).toBe(true);
    expect(section(doc, 'Summary').tables!.some((t) => t.caption === 'Thresholds')).toBe(false);
  });

  it('draws the per-second p95 and rates from the time series', () => {
    const over = section(doc, 'Over time');
    const p95 = xyChart(over, 'Latency over time: p95 of each second');
    expect(p95.series[0]!.points).toEqual(result.timeSeries.map((p) => ({ x: p.tSec, y: p.p95Ms })));
    const rates = xyChart(over, 'Requests and failures per second');
    const total = (i: number) => rates.series[i]!.points.reduce((a, p) => a + (p.y ?? 0), 0);
    expect(total(0)).toBe(result.timeSeries.reduce((a, p) => a + p.requests, 0));
    expect(total(1)).toBe(result.timeSeries.reduce((a, p) => a + p.errors, 0));
  });

  it('draws one rising percentile curve per step, up to the percentile its count supports', () => {
    const chart = xyChart(section(doc, 'Latency distribution'), 'Latency by percentile');
    expect(chart.x.scale).toBe('percentile');
    expect(chart.series.map((s) => s.label)).toEqual([
      'GET /health: latency',
      'GET /missing: latency',
      'all steps: service time',
    ]);
    const h = LatencyHistogram.decode(result.steps[0]!.latencyHistogram);
    const curve = chart.series[0]!.points;
    expect(curve[0]).toEqual({ x: 0, y: h.percentileMs(0) });
    expect(curve.at(-1)!.x).toBeCloseTo(100 * (1 - 1 / h.count), 9);
    for (let i = 1; i < curve.length; i++) expect(curve[i]!.y!).toBeGreaterThanOrEqual(curve[i - 1]!.y!);
  });

  it("draws the target's CPU, event loop and memory from every server sample", () => {
    const server = section(doc, 'Target resources');
    const samples = result.serverSamples as Array<Record<string, number | null>>;
    const cpu = xyChart(server, 'Target CPU and event-loop utilisation');
    expect(cpu.series[0]!.points).toEqual(samples.map((s) => ({ x: s.tSec, y: s.cpuPercent })));
    expect(cpu.series[1]!.points.map((p) => p.y)).toEqual(samples.map((s) => s.eventLoopUtilization! * 100));
    const memory = xyChart(server, 'Target memory');
    expect(memory.series[0]!.points.map((p) => p.y)).toEqual(samples.map((s) => s.heapUsedBytes! / MB));
    expect(memory.series[1]!.points.map((p) => p.y)).toEqual(samples.map((s) => s.rssBytes! / MB));
    // No workers and SQLite: the queues stay empty and there is no pool, so no charts of zeros.
    expect(server.charts).toHaveLength(2);
    expect(server.paragraphs).toContain('Queues: no job was waiting or running in any sample.');
  });

  it('draws the heap samples, the fitted line and the slope interval pivoting on the mean sample', () => {
    const t = result.heapTrend!;
    const heap = section(doc, 'Heap trend');
    expect(heap.paragraphs![0]).toContain(`over ${t.fitted} samples after a ${t.warmupS} s warm-up`);
    const chart = xyChart(heap, 'Heap after GC and its fitted trend');
    const fittedPoints = chart.series.find((s) => s.label === 'heap after GC')!.points;
    const after = t.samples.filter((s) => s.tSec >= t.warmupS);
    expect(fittedPoints).toEqual(after.map((s) => ({ x: s.tSec, y: s.heapUsedBytes / MB })));
    const line = chart.series.find((s) => s.label.startsWith('fitted'))!;
    for (const p of line.points) expect(p.y!).toBeCloseTo(t.interceptMb + (t.slopeMbPerHour * p.x) / 3600, 9);
    const low = chart.series.find((s) => s.label.startsWith('95 % interval, low'))!.points;
    const high = chart.series.find((s) => s.label.startsWith('95 % interval, high'))!.points;
    expect((low[1]!.y! - low[0]!.y!) / ((low[1]!.x - low[0]!.x) / 3600)).toBeCloseTo(t.slopeLowMbPerHour, 6);
    expect((high[1]!.y! - high[0]!.y!) / ((high[1]!.x - high[0]!.x) / 3600)).toBeCloseTo(
      t.slopeHighMbPerHour,
      6,
    );
  });

  it("lists the run's own figures with only the columns they fill", () => {
    expect(doc.sections.some((s) => s.heading === 'Scenario figures')).toBe(false);
    const t = result.heapTrend!;
    const h = LatencyHistogram.decode(result.steps[0]!.latencyHistogram);
    // As the memory-leak scenario records its slope, plus a histogram figure as the worker scenario's.
    const withFigures = runReportDocument({
      ...result,
      metrics: {
        heap_slope_mb_per_hour: {
          value: t.slopeMbPerHour,
          min: t.slopeLowMbPerHour,
          max: t.slopeHighMbPerHour,
        },
        queue_wait: { histogram: result.steps[0]!.latencyHistogram },
      },
    });
    const table = section(withFigures, 'Scenario figures').tables![0]!;
    expect(table.columns).toEqual(['figure', 'value', 'bounds', 'p50 ms', 'p95 ms', 'p99 ms']);
    expect(table.rows[0]!.slice(0, 3)).toEqual([
      'heap_slope_mb_per_hour',
      t.slopeMbPerHour,
      `${ms(t.slopeLowMbPerHour)} … ${ms(t.slopeHighMbPerHour)}`,
    ]);
    expect(table.rows[1]!.map(text)).toEqual([
      'queue_wait',
      '',
      '',
      ms(h.percentileMs(50)),
      ms(h.percentileMs(95)),
      ms(h.percentileMs(99)),
    ]);
  });

  it('gives every chart titled axes with units', () => {
    for (const s of doc.sections) {
      for (const c of s.charts ?? []) {
        expect(c.y.title && c.y.unit, c.title).toBeTruthy();
        if (c.type !== 'bar') expect(c.x.title && c.x.unit, c.title).toBeTruthy();
      }
    }
  });

  it('lists thresholds with their measured figures and verdicts when given', () => {
    const thresholds = evaluateThresholds(
      { latency: [parseThreshold('p(95)<60000')], errors: [parseThreshold('rate<0.01')] },
      runMetrics(result),
    );
    const table = section(runReportDocument(result, { thresholds }), 'Summary').tables!.find(
      (t) => t.caption === 'Thresholds',
    )!;
    expect(table.rows).toEqual([
      ['latency', 'p(95)<60000', thresholds[0]!.actual, { text: 'pass', tone: 'pass' }],
      ['errors', 'rate<0.01', 0.5, { text: 'FAIL', tone: 'fail' }],
    ]);
  });

  it('notes in the subtitle that the load generator and a loopback target shared the cores', () => {
    expect(doc.subtitle).toContain(
      `load generator and target ran on this host and shared its ${result.host.cores} cores`,
    );
    expect(doc.subtitle).toContain(result.host.cpuModel);
    const remote = runReportDocument({ ...result, target: 'http://10.1.2.3:8000/api/v1' });
    expect(remote.subtitle).toContain('target http://10.1.2.3:8000/api/v1 on another host');
    expect(remote.subtitle).not.toContain('shared');
  });
});

describe('runReportDocument on a run without samples', () => {
  it('says the target was not sampled and has no heap section', async () => {
    const target = await startTestHttpServer((_req, res) => answerOk(res));
    onTestFinished(() => target.close());
    const bare = await runOpenModel({ target: target.url, rateRps: 50, durationMs: 1_000 });
    const report = runReportDocument(bare);
    expect(report.sections.map((s) => s.heading)).toEqual([
      'Summary',
      'Over time',
      'Latency distribution',
      'Target resources',
    ]);
    expect(section(report, 'Target resources').paragraphs).toEqual([
      'No samples of the target: its /metrics was not read during this run.',
    ]);
    expect(section(report, 'Summary').tables![0]!.rows[0]![1]).toBe(50);
  });
});
