import { setMaxListeners } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep, setImmediate as yieldToLoop } from 'node:timers/promises';
import { request } from 'undici';
import { fitLinearTrend } from '../analyzer/linear-trend.js';
import type {
  CombinedWindow,
  PipelineSample,
  SampledWorld,
  StageMeasurement,
  StageName,
  StagePoint,
  TokensPerMessage,
} from '../analyzer/pipeline-sample.js';
import {
  heldRowSeconds,
  PIPELINE_SAMPLE_KIND,
  PIPELINE_SAMPLE_VERSION,
} from '../analyzer/pipeline-sample.js';
import { ConfigInvalidError } from '../errors.js';
import { ApiClient } from '../pipeline/api/api-client.js';
import { generateCsv } from '../pipeline/ingest/csv-generator.js';
import { type RunningPipeline, startPipeline } from '../pipeline/pipeline.js';
import { type PipelineConfigInput, parsePipelineConfig } from '../pipeline/pipeline-config.js';
import type { QueueName } from '../pipeline/queue/queue-engine.js';
import { extractPage } from '../pipeline/scraper/page-extractor.js';
import type { ScrapeResult } from '../pipeline/scraper/scrape-result.js';
import {
  type RunningSimulators,
  type SimulatorsOptions,
  spawnSimulators,
} from '../pipeline/sim/simulator-process.js';
import type { WebsiteJob } from '../pipeline/store/store.js';
import { WriteBatcher } from '../pipeline/write-batcher.js';
import { describeHost } from '../results/host-description.js';
import { pinToOneCore } from './cpu-affinity.js';

/** Concurrency levels to sample, per stage; a stage left out gets geometric defaults. */
export type SamplerLevels = Partial<Record<StageName, number[]>>;

export interface PipelineSamplerOptions {
  /** The simulated world (site latency, page size, faults, LLM speed and rate limits). */
  simulators?: SimulatorsOptions;
  /**
   * Overrides of the pipeline configuration. Its concurrency per queue is the "configured default":
   * the levels reach beyond it, and the combined window runs at it.
   */
  pipeline?: PipelineConfigInput;
  /** Upper bound of the whole sampling, seconds; default 90, at most 120. */
  sampleSeconds?: number;
  /**
   * Steady part of each scrape and AI window (after the slots have opened and a short ramp-up), and
   * the length of each write window; default: the budget shared out.
   */
  windowS?: number;
  /**
   * Steady part of the combined window, after twice its fill; default 15 s (a sixth of shorter
   * budgets), and at least 3 × (scrape + AI time per row).
   */
  combinedWindowS?: number;
  levels?: SamplerLevels;
  /** Stages to sample; default all four. */
  stages?: StageName[];
  /** Run the combined window (every stage at once); default true. */
  combined?: boolean;
  /**
   * End the combined window with a part pinned to one core (the pipeline and the simulators, as
   * `taskset -c 0` pins a run): a row's CPU on one core, for projections onto one. Default true
   * on a host with two cores or more.
   */
  oneCore?: boolean;
  signal?: AbortSignal;
  onProgress?: (progress: SamplerProgress) => void;
}

/** What the sampler is doing now, for a live display. */
export interface SamplerProgress {
  elapsedMs: number;
  budgetMs: number;
  /** 1-based index of the window under way, of `windows`. */
  window: number;
  windows: number;
  stage: StageName | 'combined';
  concurrency: number;
  /** Set when the window has finished. */
  point?: StagePoint;
  combined?: CombinedWindow;
}

export const DEFAULT_SAMPLE_SECONDS = 90;
export const MAX_SAMPLE_SECONDS = 120;
const STAGES: readonly StageName[] = ['ingest', 'write', 'scrape', 'ai'];

/** How often a window reads queue depth, CPU and memory: fine enough for a mean over a few seconds. */
const TICK_MS = 50;
/** The scraper's excerpt length, so the sample pages given to the AI stage are what scraping yields. */
const EXCERPT_CHARS = 500;
/** Pages fetched once from the site farm and reused as the scraped input of the AI and write stages. */
const SAMPLE_PAGES = 16;
/** Rows ingested per ingest level: ~0.5 s at the measured 65,000 rows/s, enough for a steady rate. */
const INGEST_ROWS_PER_LEVEL = 40_000;
/** No stage on this kind of host finishes more rows per second than this: bounds the rows queued. */
const MAX_EXPECTED_RPS = 6_000;
/** Each write window: the write stage is fast, a second and a half of rows is plenty. */
const WRITE_WINDOW_S = 1.5;
/** Spacing of the combined window's timeline. */
const TIMELINE_STEP_MS = 500;
/**
 * After the stagger the new slots' start times are spread over a time per row, so the flow is
 * nearly steady; a quarter of a time per row more lets the first of them turn over.
 */
const RAMP_AFTER_STAGGER = 0.25;
/** Steps in which a level's new slots open, spread over one time per row. */
const RAMP_STEPS = 10;
/** Time a row spends in the write stage at low concurrency (two batch waits): sizes its rows. */
const WRITE_ROW_S = 0.05;
/** Spare budget may lengthen a planned window up to this factor (longer windows, steadier figures). */
const MAX_WINDOW_STRETCH = 2;
/** Share of the budget the windows are planned into; the rest absorbs late teardowns. */
const BUDGET_PLANNED = 0.94;
/** Below half its planned length a steady window is dropped rather than measured. */
const MIN_WINDOW_SCALE = 0.5;
/** The shortest window an option may ask for, and the least the combined window needs. */
const MIN_WINDOW_S = 1;
const SAMPLER_USER = { email: 'sampler@headroom.test', password: 'headroom-sampler-password' };

/**
 * Measures the reference pipeline on this host with the bundled simulators: each stage on its own
 * at several concurrencies (steady windows, ramp-up excluded), then every stage at once at the
 * configured concurrency. The result feeds the capacity model. The simulators run in a child
 * process on the same host, so their CPU is measured apart but competes with the pipeline's.
 */
export async function samplePipeline(opts: PipelineSamplerOptions = {}): Promise<PipelineSample> {
  const startedMs = Date.now();
  const loadAverage1mStart = os.loadavg()[0]!;
  const plan = planSampling(opts);
  const budgetMs = plan.sampleSeconds * 1000;
  // Windows are planned to end a little early: teardowns on a busy host run long.
  const deadlineMs = startedMs + budgetMs * BUDGET_PLANNED;
  // The provider's per-minute limits are the model's to apply, not the sample's to meet: a window
  // of seconds cannot show a per-minute limit, and windows back to back each start inside the
  // minute the one before used up, so a combined window after the AI levels ran at whatever budget
  // they had left (a 58 rows/s window of a 125 rows/s pipeline, bench:capacity w2). The sample
  // measures the pipeline without them; its world keeps them for the model.
  const sims = await spawnSimulators(withoutEnforcedLimits(opts.simulators));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-sampler-')).catch(async (err: unknown) => {
    await sims.close();
    throw err;
  });
  let dbCount = 0;
  const nextStore = () => `sqlite:${path.join(dir, `sample-${++dbCount}.db`)}`;
  let windowIndex = 0;
  const progress = (p: Omit<SamplerProgress, 'elapsedMs' | 'budgetMs' | 'window' | 'windows'>) =>
    opts.onProgress?.({
      elapsedMs: Date.now() - startedMs,
      budgetMs,
      window: windowIndex,
      windows: plan.windowCount,
      ...p,
    });
  try {
    const pages = await samplePages(sims);
    const world = describeWorld(opts.simulators);
    const ctx: WindowContext = {
      sims,
      world,
      pages,
      pipeline: opts.pipeline ?? {},
      nextStore,
      signal: opts.signal,
    };
    const baseRssBytes = process.memoryUsage.rss();
    const stages: StageMeasurement[] = [];

    const onWindow = (stage: StageName, concurrency: number) => {
      windowIndex++;
      progress({ stage, concurrency });
    };
    const onPoint = (stage: StageName, point: StagePoint) =>
      progress({ stage, concurrency: point.concurrency, point });

    if (plan.stages.includes('ingest') || plan.stages.includes('write')) {
      const measured = await sampleIngestAndWrite(ctx, plan, {
        onWindow,
        onPoint,
        windowS: () => opts.windowS ?? WRITE_WINDOW_S,
      });
      stages.push(...measured);
    }
    // Scrape and AI windows share the time left (after the combined window's reserve) in
    // proportion to their planned lengths, recomputed before each window: a slow teardown earlier
    // shortens the windows after it instead of breaking the budget; spare time lengthens them.
    const queued = plan.queueWindows;
    // Measured ÷ planned setup-and-teardown time of the windows so far: a busy host makes every
    // later window's overhead larger too.
    let overheadRatio = 1;
    let overheadPlanned = 0;
    let overheadMeasured = 0;
    const lastRps: Partial<Record<'scrape' | 'ai', { concurrency: number; rps: number }>> = {};
    const sessions: Partial<Record<'scrape' | 'ai', QueueStageSession>> = {};
    const sessionFor = async (stage: 'scrape' | 'ai') => {
      for (const other of ['scrape', 'ai'] as const) {
        if (other !== stage && sessions[other]) {
          await sessions[other].close();
          delete sessions[other];
        }
      }
      sessions[stage] ??= await QueueStageSession.open(ctx, stage, Math.max(...plan.levels[stage]));
      return sessions[stage];
    };
    // The combined window runs between the scrape and the AI stage: before the AI stage's last
    // level, whose rows in flight may take long to drain behind a provider's rate limit.
    let combined: CombinedWindow | undefined;
    let combinedDone = false;
    const runCombined = async () => {
      combinedDone = true;
      for (const session of Object.values(sessions)) await session.close();
      for (const stage of ['scrape', 'ai'] as const) delete sessions[stage];
      opts.signal?.throwIfAborted();
      // The combined window is never left out: the forecast on this host rests on it. When the time
      // left cannot hold it and every AI level still to come, AI levels give way (middle ones first,
      // then the highest), down to none.
      const closeS = plan.combinedCloseS * overheadRatio;
      const needS = plan.combinedOverheadS - plan.combinedCloseS + plan.combinedWindowS;
      const aiLeftS = () => {
        const aiLeft = queued.filter((w) => w.stage === 'ai' && !w.dropped);
        return (
          overheadRatio * sum(aiLeft.map((w) => w.overheadS)) +
          sum(aiLeft.map((w) => w.windowS)) * MIN_WINDOW_SCALE
        );
      };
      const timeLeftS = () => (deadlineMs - Date.now()) / 1000 - closeS;
      const dropOrder = queued
        .filter((w) => w.stage === 'ai')
        .sort((a, b) => Number(a.edge) - Number(b.edge) || b.concurrency - a.concurrency);
      for (const w of dropOrder) {
        if (timeLeftS() - aiLeftS() >= needS) break;
        w.dropped = true;
      }
      const laterS = aiLeftS();
      windowIndex++;
      const concurrency = plan.configured.scrape + plan.configured.ai;
      progress({ stage: 'combined', concurrency });
      // At least the shortest window worth having, even past the planned end: a sample without a
      // combined window forecasts from stages measured apart, which is what went wrong before.
      const latestEndMs = Math.max(
        deadlineMs - (closeS + laterS) * 1000,
        Date.now() + (plan.combinedOverheadS - plan.combinedCloseS + MIN_WINDOW_S * 3) * 1000,
      );
      combined = await sampleCombined(ctx, plan, plan.combinedWindowS, latestEndMs);
      progress({ stage: 'combined', concurrency, combined });
    };
    try {
      for (const [i, w] of queued.entries()) {
        opts.signal?.throwIfAborted();
        if (w.stage === 'ai' && plan.combined && !combinedDone) await runCombined();
        if (w.dropped) continue;
        const rest = queued.slice(i).filter((r) => !r.dropped);
        const reserveS =
          plan.combined && !combinedDone ? plan.combinedWindowS + plan.combinedOverheadS * overheadRatio : 0;
        const leftS =
          (deadlineMs - Date.now()) / 1000 - reserveS - overheadRatio * sum(rest.map((r) => r.overheadS));
        const scale = Math.min(MAX_WINDOW_STRETCH, leftS / sum(rest.map((r) => r.windowS)));
        // Too little time left for a steady part worth the name: a middle level is left out (the
        // sample then has fewer points, never junk ones); the lowest and highest levels, which
        // show the two regimes, run with the shortest window worth having.
        if (opts.windowS === undefined && scale < MIN_WINDOW_SCALE && !w.edge) continue;
        const windowS = opts.windowS ?? w.windowS * Math.max(scale, MIN_WINDOW_SCALE);
        onWindow(w.stage, w.concurrency);
        const t0 = performance.now();
        const session = await sessionFor(w.stage);
        const point = await sampleQueueStage(ctx, session, w.concurrency, windowS, lastRps[w.stage]);
        overheadPlanned += w.overheadS;
        overheadMeasured += Math.max(0, (performance.now() - t0) / 1000 - windowS);
        overheadRatio = Math.max(1, overheadMeasured / overheadPlanned);
        if (!point) continue;
        lastRps[w.stage] = { concurrency: w.concurrency, rps: point.throughputRps };
        onPoint(w.stage, point);
        let measurement = stages.find((m) => m.stage === w.stage);
        if (!measurement) {
          measurement = { stage: w.stage, points: [] };
          stages.push(measurement);
        }
        measurement.points.push(point);
      }
    } finally {
      for (const session of Object.values(sessions)) await session.close();
    }

    if (plan.combined && !combinedDone) await runCombined();

    return {
      kind: PIPELINE_SAMPLE_KIND,
      version: PIPELINE_SAMPLE_VERSION,
      createdAt: new Date(startedMs).toISOString(),
      host: describeHost(),
      world,
      baseRssBytes,
      stages: stages.sort((a, b) => STAGE_ORDER[a.stage] - STAGE_ORDER[b.stage]),
      configured: plan.configured,
      ...(combined ? { combined } : {}),
      durationMs: Date.now() - startedMs,
      hostLoad: { loadAverage1mStart, loadAverage1mEnd: os.loadavg()[0]! },
    };
  } finally {
    await sims.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const STAGE_ORDER: Record<StageName, number> = { ingest: 0, scrape: 1, ai: 2, write: 3 };

/** One scrape or AI window as planned: its length at scale 1 and its setup + teardown. */
interface QueueWindowPlan {
  stage: 'scrape' | 'ai';
  concurrency: number;
  windowS: number;
  overheadS: number;
  /** The stage's lowest or highest level: the two regimes, dropped for time only to keep the combined window. */
  edge: boolean;
  /** Left out to leave the combined window its time. */
  dropped?: boolean;
}

interface SamplingPlan {
  sampleSeconds: number;
  stages: StageName[];
  levels: Record<StageName, number[]>;
  /** Concurrency of the configured pipeline, per stage (write: scrape + AI workers that write). */
  configured: Record<StageName, number>;
  queueWindows: QueueWindowPlan[];
  combined: boolean;
  /** Steady part of the combined window. */
  combinedWindowS: number;
  /** Its fill (twice), pipeline start, the one-core part and close. */
  combinedOverheadS: number;
  /** Its close: the rows in flight finish. */
  combinedCloseS: number;
  /** The one-core part at the combined window's end (settle, then steady), 0 for none. */
  oneCoreSettleS: number;
  oneCoreS: number;
  windowCount: number;
}

/** Checks the options once (errors name the option) and lays out the windows. */
export function planSampling(opts: PipelineSamplerOptions): SamplingPlan {
  const problems: string[] = [];
  const sampleSeconds = opts.sampleSeconds ?? DEFAULT_SAMPLE_SECONDS;
  if (!(sampleSeconds >= 5 && sampleSeconds <= MAX_SAMPLE_SECONDS))
    problems.push(`sampleSeconds: must be between 5 and ${MAX_SAMPLE_SECONDS} (got ${sampleSeconds})`);
  for (const [name, value] of [
    ['windowS', opts.windowS],
    ['combinedWindowS', opts.combinedWindowS],
  ] as const) {
    if (value !== undefined && !(value >= MIN_WINDOW_S && value <= MAX_SAMPLE_SECONDS))
      problems.push(`${name}: must be between ${MIN_WINDOW_S} and ${MAX_SAMPLE_SECONDS} s (got ${value})`);
  }
  const stages = opts.stages ?? [...STAGES];
  for (const s of stages) if (!STAGES.includes(s)) problems.push(`stages: unknown stage "${s}"`);
  for (const [stage, list] of Object.entries(opts.levels ?? {})) {
    if (!STAGES.includes(stage as StageName)) problems.push(`levels.${stage}: unknown stage`);
    else if (!Array.isArray(list) || list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1))
      problems.push(
        `levels.${stage}: must be a non-empty list of integers >= 1 (got ${JSON.stringify(list)})`,
      );
  }
  if (problems.length) throw new ConfigInvalidError('pipeline sampler options', problems);

  const config = parsePipelineConfig(opts.pipeline ?? {}, 'pipeline sampler options (pipeline)');
  const configured: Record<StageName, number> = {
    ingest: 1,
    scrape: config.concurrency.scraping,
    ai: config.concurrency.ai_processing,
    write: config.concurrency.scraping + config.concurrency.ai_processing,
  };
  // Low levels show the latency-bound regime (rows/s ≈ in flight ÷ time per row), the top one is
  // beyond the configured default, where this host's CPU saturates.
  const world = describeWorld(opts.simulators);
  const rowS = { scrape: expectedRowSeconds('scrape', world), ai: expectedRowSeconds('ai', world) };
  const combined = opts.combined ?? true;
  // The steady part, after twice the fill (about ingest + one scrape + one AI call). The forecast
  // on the sampled host rests on this window: 15 s is what bench:capacity checked against real
  // runs; windows of about 6 s swung with other load on a shared host. Short budgets get a sixth.
  // A slow world gets a longer one: at least three times per row.
  const combinedWindowS =
    opts.combinedWindowS ?? Math.max(Math.min(15, sampleSeconds / 6), 3 * (rowS.scrape + rowS.ai));
  const combinedCloseS = 1 + rowS.ai;
  // The one-core part: a third of the steady window (4–8 s holds thousands of rows where CPU
  // matters, and where rows are slow the CPU bound is far away), after the rows in flight have
  // turned over on the one core. The settle ends when as many rows have finished as were in
  // flight at the pin; this is its longest: two times per row, starved rows take longer.
  const oneCore = combined && (opts.oneCore ?? true) && describeHost().cores > 1;
  const oneCoreS = oneCore ? Math.min(8, Math.max(4, combinedWindowS / 3)) : 0;
  const oneCoreSettleS = oneCore ? Math.min(6, Math.max(2, 2 * (rowS.scrape + rowS.ai))) : 0;
  const combinedOverheadS = 2 * combinedFillS(world) + 1 + combinedCloseS + oneCoreSettleS + oneCoreS;
  // Levels per stage sized by the time per row: each window holds a ramp-up and a steady part of
  // about two times per row, so a slow world gets fewer (longer) levels — at least one per stage,
  // and the combined window always.
  const planFor = (count: number) => {
    const levels: Record<StageName, number[]> = {
      ingest: [1, 2],
      scrape: stageLevels(configured.scrape, count),
      ai: stageLevels(configured.ai, count),
      write: [16, 128, 1024],
      ...(opts.levels as Partial<Record<StageName, number[]>>),
    };
    for (const s of STAGES) levels[s] = [...new Set(levels[s])].sort((a, b) => a - b);
    return { levels, queueWindows: queueWindowsFor(levels, stages, rowS) };
  };
  let planned = planFor(4);
  for (let count = 3; count >= 1; count--) {
    const needS =
      INGEST_WRITE_S +
      sum(planned.queueWindows.map((w) => w.windowS * MIN_WINDOW_SCALE + w.overheadS)) +
      (combined ? combinedWindowS + combinedOverheadS : 0);
    if (opts.levels || needS <= sampleSeconds * BUDGET_PLANNED) break;
    planned = planFor(count);
  }
  const { levels, queueWindows } = planned;
  const ingestWrite =
    (stages.includes('ingest') ? levels.ingest.length : 0) +
    (stages.includes('write') ? levels.write.length : 0);
  return {
    sampleSeconds,
    stages,
    levels,
    configured,
    queueWindows,
    combined,
    combinedWindowS,
    combinedOverheadS,
    combinedCloseS,
    oneCoreSettleS,
    oneCoreS,
    windowCount: ingestWrite + queueWindows.length + (combined ? 1 : 0),
  };
}

/** Time the ingest and write windows take together, about: they are fast whatever the world. */
const INGEST_WRITE_S = 8;

/**
 * `count` concurrency levels for a stage configured at `configured`: from a 32nd of it (the
 * latency-bound regime) to twice it (beyond, where the CPU saturates); a single level is the
 * configured one, two are a quarter of it and twice it.
 */
export function stageLevels(configured: number, count: number): number[] {
  if (count <= 1) return [configured];
  if (count === 2) return geometricLevels(configured / 4, configured * 2, 2);
  return geometricLevels(configured / 32, configured * 2, count);
}

/** Seconds until every stage is full in the combined window: twice its expected fill, or a held row's time. */
function combinedFillS(world: SampledWorld): number {
  const fill = 1 + expectedRowSeconds('scrape', world) + expectedRowSeconds('ai', world);
  const held = heldRowSeconds(world);
  return Math.max(fill, held ? held.seconds : 0);
}

function queueWindowsFor(
  levels: Record<StageName, number[]>,
  stages: StageName[],
  rowS: Record<'scrape' | 'ai', number>,
): QueueWindowPlan[] {
  // A window must hold the ramp-up (about one time per row) and a steady part of about two.
  const queueWindows: QueueWindowPlan[] = [];
  for (const stage of ['scrape', 'ai'] as const) {
    if (!stages.includes(stage)) continue;
    for (const [i, concurrency] of levels[stage].entries()) {
      const last = i === levels[stage].length - 1;
      queueWindows.push({
        stage,
        concurrency,
        windowS: Math.max(1.5, 2 * rowS[stage]),
        // Slots opened over one time per row, a short ramp-up after it, rows added for the
        // level; the stage's pipeline starts before its first level and closes after its last,
        // waiting for the rows in flight.
        overheadS: 1.25 * rowS[stage] + 0.3 + (i === 0 ? 0.5 : 0) + (last ? 0.5 + rowS[stage] * 2 : 0),
        edge: i === 0 || last,
      });
    }
  }
  return queueWindows;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** `count` integers from `low` to `high`, evenly spaced on a log scale. */
export function geometricLevels(low: number, high: number, count: number): number[] {
  const lo = Math.max(1, low);
  const ratio = count > 1 ? (high / lo) ** (1 / (count - 1)) : 1;
  return Array.from({ length: count }, (_, i) => Math.max(1, Math.round(lo * ratio ** i)));
}

interface WindowContext {
  sims: RunningSimulators;
  world: SampledWorld;
  pages: ScrapeResult[];
  pipeline: PipelineConfigInput;
  nextStore: () => string;
  signal?: AbortSignal;
}

/** The simulated world as the sample records it: the simulators' effective settings. */
function describeWorld(sim: SimulatorsOptions = {}): SampledWorld {
  const latency = sim.siteFarm?.latency ?? { medianMs: 300, sigma: 0.5 };
  const faults = sim.siteFarm?.faults ?? {};
  const faultRate = Object.values(faults).reduce<number>((sum, r) => sum + (r ?? 0), 0);
  const world: SampledWorld = {
    colocatedSimulators: true,
    siteLatencyMedianMs: latency.medianMs,
    siteLatencySigma: latency.sigma,
    pageBytes: sim.siteFarm?.pageBytes?.medianBytes ?? 20_000,
    faultRate,
    llmTtftMs: sim.llm?.timeToFirstTokenMs ?? 200,
    llmTokensPerSecond: sim.llm?.tokensPerSecond ?? 80,
    llmTokensPerMessage: sim.llm?.tokensPerMessage ?? 120,
  };
  if (sim.llm?.rateLimit?.requestsPerMinute !== undefined) world.llmRpm = sim.llm.rateLimit.requestsPerMinute;
  if (sim.llm?.rateLimit?.tokensPerMinute !== undefined) world.llmTpm = sim.llm.rateLimit.tokensPerMinute;
  if (world.llmRpm !== undefined || world.llmTpm !== undefined) world.llmLimitsInSample = false;
  return world;
}

/** The simulators' options with the LLM's enforced per-minute limits lifted (injected 429s stay). */
function withoutEnforcedLimits(sim: SimulatorsOptions = {}): SimulatorsOptions {
  if (!sim.llm?.rateLimit) return sim;
  const { rateLimit: _lifted, ...llm } = sim.llm;
  return { ...sim, llm };
}

/** Expected seconds a row spends in a stage, from the world's settings: sizes the rows to queue. */
function expectedRowSeconds(stage: 'scrape' | 'ai', world: SampledWorld): number {
  if (stage === 'scrape') {
    const sigma = world.siteLatencySigma ?? 0.5;
    const clean = ((world.siteLatencyMedianMs ?? 300) * Math.exp((sigma * sigma) / 2)) / 1000 + 0.02;
    // Rows whose site hangs hold a slot for the scraper's timeout and a retry: the mean counts them.
    const held = heldRowSeconds(world);
    return held ? clean + held.share * held.seconds : clean;
  }
  const tokens = world.llmTokensPerMessage ?? 120;
  return ((world.llmTtftMs ?? 200) + (tokens / (world.llmTokensPerSecond ?? 80)) * 1000) / 1000 + 0.02;
}

/**
 * Real pages, fetched once from the site farm and extracted as the scraper extracts them: the AI
 * and write stages, sampled on their own, get the input scraping would have given them.
 */
async function samplePages(sims: RunningSimulators): Promise<ScrapeResult[]> {
  const pages: ScrapeResult[] = [];
  const port = sims.siteFarm.port;
  // Twice the pages needed are asked for; once enough have come, the slow tail is not waited for.
  const enough = new AbortController();
  const signal = AbortSignal.any([enough.signal, AbortSignal.timeout(10_000)]);
  // One signal for every request of the batch.
  setMaxListeners(SAMPLE_PAGES * 2 + 1, signal);
  await Promise.all(
    Array.from({ length: SAMPLE_PAGES * 2 }, async (_, row) => {
      const url = new URL(sims.siteUrl(row));
      try {
        const res = await request(`http://127.0.0.1:${port}${url.pathname}`, {
          headers: { host: url.host },
          signal,
        });
        const body = Buffer.from(await res.body.arrayBuffer());
        if (res.statusCode !== 200 || pages.length >= SAMPLE_PAGES) return;
        const fields = extractPage(body, EXCERPT_CHARS);
        pages.push({
          finalUrl: url.href,
          httpStatus: 200,
          ...fields,
          bytesRead: body.length,
          truncated: false,
          attempts: 1,
          durationMs: 0,
        });
        if (pages.length >= SAMPLE_PAGES) enough.abort();
      } catch {
        // A faulty page (reset, timeout) is one the scraper would have failed too: skip it.
      }
    }),
  );
  if (pages.length === 0)
    throw new ConfigInvalidError('simulator options', [
      'siteFarm.faults: no page of the site farm could be fetched; lower the fault rates',
    ]);
  return pages;
}

async function openPipeline(ctx: WindowContext, concurrency: Partial<Record<QueueName, number>>) {
  const suffix = ctx.sims.siteFarm.hostSuffix;
  const pipeline = await startPipeline({
    logLevel: 'warn',
    ...ctx.pipeline,
    store: ctx.nextStore(),
    queue: 'in-process',
    workers: false,
    http: { host: '127.0.0.1', port: 0 },
    // Logins are not what is measured; the cheapest hash the configuration allows.
    auth: { ...ctx.pipeline.auth, scryptCost: 1024 },
    concurrency: { ...ctx.pipeline.concurrency, ...concurrency },
    scraper: {
      allowHosts: [`*.${suffix}`],
      resolve: { [`*.${suffix}`]: '127.0.0.1' },
      ...ctx.pipeline.scraper,
    },
    llm: { baseUrl: ctx.sims.llm.baseUrl, model: 'headroom-sim-1', ...ctx.pipeline.llm },
  });
  const api = new ApiClient(pipeline.apiUrl);
  try {
    await api.register(SAMPLER_USER.email, SAMPLER_USER.password);
    await api.login(SAMPLER_USER.email, SAMPLER_USER.password);
  } catch (err) {
    await api.close();
    await pipeline.close();
    throw err;
  }
  return {
    pipeline,
    api,
    async close() {
      await api.close();
      await pipeline.close();
    },
  };
}

/** CPU of both processes and the pipeline's memory, read at the edges of a steady window. */
interface CostMark {
  atMs: number;
  cpuUs: number;
  simCpuUs: number;
}

async function markCost(sims: RunningSimulators): Promise<CostMark> {
  const u = await sims.usage();
  const cpu = process.cpuUsage();
  return { atMs: performance.now(), cpuUs: cpu.user + cpu.system, simCpuUs: u.cpuUserUs + u.cpuSystemUs };
}

/** Sums of a prom-client histogram for one label set: count, sum and cumulative buckets. */
interface HistogramReading {
  count: number;
  sum: number;
  buckets: Array<{ le: number; count: number }>;
}

async function readJobHistogram(pipeline: RunningPipeline, queue: QueueName): Promise<HistogramReading> {
  const metric = await pipeline.metrics.jobDuration.get();
  const reading: HistogramReading = { count: 0, sum: 0, buckets: [] };
  const byLe = new Map<number, number>();
  for (const v of metric.values) {
    if (v.labels.queue !== queue || v.labels.outcome !== 'completed') continue;
    if (v.metricName?.endsWith('_count')) reading.count += v.value;
    else if (v.metricName?.endsWith('_sum')) reading.sum += v.value;
    else if (v.metricName?.endsWith('_bucket')) {
      // Bucket values carry an `le` label that the histogram's declared label names leave out.
      const raw = (v.labels as Record<string, string | number | undefined>).le;
      const le = raw === '+Inf' ? Number.POSITIVE_INFINITY : Number(raw);
      byLe.set(le, (byLe.get(le) ?? 0) + v.value);
    }
  }
  reading.buckets = [...byLe.entries()].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count }));
  return reading;
}

/**
 * Mean and interpolated p50/p95 of the jobs that finished between two readings, in ms. The mean
 * is exact (sum ÷ count); percentiles are interpolated within the histogram's buckets.
 */
function histogramDelta(
  a: HistogramReading,
  b: HistogramReading,
): { p50: number; p95: number; mean: number } | undefined {
  const count = b.count - a.count;
  if (count <= 0) return undefined;
  const buckets = b.buckets.map((x) => ({
    le: x.le,
    count: x.count - (a.buckets.find((y) => y.le === x.le)?.count ?? 0),
  }));
  const quantile = (q: number) => {
    const rank = q * count;
    let prevLe = 0;
    let prevCount = 0;
    for (const { le, count: c } of buckets) {
      if (c >= rank) {
        if (!Number.isFinite(le)) return prevLe;
        const inBucket = c - prevCount;
        return inBucket > 0 ? prevLe + ((rank - prevCount) / inBucket) * (le - prevLe) : le;
      }
      prevLe = le;
      prevCount = c;
    }
    return prevLe;
  };
  return { p50: quantile(0.5) * 1000, p95: quantile(0.95) * 1000, mean: ((b.sum - a.sum) / count) * 1000 };
}

/** The outcome of a queue stage's counters: rows finished and those that finished as failures. */
async function failedOutcomes(pipeline: RunningPipeline, stage: 'scrape' | 'ai'): Promise<number> {
  const metric = await (stage === 'scrape'
    ? pipeline.metrics.scrapeOutcomes
    : pipeline.metrics.aiOutcomes
  ).get();
  return metric.values.filter((v) => v.labels.outcome !== 'ok').reduce((n, v) => n + v.value, 0);
}

/**
 * One stage that runs on a queue (scrape or AI), alone on a pipeline of its own, its concurrency
 * raised level by level: rows are queued for that stage only (AI jobs get sample pages, as if
 * scraped), and rows in flight when a level ends simply carry on under the next one, so no level
 * pays for a restart or a drain.
 */
class QueueStageSession {
  readonly queue: QueueName;
  private uploaded = 0;
  /** The concurrency the stage's workers run at now (0 before the first level). */
  concurrency = 0;

  private constructor(
    private readonly ctx: WindowContext,
    readonly stage: 'scrape' | 'ai',
    readonly pipeline: RunningPipeline,
    private readonly api: ApiClient,
    private readonly close_: () => Promise<void>,
  ) {
    this.queue = stage === 'scrape' ? 'scraping' : 'ai_processing';
  }

  static async open(ctx: WindowContext, stage: 'scrape' | 'ai', maxConcurrency: number) {
    const queue: QueueName = stage === 'scrape' ? 'scraping' : 'ai_processing';
    // Started at the top level, so the dispatcher keeps enough scraping jobs queued for it.
    const opened = await openPipeline(ctx, { [queue]: maxConcurrency });
    return new QueueStageSession(ctx, stage, opened.pipeline, opened.api, opened.close);
  }

  /** Rows queued for the stage and not yet finished or started. */
  async backlog(): Promise<number> {
    const d = await this.pipeline.queue.depth(this.queue);
    return this.uploaded - d.completed - d.failed - d.active;
  }

  async addRows(rows: number): Promise<void> {
    const first = this.uploaded;
    const receipt = await this.api.upload(
      generateCsv(rows, (i) => this.ctx.sims.siteUrl(first + i)),
      `sample-${this.stage}-${first}.csv`,
    );
    this.uploaded += receipt.accepted;
    if (this.stage === 'ai') await queueAiJobs(this.pipeline, receipt.id, this.ctx.pages);
  }

  /**
   * Registers the stage's workers again with the new concurrency: the in-process queue engine
   * takes the latest registration's concurrency, and the configuration object is the one the
   * pipeline's workers read.
   */
  async setConcurrency(concurrency: number): Promise<void> {
    const first = this.concurrency === 0;
    this.pipeline.config.concurrency[this.queue] = concurrency;
    this.pipeline.startWorkers(
      first && this.stage === 'scrape' ? ['file_processing', this.queue] : [this.queue],
    );
    this.concurrency = concurrency;
  }

  close(): Promise<void> {
    return this.close_();
  }
}

async function sampleQueueStage(
  ctx: WindowContext,
  session: QueueStageSession,
  concurrency: number,
  windowS: number,
  previous?: { concurrency: number; rps: number },
): Promise<StagePoint | undefined> {
  const rowS = expectedRowSeconds(session.stage, ctx.world);
  // Little's law bounds the rate; once a lower level has been measured, so does proportionality:
  // the rate grows at most in proportion to concurrency (USL with σ, κ ≥ 0).
  const byPrevious = previous
    ? previous.rps * (concurrency / previous.concurrency)
    : Number.POSITIVE_INFINITY;
  const expectedRps = Math.min(concurrency / rowS, byPrevious, MAX_EXPECTED_RPS);
  // Rows for the slots, the stagger and ramp-up (about two times per row) and the steady part, with
  // a margin: a stage that runs dry mid-window is no longer steady.
  const needed = Math.ceil(concurrency + expectedRps * (windowS + 2 * rowS) * 1.5) + 200;
  const backlog = await session.backlog();
  if (backlog < needed) await session.addRows(needed - backlog);
  // New slots open over one time per row, not all at once: rows started together would finish
  // together, and a window would count whole waves of them instead of a steady flow.
  const from = session.concurrency;
  for (let k = 1; k <= RAMP_STEPS; k++) {
    await session.setConcurrency(Math.round(from + ((concurrency - from) * k) / RAMP_STEPS));
    if (k < RAMP_STEPS) await sleep((rowS * 1000) / RAMP_STEPS);
  }
  return measureQueueWindow(
    ctx,
    session.pipeline,
    session.stage,
    session.queue,
    concurrency,
    windowS,
    rowS * RAMP_AFTER_STAGGER,
    from,
  );
}

/**
 * Moves every row of the upload to `scraped` with one of the sample pages and queues its AI job,
 * as the scrape stage would have: the AI stage then runs on its own.
 */
async function queueAiJobs(
  pipeline: RunningPipeline,
  uploadId: number,
  pages: ScrapeResult[],
): Promise<void> {
  for (;;) {
    const jobs: WebsiteJob[] = await pipeline.store.claimPending(uploadId, 5_000);
    if (jobs.length === 0) break;
    const withPages = jobs.map((job) => ({ ...job, page: pages[job.websiteId % pages.length]! }));
    await pipeline.store.saveScrapes(
      withPages.map(({ websiteId, uploadId: u, page }) => ({
        websiteId,
        uploadId: u,
        finalUrl: page.finalUrl,
        httpStatus: page.httpStatus,
        title: page.title,
        description: page.description,
        excerpt: page.excerpt,
        scrapeMs: 0,
      })),
    );
    await pipeline.queue.enqueueMany('ai_processing', withPages, {
      jobIdOf: (job) => `ai:${job.websiteId}`,
    });
  }
}

async function measureQueueWindow(
  ctx: WindowContext,
  pipeline: RunningPipeline,
  stage: 'scrape' | 'ai',
  queue: QueueName,
  concurrency: number,
  windowS: number,
  maxRampS: number,
  previousConcurrency: number,
): Promise<StagePoint | undefined> {
  const startMs = performance.now();
  const finished = async () => {
    const d = await pipeline.queue.depth(queue);
    return { done: d.completed + d.failed, active: d.active, waiting: d.waiting };
  };
  // Ramp-up: as many rows finished since the level began as it has slots (the new slots' first
  // rows are done and their successors start at spread-out times), or `maxRampS` has gone.
  const doneAtStart = (await finished()).done;
  let peakActive = 0;
  for (;;) {
    ctx.signal?.throwIfAborted();
    const d = await finished();
    peakActive = Math.max(peakActive, d.active);
    if (d.done - doneAtStart >= concurrency || performance.now() - startMs >= maxRampS * 1000) break;
    await sleep(TICK_MS);
  }
  if (previousConcurrency > 0 && peakActive <= previousConcurrency && (await finished()).waiting > 0)
    throw new Error(
      `the ${queue} queue kept ${peakActive} jobs in flight after its concurrency was raised to ${concurrency}: ` +
        'the queue engine did not take the new concurrency',
    );
  const cost0 = await markCost(ctx.sims);
  const endMs = cost0.atMs + windowS * 1000;
  const hist0 = await readJobHistogram(pipeline, queue);
  const failed0 = await failedOutcomes(pipeline, stage);
  const tokens0 = await markTokens(pipeline);
  const done0 = (await finished()).done;
  let inFlightSum = 0;
  let ticks = 0;
  let ranDry = false;
  let rssBytes = process.memoryUsage.rss();
  for (;;) {
    await sleep(TICK_MS);
    const d = await finished();
    inFlightSum += d.active;
    ticks++;
    rssBytes = Math.max(rssBytes, process.memoryUsage.rss());
    // Out of rows: the stage is draining, no longer steady; the window ends here.
    if (d.waiting === 0 && d.active < concurrency * 0.9) {
      ranDry = true;
      break;
    }
    if (performance.now() >= endMs) break;
  }
  const cost1 = await markCost(ctx.sims);
  const hist1 = await readJobHistogram(pipeline, queue);
  const failed1 = await failedOutcomes(pipeline, stage);
  const tokens1 = await markTokens(pipeline);
  const done1 = (await finished()).done;
  const items = done1 - done0;
  const tokens = stage === 'ai' ? tokensPerMessage(tokens0, tokens1, items - (failed1 - failed0)) : undefined;
  const seconds = (cost1.atMs - cost0.atMs) / 1000;
  // A window cut short by running dry measured a drain, not a steady flow: no point rather than a
  // wrong one.
  if (ranDry && seconds < windowS / 2) return undefined;
  const latency = histogramDelta(hist0, hist1);
  return {
    concurrency,
    meanInFlight: ticks ? inFlightSum / ticks : 0,
    throughputRps: seconds > 0 ? items / seconds : 0,
    items,
    windowS: seconds,
    cpuSecondsPerItem: items ? (cost1.cpuUs - cost0.cpuUs) / 1e6 / items : 0,
    externalCpuSecondsPerItem: items ? (cost1.simCpuUs - cost0.simCpuUs) / 1e6 / items : 0,
    rssBytes,
    ...(latency ? { externalLatencyMs: latency } : {}),
    failedItems: failed1 - failed0,
    ...(tokens ? { tokens } : {}),
  };
}

/** Prompt and completion tokens the AI step has used so far (the LLM's `usage`, as counted by the pipeline). */
interface TokenMark {
  prompt: number;
  completion: number;
}

async function markTokens(pipeline: RunningPipeline): Promise<TokenMark> {
  const metric = await pipeline.metrics.aiTokens.get();
  const mark: TokenMark = { prompt: 0, completion: 0 };
  for (const v of metric.values) {
    if (v.labels.kind === 'prompt') mark.prompt += v.value;
    else if (v.labels.kind === 'completion') mark.completion += v.value;
  }
  return mark;
}

/** Mean tokens per message between two marks; undefined when no message was written. */
function tokensPerMessage(a: TokenMark, b: TokenMark, messages: number): TokensPerMessage | undefined {
  if (!(messages > 0) || b.prompt + b.completion <= a.prompt + a.completion) return undefined;
  return {
    prompt: (b.prompt - a.prompt) / messages,
    completion: (b.completion - a.completion) / messages,
    messages,
  };
}

interface StageCallbacks {
  onWindow: (stage: StageName, concurrency: number) => void;
  onPoint: (stage: StageName, point: StagePoint) => void;
  /** Seconds the next write window may take. */
  windowS: () => number;
}

/**
 * Ingest and write share one pipeline: the ingest levels (concurrent uploads, workers off) insert
 * the rows that the write levels then complete through the pipeline's write-behind batcher.
 */
async function sampleIngestAndWrite(
  ctx: WindowContext,
  plan: SamplingPlan,
  cb: StageCallbacks,
): Promise<StageMeasurement[]> {
  const opened = await openPipeline(ctx, {});
  const { pipeline } = opened;
  const measured: StageMeasurement[] = [];
  const uploads: number[] = [];
  try {
    if (plan.stages.includes('ingest')) {
      const points: StagePoint[] = [];
      for (const concurrency of plan.levels.ingest) {
        ctx.signal?.throwIfAborted();
        cb.onWindow('ingest', concurrency);
        const { point, uploadIds } = await measureIngest(ctx, opened.api, concurrency);
        uploads.push(...uploadIds);
        points.push(point);
        cb.onPoint('ingest', point);
      }
      measured.push({ stage: 'ingest', points });
    }
    if (plan.stages.includes('write')) {
      const windowS = cb.windowS();
      const needed = plan.levels.write.reduce(
        (n, c) => n + Math.ceil((c / WRITE_ROW_S) * windowS * 1.3) + c,
        0,
      );
      const have = uploads.length ? plan.levels.ingest.length * INGEST_ROWS_PER_LEVEL : 0;
      if (have < needed) {
        const receipt = await opened.api.upload(
          generateCsv(needed - have, (i) => ctx.sims.siteUrl(i)),
          'sample-write.csv',
        );
        uploads.push(receipt.id);
      }
      const rows: WebsiteJob[] = [];
      for (const uploadId of uploads) {
        for (;;) {
          const jobs = await pipeline.store.claimPending(uploadId, 5_000);
          if (jobs.length === 0) break;
          rows.push(...jobs);
        }
      }
      const points: StagePoint[] = [];
      let taken = 0;
      for (const concurrency of plan.levels.write) {
        ctx.signal?.throwIfAborted();
        const windowS = cb.windowS();
        cb.onWindow('write', concurrency);
        // A writer's row waits for two batch commits (~25 ms each at the default batch delay):
        // rows for the window at that pace, the rest kept for the levels after it.
        const wanted = Math.ceil((concurrency / WRITE_ROW_S) * windowS * 1.3) + concurrency;
        const slice = rows.slice(taken, taken + wanted);
        taken += slice.length;
        const point = await measureWrite(ctx, pipeline, slice, concurrency, windowS);
        points.push(point);
        cb.onPoint('write', point);
      }
      measured.push({ stage: 'write', points });
    }
    return measured;
  } finally {
    await opened.close();
  }
}

/**
 * `concurrency` uploads at once, streamed through POST /uploads; the CSV is generated in this
 * process, so the CPU per row includes the client's share (a few µs per row).
 */
async function measureIngest(
  ctx: WindowContext,
  api: ApiClient,
  concurrency: number,
): Promise<{ point: StagePoint; uploadIds: number[] }> {
  const rowsEach = Math.ceil(INGEST_ROWS_PER_LEVEL / concurrency);
  let rssBytes = process.memoryUsage.rss();
  const rssTimer = setInterval(() => {
    rssBytes = Math.max(rssBytes, process.memoryUsage.rss());
  }, TICK_MS);
  const cost0 = await markCost(ctx.sims);
  let busyMs = 0;
  const receipts = await Promise.all(
    Array.from({ length: concurrency }, async (_, k) => {
      const t0 = performance.now();
      const receipt = await api.upload(
        generateCsv(rowsEach, (i) => ctx.sims.siteUrl(k * rowsEach + i)),
        `sample-ingest-${concurrency}-${k}.csv`,
      );
      busyMs += performance.now() - t0;
      return receipt;
    }),
  ).finally(() => clearInterval(rssTimer));
  const cost1 = await markCost(ctx.sims);
  const items = receipts.reduce((n, r) => n + r.rows, 0);
  const seconds = (cost1.atMs - cost0.atMs) / 1000;
  return {
    point: {
      concurrency,
      // Uploads in progress, averaged over the window (they do not all end together).
      meanInFlight: seconds > 0 ? busyMs / 1000 / seconds : 0,
      throughputRps: seconds > 0 ? items / seconds : 0,
      items,
      windowS: seconds,
      cpuSecondsPerItem: items ? (cost1.cpuUs - cost0.cpuUs) / 1e6 / items : 0,
      externalCpuSecondsPerItem: items ? (cost1.simCpuUs - cost0.simCpuUs) / 1e6 / items : 0,
      rssBytes,
      failedItems: receipts.reduce((n, r) => n + r.rejected, 0),
    },
    uploadIds: receipts.map((r) => r.id),
  };
}

/**
 * The write stage on its own: `concurrency` writers, each saving one row's scrape result and then
 * its message through a write-behind batcher configured as the pipeline's, as the scrape and AI
 * workers do. A writer waits for its batch to commit, so at low concurrency rows/s ≈ writers ÷
 * (batch delay + commit time).
 */
async function measureWrite(
  ctx: WindowContext,
  pipeline: RunningPipeline,
  rows: WebsiteJob[],
  concurrency: number,
  windowS: number,
): Promise<StagePoint> {
  const store = pipeline.store;
  const batcher = new WriteBatcher(store, pipeline.config.writeBatch, async (uploads) => {
    for (const id of uploads) await store.completeUploadIfDone(id);
  });
  const content = messageText(ctx.world.llmTokensPerMessage ?? 120);
  let next = 0;
  let done = 0;
  let active = 0;
  let stop = false;
  const writer = async () => {
    active++;
    while (!stop && next < rows.length) {
      // Commits resolve writers in a chain of promise callbacks; without a turn of the event loop
      // per row, timers (the window's clock) would not run until every row was written.
      await yieldToLoop();
      if (stop || next >= rows.length) break;
      const job = rows[next++]!;
      const page = ctx.pages[job.websiteId % ctx.pages.length]!;
      await batcher.saveScrape({
        websiteId: job.websiteId,
        uploadId: job.uploadId,
        finalUrl: page.finalUrl,
        httpStatus: page.httpStatus,
        title: page.title,
        description: page.description,
        excerpt: page.excerpt,
        scrapeMs: 300,
      });
      await batcher.saveMessage({
        websiteId: job.websiteId,
        uploadId: job.uploadId,
        content,
        model: 'headroom-sim-1',
        promptTokens: 400,
        completionTokens: ctx.world.llmTokensPerMessage ?? 120,
        aiMs: 1700,
      });
      done++;
    }
    active--;
  };
  const startMs = performance.now();
  const writers = Array.from({ length: concurrency }, writer);
  // Ramp-up: every writer has finished a row once, or a fifth of the window has gone.
  while (done < concurrency && performance.now() - startMs < windowS * 200 && next < rows.length)
    await sleep(TICK_MS / 5);
  const cost0 = await markCost(ctx.sims);
  const done0 = done;
  let inFlightSum = 0;
  let ticks = 0;
  let rssBytes = process.memoryUsage.rss();
  while (performance.now() - startMs < windowS * 1000 && next < rows.length) {
    await sleep(TICK_MS / 5);
    inFlightSum += active;
    ticks++;
    rssBytes = Math.max(rssBytes, process.memoryUsage.rss());
  }
  const cost1 = await markCost(ctx.sims);
  const items = done - done0;
  stop = true;
  await Promise.all(writers);
  await batcher.flush();
  const seconds = (cost1.atMs - cost0.atMs) / 1000;
  return {
    concurrency,
    meanInFlight: ticks ? inFlightSum / ticks : 0,
    throughputRps: seconds > 0 ? items / seconds : 0,
    items,
    windowS: seconds,
    cpuSecondsPerItem: items ? (cost1.cpuUs - cost0.cpuUs) / 1e6 / items : 0,
    externalCpuSecondsPerItem: items ? (cost1.simCpuUs - cost0.simCpuUs) / 1e6 / items : 0,
    rssBytes,
  };
}

/** A message of about `tokens` tokens (~4.5 characters each), the size the LLM would write. */
function messageText(tokens: number): string {
  const words = 'Thank you for the clear overview of your services on the website today '.split(' ');
  let text = '';
  for (let i = 0; text.length < tokens * 4.5; i++) text += `${words[i % words.length]} `;
  return text.trim();
}

/**
 * Every stage at once at the configured concurrency, on a fresh pipeline: one upload large enough
 * to keep the pipeline busy for the window. Fill = upload start to the first finished row; the
 * steady part starts once the fill has passed twice (every stage is full) and ends at the window's
 * end or when the scrapers run out of rows (the drain begins).
 */
async function sampleCombined(
  ctx: WindowContext,
  plan: SamplingPlan,
  steadyS: number,
  latestEndMs: number,
): Promise<CombinedWindow> {
  const scrapeS = expectedRowSeconds('scrape', ctx.world);
  const aiS = expectedRowSeconds('ai', ctx.world);
  const expectedRps = Math.min(
    plan.configured.scrape / scrapeS,
    plan.configured.ai / aiS,
    MAX_EXPECTED_RPS / 2,
  );
  const oneCoreMs = (plan.oneCoreSettleS + plan.oneCoreS) * 1000;
  // Enough rows for twice the expected fill (ingest, one scrape, one AI call), the steady part and
  // the one-core part (slower, so the rows for it at the full rate are plenty).
  const held = heldRowSeconds(ctx.world);
  const rows =
    Math.ceil(expectedRps * (2 * combinedFillS(ctx.world) + steadyS + oneCoreMs / 1000) * 1.3) + 1_000;
  const opened = await openPipeline(ctx, {});
  const { pipeline, api } = opened;
  try {
    pipeline.startWorkers(['file_processing', 'scraping', 'ai_processing']);
    const t0 = performance.now();
    const cost0 = await markCost(ctx.sims);
    const uploading = api.upload(
      generateCsv(rows, (i) => ctx.sims.siteUrl(i)),
      'sample-combined.csv',
    );
    uploading.catch(() => {});
    let uploadId: number | undefined;
    let fillS: number | undefined;
    let steady: { cost: CostMark; finished: number; messages: number; tokens: TokenMark } | undefined;
    let messages = 0;
    let rssBytes = process.memoryUsage.rss();
    let finished = 0;
    /** Rows the scrape and AI stages have finished so far (pinned, they may not move in step). */
    let stageDone = { scrape: 0, ai: 0 };
    let scrapeFailed = 0;
    let drained = false;
    const timeline: NonNullable<CombinedWindow['timeline']> = [];
    /** One tick: the timeline, memory, and the upload's progress. */
    const poll = async () => {
      ctx.signal?.throwIfAborted();
      await sleep(TICK_MS * 2);
      const now = performance.now();
      if (now - t0 >= (timeline.length + 1) * TIMELINE_STEP_MS) {
        const [scrape, ai] = await Promise.all([
          pipeline.queue.depth('scraping'),
          pipeline.queue.depth('ai_processing'),
        ]);
        timeline.push({
          tS: Math.round(now - t0) / 1000,
          finished,
          scrapeActive: scrape.active,
          aiActive: ai.active,
        });
      }
      rssBytes = Math.max(rssBytes, process.memoryUsage.rss());
      uploadId ??= (await pipeline.store.listUnfinishedUploads())[0];
      const u = uploadId === undefined ? undefined : await pipeline.store.getUpload(uploadId);
      if (u) {
        finished = u.ai.done + u.ai.failed + u.scrape.failed;
        stageDone = {
          scrape: u.scrape.done + u.scrape.failed,
          ai: u.ai.done + u.ai.failed,
        };
        scrapeFailed = u.scrape.failed;
        messages = u.ai.done;
        if (fillS === undefined && finished > 0) fillS = (now - t0) / 1000;
        // The drain begins when the slowest stage runs out of rows, not the scrapers: with a slow
        // LLM they finish early and leave the AI stage a queue that keeps it steady long after.
        const scraped = u.status !== 'ingesting' && u.scrape.done + u.scrape.failed >= u.ingest.accepted;
        drained = scraped && (await pipeline.queue.depth('ai_processing')).waiting === 0;
      }
      return now;
    };
    for (;;) {
      const now = await poll();
      // Every stage is full once the fill has passed twice: the AI stage is then fed by scrapers
      // that have run at their own steady rate for a whole AI call. Rows held by hanging sites
      // pile up in the scrape slots until the first of them gives up: not steady before that.
      if (
        !steady &&
        fillS !== undefined &&
        now - t0 >= Math.max(fillS * 2, fillS + (held?.seconds ?? 0)) * 1000
      )
        steady = {
          cost: await markCost(ctx.sims),
          finished,
          messages,
          tokens: await markTokens(pipeline),
        };
      if (steady && now - steady.cost.atMs >= steadyS * 1000) break;
      if (drained || Date.now() >= latestEndMs - oneCoreMs) break;
    }
    const cost1 = await markCost(ctx.sims);
    const tokens1 = await markTokens(pipeline);
    // The pinned part polls on: what the steady part counted is kept apart first.
    const finished1 = finished;
    const messages1 = messages;
    const oneCore = steady && !drained && plan.oneCoreS > 0 ? await oneCorePart() : undefined;
    await uploading;
    const from = steady ?? { cost: cost0, finished: 0, messages: 0, tokens: { prompt: 0, completion: 0 } };
    const tokens = tokensPerMessage(from.tokens, tokens1, messages1 - from.messages);
    const items = finished1 - from.finished;
    const seconds = (cost1.atMs - from.cost.atMs) / 1000;
    return {
      concurrency: plan.configured,
      throughputRps: seconds > 0 ? items / seconds : 0,
      fillS: fillS ?? (cost1.atMs - t0) / 1000,
      windowS: seconds,
      cpuSecondsPerRow: items ? (cost1.cpuUs - from.cost.cpuUs) / 1e6 / items : 0,
      externalCpuSecondsPerRow: items ? (cost1.simCpuUs - from.cost.simCpuUs) / 1e6 / items : 0,
      rssBytes,
      uploadRows: rows,
      items,
      ...(steady ? { steadyFromS: Math.round(steady.cost.atMs - t0) / 1000 } : {}),
      timeline,
      ...(tokens ? { tokens } : {}),
      ...(oneCore ? { oneCore } : {}),
    };

    /**
     * The same pipeline with it and the simulators pinned to one core, as a run under `taskset -c 0`:
     * a row costs less CPU there than spread over cores (no moves between cores, more work per
     * wake-up), so a projection onto one core charges it this figure, not the spread one.
     */
    async function oneCorePart(): Promise<NonNullable<CombinedWindow['oneCore']>> {
      const pin = await pinToOneCore([process.pid, ctx.sims.pid]);
      if ('skipped' in pin) return { skipped: pin.skipped };
      try {
        const pinnedMs = performance.now();
        // The rows held at the pin were started at the two-core rate, and the pipeline holds more
        // of them than it would pinned: finishing them costs CPU per row unlike a pinned run's
        // (a fixed half-row settle read 785 rows/s where `taskset -c 0 headroom demo` did 1,100).
        // The part starts once as many rows have finished as were held at the pin.
        const [scraping, ai] = await Promise.all([
          pipeline.queue.depth('scraping'),
          pipeline.queue.depth('ai_processing'),
        ]);
        const turnedOver = finished + scraping.active + ai.active + ai.waiting;
        while (!drained && finished < turnedOver && performance.now() - pinnedMs < plan.oneCoreSettleS * 1000)
          await poll();
        const a = { cost: await markCost(ctx.sims), finished };
        // Rows finish in bursts of a write batch (hundreds at once, then none for half a second),
        // so the rows between the part's two ends swing by a third over a few seconds; the slope
        // of every poll's count swings far less. The CPU is spent smoothly: its rate over the part
        // divided by that slope is the CPU per row.
        const counts = [{ tS: 0, finished, ...stageDone }];
        while (!drained && performance.now() - a.cost.atMs < plan.oneCoreS * 1000) {
          const now = await poll();
          counts.push({ tS: (now - a.cost.atMs) / 1000, finished, ...stageDone });
        }
        const b = { cost: await markCost(ctx.sims), finished };
        const n = b.finished - a.finished;
        const s = (b.cost.atMs - a.cost.atMs) / 1000;
        const slope = (key: 'finished' | 'scrape' | 'ai', ends: number) =>
          counts.length >= 3
            ? fitLinearTrend(
                counts.map((c) => c.tS),
                counts.map((c) => c[key]),
              ).slope
            : ends / s;
        const rate = slope('finished', n);
        if (n <= 0 || s <= 0 || !(rate > 0))
          return { skipped: `no row finished in the ${s.toFixed(1)} s pinned to one core` };
        const first = counts[0]!;
        const last = counts.at(-1)!;
        const rows = rate * s;
        return {
          core: pin.core,
          settleS: (a.cost.atMs - pinnedMs) / 1000,
          windowS: s,
          items: n,
          throughputRps: rate,
          cpuSecondsPerRow: (b.cost.cpuUs - a.cost.cpuUs) / 1e6 / rows,
          externalCpuSecondsPerRow: (b.cost.simCpuUs - a.cost.simCpuUs) / 1e6 / rows,
          stageRps: {
            scrape: Math.max(0, slope('scrape', last.scrape - first.scrape)),
            ai: Math.max(0, slope('ai', last.ai - first.ai)),
          },
          aiShare: stageDone.scrape > 0 ? 1 - scrapeFailed / stageDone.scrape : 1,
        };
      } finally {
        await pin.release();
      }
    }
  } finally {
    await opened.close();
  }
}
