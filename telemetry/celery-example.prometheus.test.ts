import { expect, it, onTestFinished } from 'vitest';
import { celeryRun, describeRun, keepFigures } from './test-support/observed-runs.js';

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
