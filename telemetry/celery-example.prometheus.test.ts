import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect, it, onTestFinished } from 'vitest';
import type { CapacityReport } from '../analyzer/capacity-report.js';
import { main } from '../cli/main.js';
import { capturedIo } from '../cli/test-support/captured-io.js';
import { loadTelemetryMapping } from './telemetry-mapping.js';
import { CELERY_EXAMPLE_MAPPING, celeryRun, describeRun, keepFigures } from './test-support/observed-runs.js';

/**
 * The seed team's stack: examples/celery-pipeline (FastAPI + Celery on Redis + PostgreSQL, from
 * Debian's packages) doing upload → scrape → AI message against headroom's simulators, two Celery
 * workers (one per queue) and the example's Celery exporter scraped by a real Prometheus
 * (telemetry/test-support/observed-runs.ts). From a window of the run's first part,
 * `capacity --preset celery` forecasts the time left and names the bottleneck the settings impose.
 */
it('forecasts the time left of a Celery pipeline within 10 % and names its scrape stage (latency-bound)', async () => {
  const r = await celeryRun(
    {
      rows: 1_500,
      // 4 scrape slots at ~0.2 s a page ≈ 20 rows/s; 16 AI slots at ~0.1 s ≈ 160 rows/s.
      slots: { scrape: 4, ai: 16 },
      sims: {
        siteFarm: { seed: 5, sites: 200, latency: { medianMs: 200, sigma: 0.2 } },
        llm: { seed: 5, timeToFirstTokenMs: 50, tokensPerSecond: 2_000, tokensPerMessage: 60 },
      },
      observeAtShare: 1 / 3,
      minElapsedS: 15,
      warmupS: 10,
      fixtures: 'celery-latency-bound',
    },
    onTestFinished,
  );
  const why = describeRun(r);
  await keepFigures('celery latency-bound', why);
  const { eta, report } = r.readings.celery!;
  expect(Math.abs(eta.remainingS / r.actualS - 1), why).toBeLessThanOrEqual(0.1);
  expect(report.forecast.bottleneck, why).toMatchObject({
    kind: 'stage',
    stage: 'scrape',
    regime: 'latency-bound',
  });
  expect(report.stages.find((s) => s.stage === 'scrape')!.capacityRps.source).toContain(
    'celery_task_runtime_sum{queue_name="scrape"}',
  );
}, 300_000);

it("names the LLM provider's limit of a Celery pipeline from the app's own count of 429s, and forecasts the time left within 10 %", async () => {
  // The exporter's events do not say what the LLM answered: the example's mapping adds the app's
  // llm_requests_total{status} (served by its API) to the celery preset.
  const mapping = await loadTelemetryMapping({ file: CELERY_EXAMPLE_MAPPING });
  // The team's own way in: `headroom capacity` beside a project file that names their Prometheus,
  // their mapping and their production host, while the run goes on.
  let fromProject: CapacityReport | undefined;
  const r = await celeryRun(
    {
      rows: 800,
      // Scrapes are fast and plenty; the provider allows 480 requests/min, enforced per second (8/s).
      slots: { scrape: 16, ai: 16 },
      sims: {
        siteFarm: { seed: 6, sites: 200, latency: { medianMs: 40, sigma: 0.2 } },
        llm: {
          seed: 6,
          timeToFirstTokenMs: 50,
          tokensPerSecond: 2_000,
          tokensPerMessage: 60,
          rateLimit: { requestsPerMinute: 480, windowSeconds: 1 },
        },
      },
      observeAtShare: 0.35,
      minElapsedS: 25,
      warmupS: 8,
      presets: ['celery', mapping],
      whileRunning: async (prometheus, window) => {
        fromProject = await capacityOfProject({
          service: { start: 'uvicorn api:app --port $PORT', ready: '/health' },
          suite: ['api-stress'],
          telemetry: { prometheus, mapping: CELERY_EXAMPLE_MAPPING, window },
          hostProfile: 'i5-8500',
        });
      },
    },
    onTestFinished,
  );
  const why = describeRun(r);
  await keepFigures('celery rate-limited', why);
  const { eta, report, obs } = r.readings[mapping.name]!;
  expect(Math.abs(eta.remainingS / r.actualS - 1), why).toBeLessThanOrEqual(0.1);
  expect(obs.llm.rateLimited!.promql).toContain('llm_requests_total{status="429"}');
  expect(report.forecast.bottleneck, why).toMatchObject({ kind: 'llm-rpm', regime: 'provider-limit' });
  expect(report.inputs.llm.rpm!, why).toBeGreaterThan(480 * 0.85);
  expect(report.inputs.llm.rpm!, why).toBeLessThan(480 * 1.1);
  // The celery preset alone sees the same rows' rate, but not why: no 429s in its series.
  expect(r.readings.celery!.report.forecast.bottleneck.kind, why).not.toBe('llm-rpm');
  // The project file's telemetry reads the same: the provider's limit, projected onto its host.
  expect(fromProject!.mode).toBe('observed');
  expect(fromProject!.forecast.bottleneck, why).toMatchObject({ kind: 'llm-rpm' });
  expect(fromProject!.inputs.llm.rpm!, why).toBeGreaterThan(480 * 0.85);
  expect(fromProject!.projection).toMatchObject({ cores: 6 });
}, 300_000);

/** `headroom capacity --config FILE --json` with this project file, from another folder. */
async function capacityOfProject(config: object): Promise<CapacityReport> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-project-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'headroom.config.json');
  await writeFile(file, JSON.stringify(config));
  const io = capturedIo();
  expect(await main(['capacity', '--config', file, '--json'], io), io.err).toBe(0);
  return JSON.parse(io.out) as CapacityReport;
}
