import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { CapacityReport } from '../../analyzer/capacity-report.js';
import { ApiClient } from '../../pipeline/api/api-client.js';
import { generateCsv } from '../../pipeline/ingest/csv-generator.js';
import { startPipeline } from '../../pipeline/pipeline.js';
import { type SimulatorsOptions, startSimulators } from '../../pipeline/sim/simulator-process.js';
import { simPipelineConfig } from '../../pipeline/test-support/quick-config.js';
import { freshPostgres, freshRedis, TEST_REDIS_URL } from '../../pipeline/test-support/test-services.js';
import {
  type Defer,
  spawnCaptured,
  spawnWorker,
  type WorkerProcess,
  workerStarted,
} from '../../pipeline/test-support/worker-process.js';
import { describeHost } from '../../results/host-description.js';
import { capacityFromObservation, type Eta, etaOf, type Observation, observe } from '../observed-capacity.js';
import { PrometheusApi, type RecordedQuery } from '../prometheus-api.js';
import { loadTelemetryMapping, parseTelemetryMapping, type TelemetryMapping } from '../telemetry-mapping.js';
import { freePort, startPrometheus } from './prometheus-server.js';

/**
 * A pipeline run scraped by a real Prometheus, observed from a window of its first part and then
 * run to its end: what `capacity --prometheus` forecast against what the rest of the run took.
 * The tests (telemetry/*.prometheus.test.ts) and `npm run bench:observed` share these runs; a run
 * registers every stop with `defer` (vitest's onTestFinished, or the bench's own stack).
 */

/** What one preset's reading of the window gave. */
export interface PresetReading {
  obs: Observation;
  eta: Eta;
  report: CapacityReport;
}

export interface ObservedRun {
  rows: number;
  /** By preset name. */
  readings: Record<string, PresetReading>;
  /** Seconds from the end of the window until the last row was through. */
  actualS: number;
  window: string;
  /** Unix seconds: the end of the window. */
  t1: number;
  prometheus: string;
}

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

/** What every observed run takes: its rows, its world, when it is observed and what reads it. */
interface RunCase {
  rows: number;
  sims: SimulatorsOptions;
  /** Observe once this share of the rows is through (and at least `minElapsedS` after the upload). */
  observeAtShare: number;
  minElapsedS: number;
  /** The window starts this long after the upload: the first rows' fill is not the steady rate. */
  warmupS: number;
  /** What reads the window: presets by name, or mappings (keyed by their name). */
  presets?: Array<string | TelemetryMapping>;
  /** Record Prometheus's answers here (fixtures for the unit tests) when HEADROOM_RECORD_FIXTURES=1. */
  fixtures?: string;
  /** Runs after the observation, while rows are still left (given Prometheus's URL and the window). */
  whileRunning?: (prometheus: string, window: string) => Promise<void>;
}

/**
 * The reference pipeline's run; read by the headroom preset unless `presets` says otherwise (the
 * API serves BullMQ's exposition too, so the bullmq preset reads this pipeline as well).
 */
export interface PipelineCase extends RunCase {
  /** Per worker process (two of them). */
  concurrency: { scraping: number; ai_processing: number };
  /**
   * When recording fixtures: stop one worker gracefully and start it again on its port in the
   * window, so its counters reset (the recorded answers then show rate() across a reset).
   */
  restartWorker?: boolean;
}

/**
 * The reference pipeline on PostgreSQL + BullMQ: its API and two worker processes, each scraped by
 * Prometheus every second.
 */
export async function pipelineRun(c: PipelineCase, defer: Defer): Promise<ObservedRun> {
  const sims = await startSimulators(c.sims);
  defer(() => sims.close());
  const pg = await freshPostgres();
  defer(pg.drop);
  const redis = await freshRedis('&stalledIntervalMs=1000&lockDurationMs=2000');
  defer(redis.drop);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-observed-'));
  defer(() => rm(dir, { recursive: true, force: true }));
  const config = { ...simPipelineConfig(sims), store: pg.url, queue: redis.url, concurrency: c.concurrency };
  const configFile = path.join(dir, 'pipeline.json');
  await writeFile(configFile, JSON.stringify(config));
  const api = await startPipeline({ ...config, workers: false, http: { port: 0 } });
  defer(() => api.close());
  const ports = [await freePort(), await freePort()];
  const worker = (port: number) =>
    spawnWorker(['--config', configFile, '--metrics-port', String(port)], defer);
  const workers = ports.map(worker);
  await Promise.all(workers.map(workerStarted));
  const prometheus = await startPrometheus({
    targets: [`${api.apiUrl}/metrics`, ...ports.map((p) => `http://127.0.0.1:${p}/metrics`)],
    scrapeIntervalS: 1,
  });
  defer(() => prometheus.close());
  const recorded: RecordedQuery[] = [];
  const reader = new PrometheusApi(prometheus.url, { onAnswer: (q) => recorded.push(q) });
  // Every target scraped at least once before the upload: the counters start from a known zero.
  for (const start = Date.now(); ; await sleep(250)) {
    const up = await reader.query('sum(up)').catch(() => []);
    if (up[0]?.value === 3) break;
    if (Date.now() - start > 30_000) throw new Error('Prometheus did not scrape the three targets in 30 s');
  }

  const client = new ApiClient(api.apiUrl);
  defer(() => client.close());
  await client.register('observed@example.com', 'password1');
  await client.login('observed@example.com', 'password1');
  const t0 = Date.now() / 1000;
  const receipt = await client.upload(generateCsv(c.rows, (i) => sims.siteUrl(i)));
  const through = async () => {
    const u = await client.getUpload(receipt.id);
    return { done: u.ai.done + u.ai.failed + u.scrape.failed, completed: u.status === 'completed' };
  };
  let restarted = !(c.restartWorker && process.env.HEADROOM_RECORD_FIXTURES === '1');
  for (;;) {
    const { done } = await through();
    const elapsed = Date.now() / 1000 - t0;
    if (!restarted && elapsed > c.warmupS + (c.minElapsedS - c.warmupS) / 2) {
      workers[1]!.kill('SIGTERM');
      await new Promise((resolve) => workers[1]!.once('exit', resolve));
      workers[1] = worker(ports[1]!);
      await workerStarted(workers[1]);
      restarted = true;
    }
    if (done >= c.rows * c.observeAtShare && elapsed >= c.minElapsedS && restarted) break;
    await sleep(100);
  }
  const t1 = Math.floor(Date.now() / 1000);
  // Prometheus has scraped past t1 before the window ending at t1 is read.
  await sleep(2_500);
  const window = `${Math.floor(t1 - t0 - c.warmupS)}s`;
  const readings = await readPresets(reader, c.presets ?? ['headroom'], window, t1, c.rows);
  await c.whileRunning?.(prometheus.url, window);
  // Kept with the fixtures: how many counter resets the window holds (the restarted worker's).
  await reader.query(`sum(resets(headroom_job_duration_seconds_count[${window}]))`, t1);
  for (;;) {
    if ((await through()).completed) break;
    if (Date.now() / 1000 - t1 > 600) throw new Error('the run did not finish in 10 minutes');
    await sleep(50);
  }
  const actualS = Date.now() / 1000 - t1;
  if (c.fixtures) await recordFixtures(c.fixtures, prometheus.url, window, t1, actualS, recorded);
  return { rows: c.rows, readings, actualS, window, t1, prometheus: prometheus.url };
}

/**
 * The bullmq preset with the reference pipeline's rows left taken from its table: its queues hold
 * only the rows it has fed them, so BullMQ alone cannot see the rows still to come.
 */
export function bullmqWithTableRows(): TelemetryMapping {
  return parseTelemetryMapping(
    {
      kind: 'headroom.telemetry-mapping',
      version: 1,
      name: 'bullmq preset, rows left from the table',
      extends: 'bullmq',
      rowsLeft: 'sum(headroom_websites{status=~"pending|queued|scraped"})',
    },
    'bullmqWithTableRows',
  );
}

/** Each preset's reading of one window. */
async function readPresets(
  reader: PrometheusApi,
  presets: Array<string | TelemetryMapping>,
  window: string,
  atS: number,
  rows: number,
): Promise<Record<string, PresetReading>> {
  const readings: Record<string, PresetReading> = {};
  for (const preset of presets) {
    const mapping = typeof preset === 'string' ? await loadTelemetryMapping({ preset }) : preset;
    const obs = await observe(reader, mapping, { window, atS });
    readings[typeof preset === 'string' ? preset : preset.name] = {
      obs,
      eta: etaOf(obs),
      report: capacityFromObservation(obs, describeHost(), { rows }),
    };
  }
  return readings;
}

/** HEADROOM_RECORD_FIXTURES=1 writes Prometheus's answers for the unit tests (telemetry/fixtures). */
async function recordFixtures(
  name: string,
  prometheus: string,
  window: string,
  atS: number,
  actualRemainingS: number,
  answers: RecordedQuery[],
): Promise<void> {
  if (process.env.HEADROOM_RECORD_FIXTURES !== '1') return;
  await mkdir(path.join(FIXTURES, name), { recursive: true });
  await writeFile(
    path.join(FIXTURES, name, 'answers.json'),
    `${JSON.stringify({ prometheus, window, atS, actualRemainingS, answers }, null, 1)}\n`,
  );
}

const EXAMPLE = fileURLToPath(new URL('../../examples/celery-pipeline/', import.meta.url));
/** The example's mapping: the celery preset and its own count of the LLM's answers. */
export const CELERY_EXAMPLE_MAPPING = path.join(EXAMPLE, 'headroom-mapping.json');
const PYTHON = '/usr/bin/python3';
const INSTALL =
  'apt-get install -y python3-celery python3-fastapi uvicorn python3-prometheus-client python3-psycopg2 python3-httpx python3-redis (.ci/run installs them)';

async function until(what: string, check: () => Promise<boolean>, outputs: () => string, timeoutMs = 60_000) {
  for (const started = Date.now(); !(await check().catch(() => false)); await sleep(200)) {
    if (Date.now() - started > timeoutMs)
      throw new Error(
        `${what} did not happen in ${timeoutMs / 1000} s (a module missing? ${INSTALL}); output:\n${outputs().slice(-3000)}`,
      );
  }
}

/** The Celery example's run; read by the celery preset unless `presets` says otherwise. */
export interface CeleryCase extends RunCase {
  /** Pool processes of the scrape worker and of the AI worker. */
  slots: { scrape: number; ai: number };
}

/**
 * examples/celery-pipeline (FastAPI + Celery on Redis + PostgreSQL, from Debian's packages) doing
 * upload → scrape → AI message against headroom's simulators: two Celery workers (one per queue),
 * the example's Celery exporter and its API's /metrics (the LLM's answers), scraped by Prometheus
 * every second.
 */
export async function celeryRun(c: CeleryCase, defer: Defer): Promise<ObservedRun> {
  const sims = await startSimulators(c.sims);
  defer(() => sims.close());
  const pg = await freshPostgres();
  defer(pg.drop);
  const pgUrl = new URL(pg.url);
  const schema = pgUrl.searchParams.get('schema')!;
  pgUrl.search = '';
  // Celery's broker has no key prefix in this version: the example gets a database of its own.
  const broker = `${TEST_REDIS_URL.replace(/\/\d*$/, '')}/9`;
  const redis = new Redis(broker, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  await redis.flushdb();
  defer(async () => {
    await redis.flushdb();
    redis.disconnect();
  });
  const env = {
    DATABASE_URL: pgUrl.toString(),
    DATABASE_SCHEMA: schema,
    CELERY_BROKER_URL: broker,
    LLM_BASE_URL: sims.llm.baseUrl,
    RESOLVE: `*.${sims.siteFarm.hostSuffix}=127.0.0.1`,
  };
  const start = (args: string[]): WorkerProcess =>
    spawnCaptured(PYTHON, args, defer, { cwd: EXAMPLE, env, graceful: true });
  const apiPort = await freePort();
  const exporterPort = await freePort();
  const api = start([
    '-m',
    'uvicorn',
    'api:app',
    '--host',
    '127.0.0.1',
    '--port',
    String(apiPort),
    '--log-level',
    'warning',
  ]);
  const worker = (queue: string, slots: number) =>
    start([
      '-m',
      'celery',
      '-A',
      'tasks',
      'worker',
      '-Q',
      queue,
      '-c',
      String(slots),
      '-E',
      '-n',
      `${queue}@%h`,
      '--without-gossip',
      '--without-mingle',
      '--loglevel',
      'WARNING',
    ]);
  const workers = [worker('scrape', c.slots.scrape), worker('ai', c.slots.ai)];
  const exporter = start(['exporter.py', '--port', String(exporterPort)]);
  const outputs = () => [api, ...workers, exporter].map((p) => p.output()).join('\n---\n');
  const base = `http://127.0.0.1:${apiPort}`;
  await until('the API answering /health', async () => (await fetch(`${base}/health`)).ok, outputs);

  const prometheus = await startPrometheus({
    targets: [`http://127.0.0.1:${exporterPort}/metrics`, `${base}/metrics/`],
    scrapeIntervalS: 1,
  });
  defer(() => prometheus.close());
  const recorded: RecordedQuery[] = [];
  const reader = new PrometheusApi(prometheus.url, { onAnswer: (q) => recorded.push(q) });
  // The exporter has seen both workers' pools before the upload.
  await until(
    "the exporter reporting both queues' pool processes",
    async () =>
      (await reader.query('sum(celery_active_process_count)'))[0]?.value === c.slots.scrape + c.slots.ai,
    outputs,
  );
  recorded.length = 0;

  const chunks: Buffer[] = [];
  for await (const chunk of generateCsv(c.rows, (i) => sims.siteUrl(i))) chunks.push(chunk);
  const t0 = Date.now() / 1000;
  const created = await fetch(`${base}/uploads`, {
    method: 'POST',
    body: Buffer.concat(chunks),
    headers: { 'content-type': 'text/csv' },
  });
  if (created.status !== 201)
    throw new Error(`the upload was answered ${created.status}: ${await created.text()}\n${outputs()}`);
  const { id } = (await created.json()) as { id: number };
  const progress = async () =>
    (await (await fetch(`${base}/uploads/${id}`)).json()) as { finished: number; completed: boolean };
  await until(
    `${Math.round(c.observeAtShare * 100)} % of the rows finished`,
    async () =>
      (await progress()).finished >= c.rows * c.observeAtShare && Date.now() / 1000 - t0 >= c.minElapsedS,
    outputs,
    180_000,
  );
  const t1 = Math.floor(Date.now() / 1000);
  await sleep(2_500);
  // The first seconds are not the steady rate: the worker processes open their connections.
  const window = `${Math.floor(t1 - t0 - c.warmupS)}s`;
  const readings = await readPresets(reader, c.presets ?? ['celery'], window, t1, c.rows);
  await c.whileRunning?.(prometheus.url, window);
  await until('every row finished', async () => (await progress()).completed, outputs, 300_000);
  const actualS = Date.now() / 1000 - t1;
  if (c.fixtures) await recordFixtures(c.fixtures, prometheus.url, window, t1, actualS, recorded);
  return { rows: c.rows, readings, actualS, window, t1, prometheus: prometheus.url };
}

/** One line of a run's figures: each preset's time left against the actual, and its bottleneck. */
export function describeRun(r: ObservedRun): string {
  return Object.entries(r.readings)
    .map(
      ([preset, { obs, eta, report }]) =>
        `${preset}: eta ${eta.remainingS.toFixed(1)} s (${eta.source}), actual ${r.actualS.toFixed(1)} s; ` +
        `bottleneck ${report.forecast.bottleneck.kind} ${report.forecast.bottleneck.stage ?? ''}: ${report.forecast.bottleneck.explanation}; ` +
        `llm ${JSON.stringify(Object.fromEntries(Object.entries(obs.llm).map(([k, v]) => [k, v?.value])))}; ` +
        `stages ${JSON.stringify(obs.stages.map((s) => [s.stage, s.utilisation.toFixed(2), s.secondsPerRow.value.toFixed(3), s.slots.value, s.atCapacity]))}`,
    )
    .join(' | ');
}

/** A run's figures, kept as a test artifact (test-artifacts/observed-capacity.log). */
export async function keepFigures(label: string, why: string): Promise<void> {
  const dir = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
  await mkdir(dir, { recursive: true });
  await appendFile(path.join(dir, 'observed-capacity.log'), `${new Date().toISOString()} ${label}: ${why}\n`);
}
