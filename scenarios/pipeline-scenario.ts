import type { PipelineSample } from '../analyzer/pipeline-sample.js';
import { UsageInvalidError } from '../errors.js';
import type { PipelineConfigInput } from '../pipeline/pipeline-config.js';
import type { SimulatorsOptions } from '../pipeline/sim/simulator-process.js';
import { type RunMetric, type RunResult, resultHeader } from '../results/run-result.js';
import type { ThresholdOutcome } from '../results/threshold-outcome.js';
import type { Scenario } from './load-scenario.js';
import { type SamplerProgress, samplePipeline } from './pipeline-sampler.js';
import { runMetrics } from './run-metrics.js';
import { evaluateThresholds } from './threshold.js';

export interface PipelineScenarioOptions {
  /** A pipeline scenario measures the reference pipeline on this host; a target is refused. */
  target?: string;
  simulators?: SimulatorsOptions;
  pipeline?: PipelineConfigInput;
  signal?: AbortSignal;
  onSample?: (progress: SamplerProgress) => void;
}

/** A pipeline scenario's run: the usual result and verdict, and the sample the capacity model reads. */
export interface PipelineScenarioRun {
  result: RunResult;
  thresholds: ThresholdOutcome[];
  passed: boolean;
  sample: PipelineSample;
}

/**
 * Runs a `pipeline` scenario: samples the reference pipeline with its profile's sampler settings,
 * turns the sample into a run result (per-stage figures as metrics, which thresholds can read), and
 * checks the thresholds.
 */
export async function runPipelineScenario(
  scenario: Scenario,
  opts: PipelineScenarioOptions = {},
): Promise<PipelineScenarioRun> {
  if (opts.target)
    throw new UsageInvalidError(
      'the pipeline scenario samples the reference pipeline on this host with its simulators: leave out --target',
    );
  const settings = scenario.sampler;
  if (!settings)
    throw new UsageInvalidError(`${scenario.file}: the ${scenario.profile} profile has no sampler`);
  const sample = await samplePipeline({
    simulators: opts.simulators,
    pipeline: opts.pipeline,
    sampleSeconds: settings.sampleSeconds,
    windowS: settings.windowS,
    combinedWindowS: settings.combinedWindowS,
    combined: settings.combined,
    levels: settings.levels,
    signal: opts.signal,
    onProgress: opts.onSample,
  });
  const result: RunResult = {
    ...resultHeader(scenario, {
      sampler: settings,
      simulators: opts.simulators ?? {},
      pipeline: opts.pipeline ?? {},
    }),
    target: 'reference pipeline (embedded, sampled stage by stage)',
    engine: 'pipeline-sampler',
    durationMs: sample.durationMs,
    steps: [],
    timeSeries: [],
    serverSamples: [],
    metrics: sampleMetrics(sample),
  };
  const thresholds = evaluateThresholds(scenario.thresholds, runMetrics(result));
  return { result, thresholds, passed: thresholds.every((t) => t.passed), sample };
}

/**
 * The sample's figures as run metrics, one per stage, level and figure:
 * `pipeline_<stage>_n<concurrency>_rps` (also `_in_flight`, `_cpu_us_per_row`,
 * `_sim_cpu_us_per_row`, `_latency_ms` for the mean external latency), and `pipeline_combined_rps`,
 * `_fill_s`, `_cpu_us_per_row`, `_sim_cpu_us_per_row`.
 */
export function sampleMetrics(sample: PipelineSample): Record<string, RunMetric> {
  const metrics: Record<string, RunMetric> = {};
  for (const { stage, points } of sample.stages) {
    for (const p of points) {
      const at = `pipeline_${stage}_n${p.concurrency}`;
      metrics[`${at}_rps`] = { value: p.throughputRps, count: p.items, rate: p.throughputRps };
      metrics[`${at}_in_flight`] = { value: p.meanInFlight };
      metrics[`${at}_cpu_us_per_row`] = { value: p.cpuSecondsPerItem * 1e6 };
      metrics[`${at}_sim_cpu_us_per_row`] = { value: p.externalCpuSecondsPerItem * 1e6 };
      if (p.externalLatencyMs) metrics[`${at}_latency_ms`] = { value: p.externalLatencyMs.mean };
    }
  }
  const c = sample.combined;
  if (c) {
    metrics.pipeline_combined_rps = { value: c.throughputRps, rate: c.throughputRps };
    metrics.pipeline_combined_fill_s = { value: c.fillS };
    metrics.pipeline_combined_cpu_us_per_row = { value: c.cpuSecondsPerRow * 1e6 };
    metrics.pipeline_combined_sim_cpu_us_per_row = { value: c.externalCpuSecondsPerRow * 1e6 };
  }
  return metrics;
}
