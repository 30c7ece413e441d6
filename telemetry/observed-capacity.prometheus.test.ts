import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { main } from '../cli/main.js';
import { capturedIo } from '../cli/test-support/captured-io.js';
import {
  ARTIFACTS,
  launchChromium,
  startCommand,
  watch,
} from '../dashboard/test-support/dashboard-browser.js';
import { etaOf, observe } from './observed-capacity.js';
import { PrometheusApi } from './prometheus-api.js';
import { loadTelemetryMapping } from './telemetry-mapping.js';
import { bullmqWithTableRows, describeRun, keepFigures, pipelineRun } from './test-support/observed-runs.js';
import { freePort, startPrometheus } from './test-support/prometheus-server.js';

/**
 * The reference pipeline on PostgreSQL + BullMQ, its API and two worker processes scraped by a
 * real Prometheus every second (telemetry/test-support/observed-runs.ts). A run of N rows is
 * observed over a window of its first part; the time left it forecasts is checked against what the
 * rest of the run really took, and the bottleneck against the one the settings impose.
 */

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

describe('capacity from Prometheus: the reference pipeline on PostgreSQL + BullMQ, two worker processes', () => {
  it('forecasts the time left within 10 % and names the scrape stage at low concurrency (latency-bound)', async () => {
    const r = await pipelineRun(
      {
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
        // The same window read with headroom's own metrics and with BullMQ's exporter.
        presets: ['headroom', 'bullmq'],
        restartWorker: true,
        fixtures: 'latency-bound-restart',
        whileRunning: followOnThePage,
      },
      onTestFinished,
    );
    const why = describeRun(r);
    await keepFigures('latency-bound', why);
    const headroom = r.readings.headroom!;
    const bullmq = r.readings.bullmq!;
    expect(Math.abs(headroom.eta.remainingS / r.actualS - 1), why).toBeLessThanOrEqual(0.1);
    // BullMQ's exporter sees the rows' rate as headroom's own metrics do.
    expect(Math.abs(bullmq.eta.rateRps / headroom.eta.rateRps - 1), why).toBeLessThanOrEqual(0.05);
    for (const { report, obs } of [headroom, bullmq]) {
      expect(report.forecast.bottleneck, why).toMatchObject({
        kind: 'stage',
        stage: 'scrape',
        regime: 'latency-bound',
      });
      expect(report.mode).toBe('observed');
      expect(obs.saturated, why).toBe(true);
    }
    // The queues hold only the rows the pipeline has fed them (it feeds them from its table as they
    // drain): the rows left are the table's, named in a mapping file next to BullMQ's figures.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-mapping-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const mappingFile = path.join(dir, 'mapping.json');
    await writeFile(mappingFile, JSON.stringify(bullmqWithTableRows()));
    const withTable = etaOf(
      await observe(new PrometheusApi(r.prometheus), await loadTelemetryMapping({ file: mappingFile }), {
        window: r.window,
        atS: r.t1,
      }),
    );
    expect(Math.abs(withTable.remainingS / r.actualS - 1), why).toBeLessThanOrEqual(0.1);
    // Every figure names the PromQL it came from.
    expect(
      r.readings.headroom!.report.stages.find((s) => s.stage === 'scrape')!.capacityRps.source,
    ).toContain('headroom_job_duration_seconds_sum{queue="scraping"}');
    expect(bullmq.report.stages.find((s) => s.stage === 'scrape')!.capacityRps.source).toContain(
      'bullmq_job_completed_total{queue="scraping"}',
    );
    // BullMQ exports no concurrency: the peak in flight stands for the slots, and the scrape
    // queue, never dry, is what shows the stage at its capacity; the AI queue ran dry.
    const stage = (name: string) => bullmq.obs.stages.find((s) => s.stage === name)!;
    expect(stage('scrape').slots.value, why).toBe(8);
    expect(stage('scrape').atCapacity, why).toBe(true);
    expect(stage('ai').atCapacity, why).toBe(false);

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
    expect(cli.eta.remainingS).toBeCloseTo(r.readings.headroom!.eta.remainingS, 6);
    expect(cli.forecast.bottleneck.kind).toBe('stage');
  }, 240_000);

  it("forecasts the time left within 10 % and names the LLM provider's limit when its 429s hold the AI stage", async () => {
    const r = await pipelineRun(
      {
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
      },
      onTestFinished,
    );
    const why = describeRun(r);
    await keepFigures('rate-limited', why);
    const { eta, report } = r.readings.headroom!;
    expect(Math.abs(eta.remainingS / r.actualS - 1), why).toBeLessThanOrEqual(0.1);
    expect(report.forecast.bottleneck, why).toMatchObject({ kind: 'llm-rpm', regime: 'provider-limit' });
    expect(report.inputs.llm.rpm!, why).toBeGreaterThan(480 * 0.85);
    expect(report.inputs.llm.rpm!, why).toBeLessThan(480 * 1.1);
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

    // A project file's telemetry is read the same way when no flag names a source.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-project-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const config = path.join(dir, 'headroom.config.json');
    await writeFile(
      config,
      JSON.stringify({
        service: { start: 'celery -A tasks worker', ready: '/health' },
        suite: ['api-stress'],
        telemetry: { prometheus: prometheus.url, preset: 'celery', window: '1m' },
      }),
    );
    const fromFile = capturedIo();
    expect(await main(['capacity', '--config', config, '--rows', '1000'], fromFile)).toBe(2);
    expect(fromFile.err).toContain('HRM_TELEMETRY_MISSING');
    expect(fromFile.err).toMatch(
      /Prometheus has no series of celery_task_succeeded_total, .*which celery preset reads/,
    );
  }, 60_000);
});
