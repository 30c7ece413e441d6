import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiClient } from './api/api-client.js';
import { generateCsv } from './ingest/csv-generator.js';
import { type RunningPipeline, startPipeline } from './pipeline.js';
import type { PipelineConfigInput } from './pipeline-config.js';
import { type RunningSimulators, type SimulatorsOptions, spawnSimulators } from './sim/simulator-process.js';
import type { UploadProgress } from './store/store.js';

export interface DemoOptions {
  rows: number;
  /** Store URL; default: a SQLite file in a temporary folder, removed afterwards. */
  store?: string;
  /** Queue URL; default: the in-process queue. */
  queue?: string;
  simulators?: SimulatorsOptions;
  /** Overrides of the pipeline configuration (concurrency, retries, timeouts…). */
  pipeline?: PipelineConfigInput;
  /** Upper bound of the whole run; default {@link defaultDemoTimeoutMs} of the rows and settings. */
  timeoutMs?: number;
  pollMs?: number;
  onProgress?: (progress: DemoProgress) => void;
  /** Each stage's counts and rate, about once every `tickMs`, and once more when the run ends. */
  onTick?: (tick: DemoTick) => void;
  /** Spacing of `onTick` calls; default 1000 (they ride on the polls, so at least `pollMs`). */
  tickMs?: number;
}

/** One stage's rows so far, and the rate it handled them at since the previous tick. */
export interface DemoStageTick {
  done: number;
  failed: number;
  /** Rows the stage has to handle: the CSV's rows for ingest, the accepted rows after it. */
  total: number;
  /** (done + failed) gained since the previous tick, per second. */
  rowsPerSecond: number;
}

/** Where every stage of a demo run stands: what a live page draws once a second. */
export interface DemoTick {
  elapsedMs: number;
  rows: number;
  stages: { ingest: DemoStageTick; scrape: DemoStageTick; ai: DemoStageTick };
  messages: number;
  /** Rows that ended as failures, in either stage. */
  failed: number;
  /** Accepted rows with no outcome yet. */
  inProgress: number;
  /** The last tick of the run. */
  final: boolean;
}

export interface DemoProgress {
  elapsedMs: number;
  phase: 'starting' | 'uploading' | 'processing' | 'done';
  upload?: UploadProgress;
}

export interface StageFigures {
  done: number;
  failed: number;
  /** From the start of the upload to the moment the stage had handled its last row. */
  durationMs: number;
  rowsPerSecond: number;
}

export interface ProcessCost {
  cpuUserMs: number;
  cpuSystemMs: number;
  /** (user + system) CPU per accepted row. */
  cpuMsPerRow: number;
  maxRssBytes: number;
}

/** The outcome of a demo run; messages, failed, lost and unfinished are counted from the database. */
export interface DemoResult {
  rows: number;
  accepted: number;
  rejected: number;
  messages: number;
  failed: number;
  /** Rows the system dropped: no message and no failure, and either the run finished or their status is final. */
  lost: number;
  /** Rows still on their way (pending, queued, scraped) when the time bound cut the run; 0 when it finished. */
  unfinished: number;
  duplicated: number;
  durationMs: number;
  rowsPerSecond: number;
  /** The run was cut by its time bound (`timeoutMs`) before every row had an outcome. */
  timedOut: boolean;
  /** The bound the run had, ms. */
  timeoutMs: number;
  /**
   * When cut: how long the whole run would have taken, ms, at the rate rows were settling over its
   * last 30 s (or the whole run when shorter); null when it finished or no row had settled.
   */
  estimatedTotalMs: number | null;
  stages: {
    ingest: { rows: number; durationMs: number; rowsPerSecond: number };
    scrape: StageFigures;
    ai: StageFigures;
  };
  failuresByReason: Record<string, number>;
  processes: { pipeline: ProcessCost; simulators: ProcessCost };
  store: string;
  queue: string;
  host: { cpuModel: string; cores: number; memoryBytes: number; node: string };
}

const DEMO_USER = { email: 'demo@headroom.test', password: 'headroom-demo-password' };

/**
 * Runs the whole pipeline on generated data: starts the simulators (own process) and the pipeline
 * (this process), uploads an N-row CSV through the HTTP API, waits until every row is a message or
 * a failure, and counts the outcome from the database.
 */
export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const startedMs = Date.now();
  const timeoutMs =
    opts.timeoutMs ??
    defaultDemoTimeoutMs(opts.rows, {
      scrapingConcurrency: opts.pipeline?.concurrency?.scraping,
      aiConcurrency: opts.pipeline?.concurrency?.ai_processing,
      simulators: opts.simulators,
    });
  const pollMs = opts.pollMs ?? 500;
  const progress = (p: Omit<DemoProgress, 'elapsedMs'>) =>
    opts.onProgress?.({ elapsedMs: Date.now() - startedMs, ...p });
  progress({ phase: 'starting' });

  let tempDir: string | undefined;
  let store = opts.store;
  if (!store) {
    tempDir = await mkdtemp(path.join(os.tmpdir(), 'headroom-demo-'));
    store = `sqlite:${path.join(tempDir, 'demo.db')}`;
  }
  let sims: RunningSimulators | undefined;
  let pipeline: RunningPipeline | undefined;
  const client = { api: undefined as ApiClient | undefined };
  try {
    sims = await spawnSimulators(opts.simulators);
    const suffix = sims.siteFarm.hostSuffix;
    pipeline = await startPipeline({
      logLevel: 'warn',
      ...opts.pipeline,
      store,
      queue: opts.queue ?? 'in-process',
      http: { host: '127.0.0.1', port: 0 },
      // The site farm answers for *.sites.test on loopback: it is allowlisted by configuration,
      // the SSRF guard itself stays whole.
      scraper: {
        allowHosts: [`*.${suffix}`],
        resolve: { [`*.${suffix}`]: '127.0.0.1' },
        ...opts.pipeline?.scraper,
      },
      llm: { baseUrl: sims.llm.baseUrl, model: 'headroom-sim-1', ...opts.pipeline?.llm },
    });
    const api = new ApiClient(pipeline.apiUrl);
    client.api = api;
    await api.register(DEMO_USER.email, DEMO_USER.password).catch(() => {});
    await api.login(DEMO_USER.email, DEMO_USER.password);

    const cpuStart = process.cpuUsage();
    const simStart = await sims.usage();
    const uploadStartMs = Date.now();
    progress({ phase: 'uploading' });
    const siteUrl = sims.siteUrl.bind(sims);
    const receipt = await api.upload(generateCsv(opts.rows, siteUrl), `demo-${opts.rows}.csv`);

    let upload = await api.getUpload(receipt.id);
    const ticker = demoTicker(opts.rows, startedMs, uploadStartMs, opts.onTick);
    const tickMs = opts.tickMs ?? 1000;
    let lastTickMs = 0;
    let scrapeEndMs = 0;
    let aiEndMs = 0;
    let timedOut = false;
    // Rows settled over time, for the rate a cut run would have gone on at.
    const settledAt: Array<{ ms: number; settled: number }> = [];
    while (upload.status !== 'completed') {
      if (Date.now() - startedMs > timeoutMs) {
        timedOut = true;
        break;
      }
      await sleep(pollMs);
      upload = await api.getUpload(receipt.id);
      const now = Date.now();
      if (!scrapeEndMs && upload.scrape.done + upload.scrape.failed >= upload.ingest.accepted)
        scrapeEndMs = now;
      if (!aiEndMs && scrapeEndMs && upload.ai.done + upload.ai.failed >= upload.scrape.done) aiEndMs = now;
      settledAt.push({ ms: now, settled: upload.ai.done + upload.ai.failed + upload.scrape.failed });
      progress({ phase: 'processing', upload });
      if (now - lastTickMs >= tickMs) {
        lastTickMs = now;
        ticker(upload, now, false);
      }
    }
    const endMs = Date.now();
    ticker(upload, endMs, true);
    const cpu = process.cpuUsage(cpuStart);
    const simEnd = await sims.usage();
    const tally = await pipeline.store.tallyUpload(receipt.id);
    progress({ phase: 'done', upload });

    const durationMs = endMs - uploadStartMs;
    const finished = upload.status === 'completed';
    const unfinished = finished ? 0 : tally.inProgress;
    const estimatedTotalMs = finished ? null : estimateTotalMs(settledAt, uploadStartMs, receipt.accepted);
    const accepted = receipt.accepted;
    const perRow = (us: number) => (accepted ? us / 1000 / accepted : 0);
    const stage = (done: number, failed: number, atMs: number): StageFigures => {
      const ms = (atMs || endMs) - uploadStartMs;
      return { done, failed, durationMs: ms, rowsPerSecond: ms ? ((done + failed) * 1000) / ms : 0 };
    };
    const simCpuUser = simEnd.cpuUserUs - simStart.cpuUserUs;
    const simCpuSystem = simEnd.cpuSystemUs - simStart.cpuSystemUs;
    return {
      rows: receipt.rows,
      accepted,
      rejected: receipt.rejected,
      messages: tally.messages,
      failed: tally.failed,
      lost: tally.lost - unfinished,
      unfinished,
      duplicated: tally.duplicated,
      durationMs,
      // A cut run's rate counts the rows that got an outcome, not the ones still on their way.
      rowsPerSecond: durationMs
        ? ((finished ? accepted : tally.messages + tally.failed) * 1000) / durationMs
        : 0,
      timedOut,
      timeoutMs,
      estimatedTotalMs,
      stages: {
        ingest: {
          rows: receipt.rows,
          durationMs: receipt.ingestMs,
          rowsPerSecond: receipt.ingestMs ? (receipt.rows * 1000) / receipt.ingestMs : 0,
        },
        scrape: stage(upload.scrape.done, upload.scrape.failed, scrapeEndMs),
        ai: stage(upload.ai.done, upload.ai.failed, aiEndMs),
      },
      failuresByReason: tally.failuresByReason,
      processes: {
        pipeline: {
          cpuUserMs: cpu.user / 1000,
          cpuSystemMs: cpu.system / 1000,
          cpuMsPerRow: perRow(cpu.user + cpu.system),
          maxRssBytes: process.resourceUsage().maxRSS * 1024,
        },
        simulators: {
          cpuUserMs: simCpuUser / 1000,
          cpuSystemMs: simCpuSystem / 1000,
          cpuMsPerRow: perRow(simCpuUser + simCpuSystem),
          maxRssBytes: simEnd.maxRssBytes,
        },
      },
      store: pipeline.store.kind,
      queue: pipeline.queue.kind,
      host: {
        cpuModel: os.cpus()[0]?.model ?? 'unknown',
        cores: os.availableParallelism(),
        memoryBytes: os.totalmem(),
        node: process.version,
      },
    };
  } finally {
    await client.api?.close();
    await pipeline?.close();
    await sims?.close();
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
  }
}

/**
 * Turns the upload's counters into ticks: each stage's rate is what it gained since the previous
 * tick (the first tick's, since the upload began), so a stage that stalls drops to 0 at once.
 */
function demoTicker(
  rows: number,
  startedMs: number,
  uploadStartMs: number,
  onTick: ((tick: DemoTick) => void) | undefined,
): (upload: UploadProgress, nowMs: number, final: boolean) => void {
  let prev = { ms: uploadStartMs, ingest: 0, scrape: 0, ai: 0 };
  return (u, nowMs, final) => {
    if (!onTick) return;
    const handled = {
      ingest: u.ingest.accepted + u.ingest.rejected,
      scrape: u.scrape.done + u.scrape.failed,
      ai: u.ai.done + u.ai.failed,
    };
    const seconds = Math.max(nowMs - prev.ms, 1) / 1000;
    const rate = (stage: 'ingest' | 'scrape' | 'ai') => Math.max(0, handled[stage] - prev[stage]) / seconds;
    const failed = u.scrape.failed + u.ai.failed;
    onTick({
      elapsedMs: nowMs - startedMs,
      rows,
      stages: {
        ingest: {
          done: u.ingest.accepted,
          failed: u.ingest.rejected,
          total: rows,
          rowsPerSecond: rate('ingest'),
        },
        scrape: {
          done: u.scrape.done,
          failed: u.scrape.failed,
          total: u.ingest.accepted,
          rowsPerSecond: rate('scrape'),
        },
        // A row that failed its scrape never reaches the AI stage.
        ai: {
          done: u.ai.done,
          failed: u.ai.failed,
          total: u.ingest.accepted - u.scrape.failed,
          rowsPerSecond: rate('ai'),
        },
      },
      messages: u.ai.done,
      failed,
      inProgress: Math.max(0, u.ingest.accepted - u.ai.done - failed),
      final,
    });
    prev = { ms: nowMs, ...handled };
  };
}

/** What the default time bound of a demo is computed from: the settings that make a run slow. */
export interface DemoBoundSettings {
  scrapingConcurrency?: number;
  aiConcurrency?: number;
  simulators?: SimulatorsOptions;
}

/**
 * The default time bound of a demo: generous enough that a run the capacity model would call long
 * is not cut short, yet bounded. Each stage empties N rows at (concurrency ÷ time per row) at best,
 * and the LLM's per-minute limits cap the AI stage; the slowest of those is the expected time,
 * doubled for the fill and drain, retries and a busy machine, plus 2 minutes and 5 ms of CPU per row.
 */
export function defaultDemoTimeoutMs(rows: number, settings: DemoBoundSettings = {}): number {
  const site = settings.simulators?.siteFarm?.latency;
  // A lognormal's mean is its median × e^(σ²/2): rows hold their slots for the mean, not the median.
  const scrapeMs = (site?.medianMs ?? 300) * Math.exp((site?.sigma ?? 0.5) ** 2 / 2);
  const llm = settings.simulators?.llm;
  const completionTokens = llm?.tokensPerMessage ?? 120;
  const aiMs = (llm?.timeToFirstTokenMs ?? 200) + (completionTokens / (llm?.tokensPerSecond ?? 80)) * 1000;
  const scrapeStageMs = (rows * scrapeMs) / (settings.scrapingConcurrency ?? 1500);
  const aiStageMs = (rows * aiMs) / (settings.aiConcurrency ?? 4000);
  const rpm = llm?.rateLimit?.requestsPerMinute;
  const tpm = llm?.rateLimit?.tokensPerMinute;
  // A message's prompt carries the scraped page: providers charge it too, several times the completion.
  const tokensPerMessage = completionTokens + 400;
  const rpmMs = rpm ? (rows / rpm) * 60_000 : 0;
  const tpmMs = tpm ? ((rows * tokensPerMessage) / tpm) * 60_000 : 0;
  const expectedMs = Math.max(scrapeStageMs, aiStageMs, rpmMs, tpmMs);
  return Math.round(120_000 + rows * 5 + 2 * expectedMs);
}

/**
 * The whole run's duration at the rate rows were settling over the last 30 s seen (the whole run
 * when it was shorter): the time spent so far plus what is left at that rate.
 */
function estimateTotalMs(
  settledAt: Array<{ ms: number; settled: number }>,
  uploadStartMs: number,
  accepted: number,
): number | null {
  const last = settledAt.at(-1);
  if (!last || last.settled === 0) return null;
  const from = settledAt.find((p) => p.ms >= last.ms - 30_000 && p.settled < last.settled) ?? {
    ms: uploadStartMs,
    settled: 0,
  };
  const ratePerMs = (last.settled - from.settled) / Math.max(last.ms - from.ms, 1);
  if (!(ratePerMs > 0)) return null;
  return Math.round(last.ms - uploadStartMs + (accepted - last.settled) / ratePerMs);
}
