import { ResultInvalidError } from '../errors.js';
import { VersionedFile } from '../versioned-json.js';
import { configHash } from './config-hash.js';
import type { HeapTrend } from './heap-trend.js';
import { describeHost, type HostDescription } from './host-description.js';
import { LatencyHistogram } from './latency-histogram.js';
import type { ProcessTreeSample } from './process-tree-sample.js';
import schema from './run-result.schema.v1.json' with { type: 'json' };

export const RUN_RESULT_KIND = 'headroom.run-result';
export const RUN_RESULT_VERSION = 1;

/** The program that produced the requests of a run. */
export type RunEngine =
  | 'open-model'
  | 'closed-model'
  | 'autocannon'
  | 'k6'
  | 'artillery'
  | 'locust'
  | 'wrk'
  | 'pipeline-sampler';

/** One step of the flow: its requests, failures by class and latency histograms (µs, encoded). */
export interface RunStep {
  name: string;
  /** Requests sent. */
  requests: number;
  /** Failures by class (`http_5xx`, `timeout`, …); see ErrorClass. */
  errors: Record<string, number>;
  /** Latency from the intended send time (coordinated omission corrected); HDR, compressed base64. */
  latencyHistogram: string;
  /** Service time from the actual send time; HDR, compressed base64. */
  serviceHistogram: string;
}

/** One second of a run (requests and errors counted when they finished). */
export interface TimeSeriesPoint {
  tSec: number;
  requests: number;
  errors: number;
  /** p95 latency of the responses that finished in this second, or null when none did. */
  p95Ms: number | null;
  /** Iterations in flight at the end of the second. */
  inFlight: number;
}

/** How closely an open-model run kept to its arrival schedule. */
export interface ScheduleAccuracy {
  /** Arrivals whose intended time came before the run stopped. */
  intended: number;
  /** Arrivals that started an iteration. */
  sent: number;
  /** Arrivals not started because `maxInFlight` iterations were already running. */
  dropped: number;
  /** Mean and largest delay of a request's actual send after its intended send. */
  meanLagMs: number;
  maxLagMs: number;
  requestedRps: number;
  achievedRps: number;
  /** |achievedRps − requestedRps| / requestedRps. */
  scheduleError: number;
}

/**
 * A scenario-specific figure (queue wait, pool efficiency, …): a histogram (µs, encoded like the
 * steps'), a count and rate, or a single value.
 */
export interface RunMetric {
  histogram?: string;
  count?: number;
  rate?: number;
  value?: number;
  /** Bounds of a fitted value (e.g. the 95 % interval of a slope), read by `min<…`/`max<…` thresholds. */
  min?: number;
  max?: number;
}

/** The versioned result of one run, as written to disk. */
export interface RunResult {
  kind: typeof RUN_RESULT_KIND;
  version: typeof RUN_RESULT_VERSION;
  /** ISO 8601, UTC. */
  createdAt: string;
  host: HostDescription;
  scenario: { name: string; profile: 'quick' | 'full'; configHash: string };
  target: string;
  engine: RunEngine;
  durationMs: number;
  steps: RunStep[];
  timeSeries: TimeSeriesPoint[];
  /** Present for open-model runs. */
  schedule?: ScheduleAccuracy;
  /** Samples of the target's /metrics; empty until a sampler fills it. */
  serverSamples: Record<string, unknown>[];
  /** Readings of the target's process tree from /proc, when the runner knows its root pid. */
  processSamples?: ProcessTreeSample[];
  /** Figures a scenario measures beyond its steps, by name. */
  metrics?: Record<string, RunMetric>;
  /** Heap after GC over time and its fitted trend (memory-leak scenario). */
  heapTrend?: HeapTrend;
}

/**
 * The fields every result starts with: kind, version, time, host, and the scenario with the hash
 * of the settings that shaped the load (`config`), so runs of different settings never compare.
 */
export function resultHeader(
  scenario: { name: string; profile: 'quick' | 'full' },
  config: unknown,
): Pick<RunResult, 'kind' | 'version' | 'createdAt' | 'host' | 'scenario'> {
  return {
    kind: RUN_RESULT_KIND,
    version: RUN_RESULT_VERSION,
    createdAt: new Date().toISOString(),
    host: describeHost(),
    scenario: { name: scenario.name, profile: scenario.profile, configHash: configHash(config) },
  };
}

/** Encoded histograms the schema sees only as strings: each must decode. */
function histogramProblems(data: RunResult): string[] {
  const problems: string[] = [];
  const checkHistogram = (text: string, at: string) => {
    try {
      LatencyHistogram.decode(text);
    } catch (err) {
      problems.push(`${at}: not an encoded histogram (${(err as Error).message})`);
    }
  };
  data.steps.forEach((step, i) => {
    checkHistogram(step.latencyHistogram, `/steps/${i}/latencyHistogram`);
    checkHistogram(step.serviceHistogram, `/steps/${i}/serviceHistogram`);
  });
  for (const [name, metric] of Object.entries(data.metrics ?? {})) {
    if (metric.histogram !== undefined) checkHistogram(metric.histogram, `/metrics/${name}/histogram`);
  }
  return problems;
}

const runResultFile = new VersionedFile<RunResult>({
  kind: RUN_RESULT_KIND,
  version: RUN_RESULT_VERSION,
  noun: 'run result',
  schema,
  invalid: (file, problems, options) => new ResultInvalidError(file, problems, options),
  moreProblems: histogramProblems,
});

/** Reads a result file's text; a file of another kind, a newer version or bad content → ResultInvalidError naming `file`. */
export const readRunResult = (text: string, file: string): RunResult => runResultFile.parse(text, file);
/** Reads a result file; one that cannot be read is a ResultInvalidError naming it, like a bad one. */
export const readRunResultFile = (file: string): Promise<RunResult> => runResultFile.read(file);
/** Validates a result (e.g. before writing it); throws a ResultInvalidError naming `file`. */
export const checkRunResult = (data: unknown, file: string): RunResult => runResultFile.check(data, file);
/** Writes a result atomically (temporary file in the same folder, then rename), after validating it. */
export const writeRunResult = (file: string, result: RunResult): Promise<void> =>
  runResultFile.write(file, result);
