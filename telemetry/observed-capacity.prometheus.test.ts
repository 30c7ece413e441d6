import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { main } from '../cli/main.js';
import { capturedIo } from '../cli/test-support/captured-io.js';
import {
  ARTIFACTS,
  launchChromium,
  startCommand,
  watch,
} from '../dashboard/test-support/dashboard-browser.js';
import { generateCsv } from '../pipeline/ingest/csv-generator.js';
import { startPipeline } from '../pipeline/pipeline.js';
import { type SimulatorsOptions, startSimulators } from '../pipeline/sim/simulator-process.js';
import { loggedInClient, simPipelineConfig } from '../pipeline/test-support/pipeline-test-kit.js';
import { freshPostgres, freshRedis } from '../pipeline/test-support/test-services.js';
import { spawnWorker, workerStarted } from '../pipeline/test-support/worker-process.js';
import { describeHost } from '../scenarios/host-description.js';
import { capacityFromObservation, etaOf, observe } from './observed-capacity.js';
import { PrometheusApi, type RecordedQuery } from './prometheus-api.js';
import { loadTelemetryMapping } from './telemetry-mapping.js';
import { freePort, startPrometheus } from './test-support/prometheus-server.js';

/**
 * The reference pipeline on PostgreSQL + BullMQ, its API and two worker processes scraped by a
 * real Prometheus every second. A run of N rows is observed over a window of its first part; the
 * time left it forecasts is checked against what the rest of the run really took, and the
 * bottleneck against the one the settings impose.
 */
interface Case {
  rows: number;
  /** Per worker process (two of them). */
  concurrency: { scraping: number; ai_processing: number };
  sims: SimulatorsOptions;
  /** Observe once this share of the rows is through (and at least `minElapsedS` after the upload). */
  observeAtShare: number;
  minElapsedS: number;
  /** The window starts this long after the upload: the first rows' fill is not the steady rate. */
  warmupS: number;
  /**
   * When recording fixtures: stop one worker gracefully and start it again on its port in the
   * window, so its counters reset (the recorded answers then show rate() across a reset).
   */
  restartWorker?: boolean;
  /** Record Prometheus's answers here (fixtures for the unit tests). */
  fixtures?: string;
  /** Runs after the observation, while rows are still left (given Prometheus's URL and the window). */
  whileRunning?: (prometheus: string, window: string) => Promise<void>;
}

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

async function observedRun(c: Case) {
  const sims = await startSimulators(c.sims);
  onTestFinished(() => sims.close());
  const pg = await freshPostgres();
  onTestFinished(pg.drop);
  const redis = await freshRedis('&stalledIntervalMs=1000&lockDurationMs=2000');
  onTestFinished(redis.drop);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-observed-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  const config = { ...simPipelineConfig(sims), store: pg.url, queue: redis.url, concurrency: c.concurrency };
  const configFile = path.join(dir, 'pipeline.json');
  await writeFile(configFile, JSON.stringify(config));
  const api = await startPipeline({ ...config, workers: false, http: { port: 0 } });
  onTestFinished(() => api.close());
  const ports = [await freePort(), await freePort()];
  const worker = (port: number) => spawnWorker(['--config', configFile, '--metrics-port', String(port)]);
  const workers = ports.map(worker);
  await Promise.all(workers.map(workerStarted));
  const prometheus = await startPrometheus({
    targets: [`${api.apiUrl}/metrics`, ...ports.map((p) => `http://127.0.0.1:${p}/metrics`)],
    scrapeIntervalS: 1,
  });
  onTestFinished(() => prometheus.close());
  const recorded: RecordedQuery[] = [];
  const reader = new PrometheusApi(prometheus.url, { onAnswer: (q) => recorded.push(q) });
  // Every target scraped at least once before the upload: the counters start from a known zero.
  for (const start = Date.now(); ; await sleep(250)) {
    const up = await reader.query('sum(up)').catch(() => []);
    if (up[0]?.value === 3) break;
    if (Date.now() - start > 30_000) throw new Error('Prometheus did not scrape the three targets in 30 s');
  }

  const client = await loggedInClient(api.apiUrl, 'observed@example.com');
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
  const mapping = await loadTelemetryMapping({ preset: 'headroom' });
  const obs = await observe(reader, mapping, { window, atS: t1 });
  const eta = etaOf(obs);
  const report = capacityFromObservation(obs, describeHost(), { rows: c.rows });
  await c.whileRunning?.(prometheus.url, window);
  // Kept with the fixtures: how many counter resets the window holds (the restarted worker's).
  await reader.query(`sum(resets(headroom_job_duration_seconds_count[${window}]))`, t1);
  for (;;) {
    if ((await through()).completed) break;
    if (Date.now() / 1000 - t1 > 600) throw new Error('the run did not finish in 10 minutes');
    await sleep(50);
  }
  const actualS = Date.now() / 1000 - t1;
  // HEADROOM_RECORD_FIXTURES=1 writes Prometheus's answers for the unit tests (telemetry/fixtures).
  if (c.fixtures && process.env.HEADROOM_RECORD_FIXTURES === '1') {
    await mkdir(path.join(FIXTURES, c.fixtures), { recursive: true });
    await writeFile(
      path.join(FIXTURES, c.fixtures, 'answers.json'),
      `${JSON.stringify({ prometheus: prometheus.url, window, atS: t1, actualRemainingS: actualS, answers: recorded }, null, 1)}\n`,
    );
  }
  return { obs, eta, report, actualS, window, t1, prometheus: prometheus.url };
}

/** The measured figures of each case, kept as a test artifact (test-artifacts/observed-capacity.log). */
async function keep(label: string, why: string): Promise<void> {
  const dir = fileURLToPath(new URL('../test-artifacts/', import.meta.url));
  await mkdir(dir, { recursive: true });
  await appendFile(path.join(dir, 'observed-capacity.log'), `${new Date().toISOString()} ${label}: ${why}\n`);
}

/**
 * `capacity --prometheus --eta --follow --dashboard` while the run goes on: the page, read in
 * Chromium, gains a reading of the time left each second, with no console error.
 */
async function followOnThePage(prometheus: string, window: string): Promise<void> {
  const browser = await launchChromium();
  onTestFinished(() => browser.close());
  const command = startCommand([
    'capacity',
    '--prometheus',
    prometheus,
    '--window',
    window,
    '--eta',
    '--follow',
    '--refresh-s',
    '1',
    '--max-s',
    '4',
    '--dashboard',
    '--dashboard-linger',
    '3',
  ]);
  const url = await command.url;
  expect(url, command.io.err).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  const { page, problems } = await watch(browser, url);
  await page.waitForFunction(
    () =>
      ((window as unknown as { headroomDashboard: { etas?: unknown[] } }).headroomDashboard.etas ?? [])
        .length >= 3,
    undefined,
    { timeout: 20_000 },
  );
  const etas = await page.evaluate(
    () =>
      (
        window as unknown as {
          headroomDashboard: { etas: Array<{ atS: number; remainingS: number; rowsLeft: number }> };
        }
      ).headroomDashboard.etas,
  );
  // Readings a second apart, each with a time left; the rows left only fall while the run goes on.
  for (let i = 1; i < etas.length; i++) {
    expect(etas[i]!.atS).toBeGreaterThan(etas[i - 1]!.atS);
    expect(etas[i]!.rowsLeft).toBeLessThanOrEqual(etas[i - 1]!.rowsLeft);
  }
  expect(etas.every((e) => e.remainingS > 0)).toBe(true);
  expect(await page.locator('#etaNow').textContent()).toMatch(/s left \(90 % /);
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-eta.png'), fullPage: true });
  expect(await command.done, command.io.err).toBe(0);
  expect(problems).toEqual([]);
}

const describeWhy = (r: Awaited<ReturnType<typeof observedRun>>) =>
  `eta ${r.eta.remainingS.toFixed(1)} s (${r.eta.source}), actual ${r.actualS.toFixed(1)} s; bottleneck ${r.report.forecast.bottleneck.kind} ${r.report.forecast.bottleneck.stage ?? ''}: ${r.report.forecast.bottleneck.explanation}; llm ${JSON.stringify(Object.fromEntries(Object.entries(r.obs.llm).map(([k, v]) => [k, v?.value])))}; stages ${JSON.stringify(r.obs.stages.map((s) => [s.stage, s.utilisation.toFixed(2), s.secondsPerRow.value.toFixed(3), s.slots.value]))}`;

describe('capacity from Prometheus: the reference pipeline on PostgreSQL + BullMQ, two worker processes', () => {
  it('forecasts the time left within 10 % and names the scrape stage at low concurrency (latency-bound)', async () => {
    const r = await observedRun({
      rows: 2_400,
      // 2 × 4 scrape slots at ~0.2 s a page ≈ 40 rows/s; 2 × 32 AI slots at ~0.1 s ≈ 600 rows/s.
      concurrency: { scraping: 4, ai_processing: 32 },
      sims: {
        siteFarm: { seed: 3, sites: 200, latency: { medianMs: 200, sigma: 0.2 } },
        llm: { seed: 3, timeToFirstTokenMs: 50, tokensPerSecond: 2_000, tokensPerMessage: 60 },
      },
      observeAtShare: 0.4,
      minElapsedS: 25,
      warmupS: 8,
      restartWorker: true,
      fixtures: 'latency-bound-restart',
      whileRunning: followOnThePage,
    });
    const why = describeWhy(r);
    await keep('latency-bound', why);
    expect(Math.abs(r.eta.remainingS / r.actualS - 1), why).toBeLessThanOrEqual(0.1);
    expect(r.report.forecast.bottleneck, why).toMatchObject({
      kind: 'stage',
      stage: 'scrape',
      regime: 'latency-bound',
    });
    expect(r.report.mode).toBe('observed');
    expect(r.obs.saturated, why).toBe(true);
    // Every figure names the PromQL it came from.
    expect(r.report.stages.find((s) => s.stage === 'scrape')!.capacityRps.source).toContain(
      'headroom_job_duration_seconds_sum{queue="scraping"}',
    );

    // The CLI reads the same window and prints the same forecast.
    const io = capturedIo();
    const args = [
      'capacity',
      '--prometheus',
      r.prometheus,
      '--window',
      r.window,
      '--at',
      String(r.t1),
      '--eta',
      '--json',
    ];
    expect(await main(args, io), io.err).toBe(0);
    const cli = JSON.parse(io.out);
    expect(cli.mode).toBe('observed');
    expect(cli.eta.remainingS).toBeCloseTo(r.eta.remainingS, 6);
    expect(cli.forecast.bottleneck.kind).toBe('stage');
  }, 240_000);

  it("forecasts the time left within 10 % and names the LLM provider's limit when its 429s hold the AI stage", async () => {
    const r = await observedRun({
      rows: 700,
      // Scrapes are fast and plenty; the provider allows 480 requests/min, enforced per second (8/s).
      concurrency: { scraping: 16, ai_processing: 16 },
      sims: {
        siteFarm: { seed: 4, sites: 200, latency: { medianMs: 40, sigma: 0.2 } },
        llm: {
          seed: 4,
          timeToFirstTokenMs: 50,
          tokensPerSecond: 2_000,
          tokensPerMessage: 60,
          rateLimit: { requestsPerMinute: 480, windowSeconds: 1 },
        },
      },
      observeAtShare: 0.3,
      minElapsedS: 20,
      warmupS: 4,
      fixtures: 'llm-rate-limited',
    });
    const why = describeWhy(r);
    await keep('rate-limited', why);
    expect(Math.abs(r.eta.remainingS / r.actualS - 1), why).toBeLessThanOrEqual(0.1);
    expect(r.report.forecast.bottleneck, why).toMatchObject({ kind: 'llm-rpm', regime: 'provider-limit' });
    expect(r.report.inputs.llm.rpm!, why).toBeGreaterThan(480 * 0.85);
    expect(r.report.inputs.llm.rpm!, why).toBeLessThan(480 * 1.1);
  }, 240_000);
});

describe('capacity from Prometheus: errors that say what to do', () => {
  it('names an unreachable Prometheus, a query it refuses, and a metric the preset needs that it lacks', async () => {
    const nowhere = new PrometheusApi(`http://127.0.0.1:${await freePort()}`);
    await expect(nowhere.query('up')).rejects.toMatchObject({ code: 'HRM_PROMETHEUS_UNREACHABLE' });
    await expect(nowhere.query('up')).rejects.toThrow(
      /cannot read Prometheus at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/,
    );

    const prometheus = await startPrometheus({ targets: [] });
    onTestFinished(() => prometheus.close());
    const api = new PrometheusApi(prometheus.url);
    const refused = (await api.query('sum(rate(x[5m])').catch((e: unknown) => e)) as Error;
    expect(refused).toMatchObject({ code: 'HRM_TELEMETRY_QUERY_FAILED' });
    expect(refused.message).toContain('Prometheus refused the query sum(rate(x[5m]): bad_data');

    // Nothing scraped: the preset's first metric is named, with the preset and the figure.
    const io = capturedIo();
    expect(await main(['capacity', '--prometheus', prometheus.url, '--rows', '1000'], io)).toBe(2);
    expect(io.err).toContain('HRM_TELEMETRY_MISSING');
    expect(io.err).toContain(
      'Prometheus has no series of headroom_job_duration_seconds_count, which headroom preset reads for stages.scrape.completed',
    );
  }, 60_000);
});
