import { writeFileAtomic } from '../atomic-file.js';
import { compileSchema } from '../json-schema.js';
import { explainSchemaErrors } from '../schema-error.js';
import schema from './capacity-report.schema.v1.json' with { type: 'json' };
import type { StageName } from './pipeline-sample.js';
import type { UslFit } from './usl-fit.js';

export const CAPACITY_REPORT_KIND = 'headroom.capacity-report';
export const CAPACITY_REPORT_VERSION = 1;

/** A figure and where it came from (a measurement, a declared field, or an assumption), so a report can trace it. */
export interface Traced {
  value: number;
  source: string;
}

/**
 * Why throughput is what it is. latency-bound: rows wait on sites and the LLM, so rows/s ≈ rows in
 * flight ÷ seconds per row (Little's law). cpu-bound: the cores are full. contention-bound: a stage's
 * own throughput has flattened with concurrency (its USL curve). provider-limit: the LLM's rpm/tpm.
 * declared-rate: a stage declared as a fixed rate, whose cause the figures do not show.
 */
export type Regime = 'latency-bound' | 'cpu-bound' | 'contention-bound' | 'provider-limit' | 'declared-rate';

/** One ceiling on the pipeline's rate; the lowest one is the bottleneck. */
export interface CapacityBound {
  /** `slots`: worker slots shared by every stage (a row holds one for the sum of the stages' latencies). */
  kind: 'stage' | 'slots' | 'cpu' | 'process' | 'llm-rpm' | 'llm-tpm';
  stage?: StageName;
  rateRps: number;
  regime: Regime;
  source: string;
  /** The arithmetic behind the figure, in words. */
  explanation: string;
}

export interface Bottleneck extends CapacityBound {
  advice: string;
}

/** One measured (or declared) window of a stage. */
export interface CapacityStagePoint {
  concurrency: number;
  throughputRps: number;
  meanInFlight?: number;
  cpuSecondsPerItem?: number;
  rssBytes?: number;
}

export interface CapacityStage {
  stage: StageName;
  points: CapacityStagePoint[];
  /** USL fit of throughput against concurrency (per process); null when the stage was declared as a rate. */
  fit: UslFit | null;
  /** Configured rows in flight per process, and pipeline processes. */
  concurrency: number;
  /** Concurrency levels measured (measured mode), and whether the configured one lies outside them. */
  measuredConcurrency?: { min: number; max: number; outside: boolean };
  processes: number;
  /** Rows/s the stage can finish at its configured concurrency on all processes. */
  capacityRps: Traced;
  /** Seconds a row spends in the stage (Little's law: mean in flight ÷ throughput). */
  secondsPerRow: Traced | null;
  cpuSecondsPerRow: Traced | null;
  /** CPU of co-located simulators per row of this stage. */
  externalCpuSecondsPerRow: Traced | null;
  externalLatencyMs: { p50: number; p95: number; mean: number } | null;
  /** Extra resident memory per row in flight in this stage (slope of RSS on rows in flight). */
  memoryPerInFlightBytes: Traced | null;
  /** Throughput at the configured concurrency ÷ λN: 1 when it scales linearly, low when it has flattened. */
  efficiency: number | null;
  regime: 'latency-bound' | 'contention-bound' | 'declared-rate';
  /** R ÷ capacity: how long this stage alone would take. The stages overlap, so these do not add up. */
  timeForRowsS: number;
}

/** What a host can do: at the configured concurrency, and at most (concurrency and processes raised). */
export interface HostCapacity {
  name: string;
  cpuModel?: string;
  cores: number;
  memoryBytes: number;
  /** Memory held by other services, not usable by the pipeline. */
  reservedMemoryBytes: number;
  processes: number;
  /** Every bound at the configured concurrency, lowest first. */
  bounds: CapacityBound[];
  rateRps: number;
  rateSource: string;
  bottleneck: Bottleneck;
  hoursForRows: number;
  /** Share of the cores busy at `rateRps` (pipeline, plus co-located simulators). */
  cpuUtilisation: number | null;
  cpuCoresFree: number | null;
  memoryUsedBytes: number | null;
  memoryFreeBytes: number | null;
  memorySource: string;
  /** The most this host can do with concurrency raised as needed and one pipeline process per core. */
  max: {
    rateRps: number | null;
    limitedBy: string;
    processes: number;
    hoursForRows: number | null;
  };
}

export interface TargetStage {
  stage: StageName;
  secondsPerRow: number | null;
  /** Little's law: rate × seconds per row. */
  concurrencyLittle: number | null;
  /** The concurrency per process at which the stage's fitted USL curve reaches the rate (×processes); null when it never does. */
  concurrencyUsl: number | null;
  source: string;
}

/** The answer to "what does it take to do `rateRps`?" on a host. */
export interface TargetAnswer {
  rateRps: number;
  host: string;
  stages: TargetStage[];
  /** With worker slots shared by every stage: rate × the sum of the stages' seconds per row. */
  sharedSlots: number | null;
  cpuCoresNeeded: number | null;
  processesByCpu: number | null;
  ramBytes: number | null;
  ramSource: string;
  llm: {
    rpmNeeded: number;
    tpmNeeded: number | null;
    rpmLimit: number | null;
    tpmLimit: number | null;
    /** Whether the configured provider limits allow the rate; null when no limit is known. */
    sufficient: boolean | null;
  };
  fits: { cores: boolean | null; memory: boolean | null };
  notes: string[];
}

/** The capacity report: versioned JSON, rendered to Markdown and HTML. */
export interface CapacityReport {
  kind: typeof CAPACITY_REPORT_KIND;
  version: typeof CAPACITY_REPORT_VERSION;
  /** ISO 8601, UTC. */
  createdAt: string;
  mode: 'measured' | 'declared' | 'observed';
  inputs: {
    rows: number;
    targetRateRps: number | null;
    /** Sample or declared file the figures came from. */
    source: string;
    colocatedSimulators: boolean;
    usableCpuUtilisation: Traced;
    coresPerProcess: Traced | null;
    usableMemoryFraction: number;
    baseRssBytes: Traced | null;
    cpuSecondsPerRow: Traced | null;
    externalCpuSecondsPerRow: Traced | null;
    /** CPU per row pinned to one core, charged on a one-core host (measured mode on two cores or more). */
    oneCore?: {
      cpuSecondsPerRow: Traced;
      externalCpuSecondsPerRow: Traced | null;
      throughputRps: number;
      /** Share of the core the pinned part used; null when `--usable-cpu` was given. */
      usableCpuUtilisation?: Traced | null;
    } | null;
    /** `tokensPerMessage`: prompt + completion, what one message costs against tokens/min. */
    llm: {
      rpm: number | null;
      tpm: number | null;
      tokensPerMessage: number | null;
      promptTokensPerMessage?: number | null;
      source: string;
    };
    /** The combined window (all stages at once), when measured. */
    combined: { throughputRps: number; cpuSecondsPerRow: number; fillS: number; rssBytes: number } | null;
  };
  stages: CapacityStage[];
  /**
   * Observed mode with --eta: when the rows queued now will be through (rows left ÷ the rows' rate),
   * with the 90 % interval from the rate's (null where the rate's interval reaches 0: unbounded).
   */
  eta?: {
    rowsLeft: number;
    rateRps: number;
    remainingS: number;
    lowS: number | null;
    highS: number | null;
    source: string;
  };
  /** The time R rows take on the sampled (or declared) host at the configured concurrency. */
  forecast: {
    rows: number;
    /**
     * The average rate over the R rows: R ÷ the time they flow. Under a per-minute LLM limit that is
     * above the limit's sustained rate (the first minute's rows pass at the pipeline's own rate);
     * `bottleneck.rateRps` is the sustained one.
     */
    rateRps: number;
    rateSource: string;
    bottleneck: Bottleneck;
    /** Time until the first row was through every stage. */
    fillS: Traced;
    /** What the fill and the drain add to R ÷ rate (the part of the fill not already inside it). */
    fillAndDrainS: Traced;
    totalS: number;
    /**
     * How sure the forecast is: total seconds at the low and high ends of the measured rate's
     * interval (`level`, e.g. 0.9); null when nothing was measured to resample (declared mode).
     */
    interval?: { lowS: number; highS: number; level: number; source: string } | null;
    hours: number;
    /** What adding the stage times up would claim: wrong, because stages run at the same time. */
    sumOfStageTimesS: number;
  };
  host: HostCapacity;
  /** The same pipeline on the host profile given, when one was. */
  projection: HostCapacity | null;
  target: TargetAnswer | null;
  notes: string[];
}

const validate = compileSchema<CapacityReport>(schema, { allowUnionTypes: true });

/**
 * Checks a report against its schema (capacity-report.schema.v1.json); returns one line per
 * problem, naming the field. A report the model built that fails here is a bug, not bad input.
 */
export function capacityReportProblems(data: unknown): string[] {
  return validate(data) ? [] : explainSchemaErrors(validate.errors!);
}

/** Writes a report atomically (temporary file in the same folder, then rename), after checking it. */
export async function writeCapacityReport(file: string, report: CapacityReport): Promise<void> {
  // Through JSON first: what is checked is what will be read back (no undefined, no Infinity).
  const problems = capacityReportProblems(JSON.parse(JSON.stringify(report)));
  if (problems.length)
    throw new Error(`the capacity report does not match its schema:\n  ${problems.join('\n  ')}`);
  await writeFileAtomic(file, `${JSON.stringify(report, null, 2)}\n`);
}
