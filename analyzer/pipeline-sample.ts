import { DEFAULT_SCRAPER_OPTIONS } from '../pipeline/scraper/scraper.js';
import type { HostDescription } from '../results/host-description.js';

/**
 * What the pipeline sampler measures on a host, and what the capacity model reads. Written to
 * disk as versioned JSON (`headroom.pipeline-sample`, version 2), so a capacity report can be
 * recomputed from a saved sample without measuring again.
 *
 * Version 2 adds what version 1 lacked for a forecast on any world: the configured concurrency
 * (`configured`) and the tokens a message really costs (`tokens` on AI points and on the combined
 * window, from the LLM's `usage`). Version 1 files are still read: every addition is optional, and
 * the model says in a note what it assumed in their place.
 */
export const PIPELINE_SAMPLE_KIND = 'headroom.pipeline-sample';
export const PIPELINE_SAMPLE_VERSION = 2;
/** Versions this headroom reads. */
export const PIPELINE_SAMPLE_VERSIONS_READ: readonly number[] = [1, 2];

/** Tokens one message cost, from the LLM's `usage`: the provider charges both against tokens/min. */
export interface TokensPerMessage {
  prompt: number;
  completion: number;
  /** Messages the means are over. */
  messages: number;
}

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
  /** AI stage: mean tokens per message in the window (from the LLM's usage). */
  tokens?: TokensPerMessage;
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
  /** Mean tokens per message in the steady window (from the LLM's usage). */
  tokens?: TokensPerMessage;
  /** The window's end, pinned to one core; absent when not asked for (or on a one-core host). */
  oneCore?: OneCoreWindow;
}

/**
 * The end of the combined window with the pipeline and the simulators pinned to one core (what a
 * run under `taskset -c 0` gets): its rate and CPU per row, or why it was not measured.
 */
export type OneCoreWindow =
  | {
      /** The core pinned to. */
      core: number;
      /** From the pin until the steady part began: the rows in flight turning over. */
      settleS: number;
      windowS: number;
      /** Rows finished between the part's two ends. */
      items: number;
      /** The least-squares slope of rows finished over the part's polls (rows finish in bursts). */
      throughputRps: number;
      /** CPU per row at that rate: the CPU's rate over the part ÷ `throughputRps`. */
      cpuSecondsPerRow: number;
      externalCpuSecondsPerRow: number;
      /**
       * Rows the scrape and AI stages finished per second over the part (least-squares slopes, as
       * `throughputRps`). Right after the pin they do not move in step: a backlog built on two cores
       * drains, or builds, so rows finished misstate the work done; the model weighs each stage's
       * rate by its CPU per row instead. Absent in samples taken before.
       */
      stageRps?: { scrape: number; ai: number };
      /** Share of the upload's scraped rows that went on to the AI stage (the rest failed scraping). */
      aiShare?: number;
    }
  | { skipped: string };

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
  /**
   * false: the sample ran without `llmRpm`/`llmTpm` enforced (the model applies them); absent in
   * samples taken before, whose windows ran under them.
   */
  llmLimitsInSample?: boolean;
}

export interface PipelineSample {
  kind: typeof PIPELINE_SAMPLE_KIND;
  /** 2 when written now; 1 for files written before (read, with the model's assumptions noted). */
  version: 1 | 2;
  /** ISO 8601, UTC. */
  createdAt: string;
  host: HostDescription;
  world: SampledWorld;
  /** Resident memory of an idle pipeline process (after start, before work). */
  baseRssBytes: number;
  stages: StageMeasurement[];
  /**
   * Rows in flight per stage in the configured pipeline: the forecast evaluates each stage here,
   * whatever levels were measured (version 1: read from the combined window, if any).
   */
  configured?: Record<StageName, number>;
  combined?: CombinedWindow;
  /** Wall time the sampling took. */
  durationMs: number;
  /**
   * The host's one-minute load average when sampling began and ended: other work on the cores
   * (above the core count) makes every figure of the sample pessimistic.
   */
  hostLoad?: { loadAverage1mStart: number; loadAverage1mEnd: number };
}

/**
 * A row whose site hangs (the "timeout" and "slow body" faults, two of the five kinds the fault rate
 * is spread over) holds its scrape slot until the scraper's timeout, then is retried: its time is
 * the timeout, the retry delay and one more fetch. The slow body trickles bytes, so only the total
 * timeout ends it. Null without faults.
 */
export function heldRowSeconds(
  world: SampledWorld,
): { seconds: number; share: number; source: string } | null {
  const rate = world.faultRate ?? 0;
  if (!(rate > 0)) return null;
  const o = DEFAULT_SCRAPER_OPTIONS;
  const retryS = o.retryBaseDelayMs / 1000 + (world.siteLatencyMedianMs ?? 300) / 1000;
  const seconds = o.totalTimeoutMs / 1000 + retryS;
  return {
    seconds,
    share: (rate * 2) / 5,
    source: `a slow body is cut at the scraper's total timeout ${fmtN(o.totalTimeoutMs / 1000)} s, then retried (${fmtN(retryS, 2)} s) = ${fmtN(seconds, 2)} s (default scraper timeouts)`,
  };
}

const fmtN = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
