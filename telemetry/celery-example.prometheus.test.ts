import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { expect, it, onTestFinished } from 'vitest';
import { generateCsv } from '../pipeline/ingest/csv-generator.js';
import { startSimulators } from '../pipeline/sim/simulator-process.js';
import { freshPostgres, TEST_REDIS_URL } from '../pipeline/test-support/test-services.js';
import { spawnCaptured, type WorkerProcess } from '../pipeline/test-support/worker-process.js';
import { describeHost } from '../scenarios/host-description.js';
import { capacityFromObservation, etaOf, observe } from './observed-capacity.js';
import { PrometheusApi, type RecordedQuery } from './prometheus-api.js';
import { loadTelemetryMapping } from './telemetry-mapping.js';
import { freePort, startPrometheus } from './test-support/prometheus-server.js';

/**
 * The seed team's stack: examples/celery-pipeline (FastAPI + Celery on Redis + PostgreSQL, from
 * Debian's packages) doing upload → scrape → AI message against headroom's simulators, two Celery
 * workers (one per queue) and the example's Celery exporter scraped by a real Prometheus. From a
 * window of the run's first part, `capacity --preset celery` forecasts the time left and names
 * the bottleneck the settings impose.
 */
const EXAMPLE = fileURLToPath(new URL('../examples/celery-pipeline/', import.meta.url));
const PYTHON = '/usr/bin/python3';
const INSTALL =
  'apt-get install -y python3-celery python3-fastapi uvicorn python3-prometheus-client python3-psycopg2 python3-httpx python3-redis (.ci/run installs them)';

function start(args: string[], env: Record<string, string>): WorkerProcess {
  return spawnCaptured(PYTHON, args, { cwd: EXAMPLE, env, graceful: true });
}

async function until(what: string, check: () => Promise<boolean>, outputs: () => string, timeoutMs = 60_000) {
  for (const started = Date.now(); !(await check().catch(() => false)); await sleep(200)) {
    if (Date.now() - started > timeoutMs)
      throw new Error(
        `${what} did not happen in ${timeoutMs / 1000} s (a module missing? ${INSTALL}); output:\n${outputs().slice(-3000)}`,
      );
  }
}

it('forecasts the time left of a Celery pipeline within 10 % and names its scrape stage (latency-bound)', async () => {
  const sims = await startSimulators({
    siteFarm: { seed: 5, sites: 200, latency: { medianMs: 200, sigma: 0.2 } },
    llm: { seed: 5, timeToFirstTokenMs: 50, tokensPerSecond: 2_000, tokensPerMessage: 60 },
  });
  onTestFinished(() => sims.close());
  const pg = await freshPostgres();
  onTestFinished(pg.drop);
  const pgUrl = new URL(pg.url);
  const schema = pgUrl.searchParams.get('schema')!;
  pgUrl.search = '';
  // Celery's broker has no key prefix in this version: the example gets a database of its own.
  const broker = `${TEST_REDIS_URL.replace(/\/\d*$/, '')}/9`;
  const redis = new Redis(broker, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  await redis.flushdb();
  onTestFinished(async () => {
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
  const apiPort = await freePort();
  const exporterPort = await freePort();
  const api = start(
    ['-m', 'uvicorn', 'api:app', '--host', '127.0.0.1', '--port', String(apiPort), '--log-level', 'warning'],
    env,
  );
  const worker = (queue: string, slots: number) =>
    start(
      [
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
      ],
      env,
    );
  // 4 scrape slots at ~0.2 s a page ≈ 20 rows/s; 16 AI slots at ~0.1 s ≈ 160 rows/s.
  const workers = [worker('scrape', 4), worker('ai', 16)];
  const exporter = start(['exporter.py', '--port', String(exporterPort)], env);
  const outputs = () => [api, ...workers, exporter].map((p) => p.output()).join('\n---\n');
  const base = `http://127.0.0.1:${apiPort}`;
  await until('the API answering /health', async () => (await fetch(`${base}/health`)).ok, outputs);

  const prometheus = await startPrometheus({
    targets: [`http://127.0.0.1:${exporterPort}/metrics`],
    scrapeIntervalS: 1,
  });
  onTestFinished(() => prometheus.close());
  const recorded: RecordedQuery[] = [];
  const reader = new PrometheusApi(prometheus.url, { onAnswer: (q) => recorded.push(q) });
  // The exporter has seen both workers' pools before the upload.
  await until(
    "the exporter reporting both queues' pool processes",
    async () => (await reader.query('sum(celery_active_process_count)'))[0]?.value === 20,
    outputs,
  );

  const rows = 1_500;
  const chunks: Buffer[] = [];
  for await (const chunk of generateCsv(rows, (i) => sims.siteUrl(i))) chunks.push(chunk);
  const csv = Buffer.concat(chunks);
  const t0 = Date.now() / 1000;
  const created = await fetch(`${base}/uploads`, {
    method: 'POST',
    body: csv,
    headers: { 'content-type': 'text/csv' },
  });
  expect(created.status, await created.clone().text()).toBe(201);
  const { id } = (await created.json()) as { id: number };
  const progress = async () =>
    (await (await fetch(`${base}/uploads/${id}`)).json()) as { finished: number; completed: boolean };
  await until(
    'a third of the rows finished',
    async () => (await progress()).finished >= rows / 3 && Date.now() / 1000 - t0 >= 15,
    outputs,
    180_000,
  );
  const t1 = Math.floor(Date.now() / 1000);
  await sleep(2_500);
  // The first seconds are not the steady rate: the worker processes open their connections.
  const window = `${Math.floor(t1 - t0 - 10)}s`;
  const obs = await observe(reader, await loadTelemetryMapping({ preset: 'celery' }), { window, atS: t1 });
  const eta = etaOf(obs);
  const report = capacityFromObservation(obs, describeHost(), { rows });
  await until('every row finished', async () => (await progress()).completed, outputs, 300_000);
  const actualS = Date.now() / 1000 - t1;
  // HEADROOM_RECORD_FIXTURES=1 writes Prometheus's answers for the unit tests (telemetry/fixtures).
  if (process.env.HEADROOM_RECORD_FIXTURES === '1') {
    const dir = fileURLToPath(new URL('./fixtures/celery-latency-bound/', import.meta.url));
    await mkdir(dir, { recursive: true });
    const answers = recorded.filter((q) => !q.params.query?.startsWith('sum(celery_active_process_count)'));
    await writeFile(
      path.join(dir, 'answers.json'),
      `${JSON.stringify({ prometheus: prometheus.url, window, atS: t1, actualRemainingS: actualS, answers }, null, 1)}\n`,
    );
  }

  const why = `eta ${eta.remainingS.toFixed(1)} s (${eta.source}), actual ${actualS.toFixed(1)} s; bottleneck ${report.forecast.bottleneck.kind} ${report.forecast.bottleneck.stage ?? ''}: ${report.forecast.bottleneck.explanation}; stages ${JSON.stringify(obs.stages.map((s) => [s.stage, s.utilisation.toFixed(2), s.secondsPerRow.value.toFixed(3), s.slots.value]))}`;
  const artifacts = fileURLToPath(new URL('../test-artifacts/', import.meta.url));
  await mkdir(artifacts, { recursive: true });
  await appendFile(
    path.join(artifacts, 'observed-capacity.log'),
    `${new Date().toISOString()} celery latency-bound: ${why}\n`,
  );
  expect(Math.abs(eta.remainingS / actualS - 1), why).toBeLessThanOrEqual(0.1);
  expect(report.forecast.bottleneck, why).toMatchObject({
    kind: 'stage',
    stage: 'scrape',
    regime: 'latency-bound',
  });
  expect(report.stages.find((s) => s.stage === 'scrape')!.capacityRps.source).toContain(
    'celery_task_runtime_sum{queue_name="scrape"}',
  );
}, 300_000);
