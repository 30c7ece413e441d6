import { LatencyHistogram } from '../results/latency-histogram.js';
import type { ProcessTreeSample } from '../results/process-tree-sample.js';
import type { RunResult } from '../results/run-result.js';
import type { ServerSample } from '../results/server-sample.js';
import type { Direction } from './comparison.js';

export const RUN_SUMMARY_KIND = 'headroom.run-summary';
export const RUN_SUMMARY_VERSION = 1;

/**
 * Which gate judges a figure: `latency` (relative, default 10 %), `throughput` (relative, 10 %),
 * `error-rate` (a difference in percentage points, 0.1 pp), `resource` (relative, 20 %), or
 * `info` (compared and reported, never failing the gate: too noisy in short trials, or
 * redundant with a gated figure).
 */
export type GateKind = 'latency' | 'throughput' | 'error-rate' | 'resource' | 'info';

/** One figure of a run, with the direction in which it gets better and the gate that judges it. */
export interface SummaryFigure {
  value: number;
  unit: 'ms' | 'ratio' | 'rps' | 'percent' | 'bytes' | 'count' | 'value';
  direction: Direction;
  gate: GateKind;
}

/** The leak test's outcome, when the run sampled the heap after GC (memory-leak scenario). */
export interface LeakSummary {
  leak: boolean;
  slopeMbPerHour: number;
  slopeLowMbPerHour: number;
  slopeHighMbPerHour: number;
  maxSlopeMbPerHour: number;
}

/**
 * The figures of one run that comparisons read, in plain numbers (versioned JSON): overall and
 * per-step latency percentiles, error rate, throughput, the target's resources and the
 * scenario's own figures. Names: `latency.p95`, `latency:login.p95`, `error_rate`,
 * `throughput_rps`, `server.cpu_ms_per_request`, `metric:queue_wait.p95`, `metric:pool_efficiency`.
 */
export interface RunSummary {
  kind: typeof RUN_SUMMARY_KIND;
  version: typeof RUN_SUMMARY_VERSION;
  scenario: { name: string; profile: 'quick' | 'full'; configHash: string };
  createdAt: string;
  durationMs: number;
  requests: number;
  errors: number;
  figures: Record<string, SummaryFigure>;
  leak?: LeakSummary;
}

/** Percentiles kept for every latency histogram, as figure-name suffix and percentile. */
export const LATENCY_PERCENTILES: ReadonlyArray<readonly [string, number]> = [
  ['p50', 50],
  ['p90', 90],
  ['p95', 95],
  ['p99', 99],
  ['p99.9', 99.9],
  ['max', 100],
];

/**
 * Scenario figures where more is better; every other scenario figure (waits, times, failure
 * rates) is better lower.
 */
const HIGHER_IS_BETTER_METRICS = new Set(['pool_efficiency']);

/** Summarises a run: the figures a comparison of trials reads. Pure: the same result, the same summary. */
export function summarizeRun(result: RunResult): RunSummary {
  const figures: Record<string, SummaryFigure> = {};
  const durationS = result.durationMs / 1000;
  const all = LatencyHistogram.create();
  let requests = 0;
  let errors = 0;
  for (const step of result.steps) {
    const h = LatencyHistogram.decode(step.latencyHistogram);
    all.merge(h);
    requests += step.requests;
    errors += Object.values(step.errors).reduce((a, b) => a + b, 0);
    // Each step is gated on its own: the overall percentiles of a flow mixing a 35 ms login with
    // a 1 ms read fall between the two and jump from trial to trial.
    addPercentiles(figures, `latency:${step.name}`, h, 'latency');
  }
  if (result.steps.length > 0) {
    addPercentiles(figures, 'latency', all, 'info');
    figures.error_rate = {
      value: requests ? errors / requests : 0,
      unit: 'ratio',
      direction: 'lower-is-better',
      gate: 'error-rate',
    };
    figures.throughput_rps = {
      value: durationS > 0 ? requests / durationS : 0,
      unit: 'rps',
      direction: 'higher-is-better',
      gate: 'throughput',
    };
  }
  addServerFigures(figures, result.serverSamples as unknown as ServerSample[], result.durationMs, requests);
  if (result.processSamples) addProcessFigures(figures, result.processSamples, requests);
  for (const [name, metric] of Object.entries(result.metrics ?? {})) {
    const direction: Direction = HIGHER_IS_BETTER_METRICS.has(name) ? 'higher-is-better' : 'lower-is-better';
    if (metric.histogram !== undefined) {
      const h = LatencyHistogram.decode(metric.histogram);
      if (h.count > 0) addPercentiles(figures, `metric:${name}`, h, 'info');
    } else if (metric.rate !== undefined) {
      figures[`metric:${name}`] = { value: metric.rate, unit: 'ratio', direction, gate: 'info' };
    } else if (metric.value !== undefined) {
      figures[`metric:${name}`] = { value: metric.value, unit: 'value', direction, gate: 'info' };
    }
  }
  const summary: RunSummary = {
    kind: RUN_SUMMARY_KIND,
    version: RUN_SUMMARY_VERSION,
    scenario: { ...result.scenario },
    createdAt: result.createdAt,
    durationMs: result.durationMs,
    requests,
    errors,
    figures,
  };
  if (result.heapTrend) {
    const t = result.heapTrend;
    summary.leak = {
      leak: t.leak,
      slopeMbPerHour: t.slopeMbPerHour,
      slopeLowMbPerHour: t.slopeLowMbPerHour,
      slopeHighMbPerHour: t.slopeHighMbPerHour,
      maxSlopeMbPerHour: t.maxSlopeMbPerHour,
    };
  }
  return summary;
}

function addPercentiles(
  figures: Record<string, SummaryFigure>,
  prefix: string,
  h: LatencyHistogram,
  gate: GateKind,
): void {
  if (h.count === 0) return;
  for (const [suffix, p] of LATENCY_PERCENTILES) {
    figures[`${prefix}.${suffix}`] = {
      value: h.percentileMs(p),
      unit: 'ms',
      direction: 'lower-is-better',
      // The tail's last values (p99.9, max) hang on a handful of requests in a short trial.
      gate: suffix === 'p99.9' || suffix === 'max' ? 'info' : gate,
    };
  }
  figures[`${prefix}.mean`] = { value: h.meanMs, unit: 'ms', direction: 'lower-is-better', gate: 'info' };
}

/**
 * The target's resources from its /metrics samples: mean CPU (% of one core), CPU milliseconds
 * per request (the figure that moves when code gets costlier at a fixed arrival rate), peak RSS,
 * peak heap and mean event-loop utilisation.
 */
function addServerFigures(
  figures: Record<string, SummaryFigure>,
  samples: ServerSample[],
  durationMs: number,
  requests: number,
): void {
  const values = (pick: (s: ServerSample) => number | null | undefined) =>
    samples.map(pick).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const cpu = values((s) => s.cpuPercent);
  if (cpu.length > 0) {
    const cpuPercent = mean(cpu);
    figures['server.cpu_percent_mean'] = {
      value: cpuPercent,
      unit: 'percent',
      direction: 'lower-is-better',
      gate: 'info',
    };
    if (requests > 0) {
      figures['server.cpu_ms_per_request'] = {
        value: ((cpuPercent / 100) * durationMs) / requests,
        unit: 'ms',
        direction: 'lower-is-better',
        gate: 'resource',
      };
    }
  }
  const rss = values((s) => s.rssBytes);
  // Reported, not gated: a side's trials run in one process whose RSS carries over from trial to
  // trial, so they are not independent samples of it (two processes of one build were seen here
  // 10 % apart for a whole comparison). Retained memory is the leak test's to judge.
  if (rss.length > 0)
    figures['server.rss_peak_bytes'] = {
      value: Math.max(...rss),
      unit: 'bytes',
      direction: 'lower-is-better',
      gate: 'info',
    };
  const heap = values((s) => s.heapUsedBytes);
  // Heap before GC mostly tracks when the collector last ran: reported, gated only by the leak test.
  if (heap.length > 0)
    figures['server.heap_peak_bytes'] = {
      value: Math.max(...heap),
      unit: 'bytes',
      direction: 'lower-is-better',
      gate: 'info',
    };
  const elu = values((s) => s.eventLoopUtilization);
  if (elu.length > 0)
    figures['server.event_loop_utilization_mean'] = {
      value: mean(elu),
      unit: 'ratio',
      direction: 'lower-is-better',
      gate: 'info',
    };
}

/**
 * The target's resources from its process tree (/proc, any language): CPU milliseconds per
 * request between the first and last reading, and peak resident memory of the tree. Both gated
 * as resources: a configured service is started fresh for the gate, and its trials alternate
 * with the other side's, so a steady rise of RSS shows on both sides alike.
 */
function addProcessFigures(
  figures: Record<string, SummaryFigure>,
  samples: ProcessTreeSample[],
  requests: number,
): void {
  if (samples.length < 2) return;
  const cpuSeconds = samples[samples.length - 1]!.cpuSeconds - samples[0]!.cpuSeconds;
  if (requests > 0 && cpuSeconds >= 0)
    figures['process.cpu_ms_per_request'] = {
      value: (cpuSeconds * 1000) / requests,
      unit: 'ms',
      direction: 'lower-is-better',
      gate: 'resource',
    };
  figures['process.rss_peak_bytes'] = {
    value: Math.max(...samples.map((s) => s.rssBytes)),
    unit: 'bytes',
    direction: 'lower-is-better',
    gate: 'resource',
  };
}
