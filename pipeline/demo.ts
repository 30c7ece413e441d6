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
  /** Upper bound of the whole run; default 2 minutes + 5 ms per row. */
  timeoutMs?: number;
  pollMs?: number;
  onProgress?: (progress: DemoProgress) => void;
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

/** The outcome of a demo run; messages, failed and lost are counted from the database. */
export interface DemoResult {
  rows: number;
  accepted: number;
  rejected: number;
  messages: number;
  failed: number;
  lost: number;
  duplicated: number;
  durationMs: number;
  rowsPerSecond: number;
  timedOut: boolean;
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
  const timeoutMs = opts.timeoutMs ?? 120_000 + opts.rows * 5;
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
    let scrapeEndMs = 0;
    let aiEndMs = 0;
    let timedOut = false;
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
      progress({ phase: 'processing', upload });
    }
    const endMs = Date.now();
    const cpu = process.cpuUsage(cpuStart);
    const simEnd = await sims.usage();
    const tally = await pipeline.store.tallyUpload(receipt.id);
    progress({ phase: 'done', upload });

    const durationMs = endMs - uploadStartMs;
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
      lost: tally.lost,
      duplicated: tally.duplicated,
      durationMs,
      rowsPerSecond: durationMs ? (accepted * 1000) / durationMs : 0,
      timedOut,
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
