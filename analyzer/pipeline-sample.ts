import type { HostDescription } from '../scenarios/host-description.js';

/**
 * What the pipeline sampler measures on a host, and what the capacity model reads. Written to
 * disk as versioned JSON (`headroom.pipeline-sample`, version 1), so a capacity report can be
 * recomputed from a saved sample without measuring again.
 */
export const PIPELINE_SAMPLE_KIND = 'headroom.pipeline-sample';
export const PIPELINE_SAMPLE_VERSION = 1;

/** The stages of a row's life; they run at the same time on different rows. */
export type StageName = 'ingest' | 'scrape' | 'ai' | 'write';

/** One steady-state window of one stage run on its own at a fixed concurrency. */
export interface StagePoint {
  /** Rows the stage may hold in flight (its worker slots), the N of the USL fit. */
  concurrency: number;
  /** Mean rows actually in flight over the window (Little's law: ≈ throughput × time per row). */
  meanInFlight: number;
  /** Rows the stage finished per second over the window. */
  throughputRps: number;
  /** Rows finished in the window. */
  items: number;
  windowS: number;
  /** Pipeline process CPU (user + system) per finished row, seconds. */
  cpuSecondsPerItem: number;
  /** CPU of co-located simulators per finished row (0 when sites and LLM are remote), seconds. */
  externalCpuSecondsPerItem: number;
  /** Peak resident memory of the pipeline process over the window. */
  rssBytes: number;
  /** Time a row waited on the outside world in this stage (site fetch, LLM call), ms; absent for ingest/write. */
  externalLatencyMs?: { p50: number; p95: number; mean: number };
  /**
   * Of `items`, rows that finished as failures (scrape: fetch failed; AI: the LLM call failed after
   * its retries, e.g. rate limited; ingest: rows rejected by validation).
   */
  failedItems?: number;
}

export interface StageMeasurement {
  stage: StageName;
  points: StagePoint[];
}

/** The whole pipeline at its configured concurrency, every stage at once: the combined regime. */
export interface CombinedWindow {
  concurrency: Record<StageName, number>;
  /** Rows completed (message or failure) per second in the steady window. */
  throughputRps: number;
  /** From the upload's start until the first row was complete (the pipeline's fill time). */
  fillS: number;
  windowS: number;
  cpuSecondsPerRow: number;
  externalCpuSecondsPerRow: number;
  rssBytes: number;
  /** Rows of the upload the window ran on (its ingest is part of `fillS`). */
  uploadRows?: number;
  /** Rows completed in the steady window. */
  items?: number;
  /** When the steady part began, seconds after the upload started. */
  steadyFromS?: number;
  /**
   * Every half second from the upload's start: rows finished so far and rows in flight in the
   * scrape and AI stages, to see the fill, the ramp and (when rows ran out) the drain.
   */
  timeline?: Array<{ tS: number; finished: number; scrapeActive: number; aiActive: number }>;
}

/** Settings of the simulated world the sample was taken in (what the user modelled). */
export interface SampledWorld {
  /** Sites and LLM simulated on this host: their CPU competes with the pipeline's. */
  colocatedSimulators: boolean;
  siteLatencyMedianMs?: number;
  siteLatencySigma?: number;
  pageBytes?: number;
  faultRate?: number;
  llmTtftMs?: number;
  llmTokensPerSecond?: number;
  llmTokensPerMessage?: number;
  /** Provider rate limits enforced by the LLM simulator (requests and tokens per minute). */
  llmRpm?: number;
  llmTpm?: number;
}

export interface PipelineSample {
  kind: typeof PIPELINE_SAMPLE_KIND;
  version: typeof PIPELINE_SAMPLE_VERSION;
  /** ISO 8601, UTC. */
  createdAt: string;
  host: HostDescription;
  world: SampledWorld;
  /** Resident memory of an idle pipeline process (after start, before work). */
  baseRssBytes: number;
  stages: StageMeasurement[];
  combined?: CombinedWindow;
  /** Wall time the sampling took. */
  durationMs: number;
  /**
   * The host's one-minute load average when sampling began and ended: other work on the cores
   * (above the core count) makes every figure of the sample pessimistic.
   */
  hostLoad?: { loadAverage1mStart: number; loadAverage1mEnd: number };
}
