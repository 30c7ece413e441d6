import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TelemetryMissingError, TelemetryTooFewError, UsageInvalidError } from '../errors.js';
import { capacityFromObservation, etaOf, observe, parseWindow } from './observed-capacity.js';
import { PrometheusApi, type RecordedQuery, recordedTransport } from './prometheus-api.js';
import { loadTelemetryMapping, metricNamesOf, parseTelemetryMapping } from './telemetry-mapping.js';

/** Answers a real Prometheus gave during a real run (see fixtures/README.md). */
interface Fixture {
  prometheus: string;
  window: string;
  atS: number;
  actualRemainingS: number;
  answers: RecordedQuery[];
}

function fixture(name: string): Fixture {
  return JSON.parse(
    readFileSync(fileURLToPath(new URL(`./fixtures/${name}/answers.json`, import.meta.url)), 'utf8'),
  );
}

function replay(f: Fixture, edit: (answers: RecordedQuery[]) => RecordedQuery[] = (a) => a) {
  return new PrometheusApi(f.prometheus, { transport: recordedTransport(edit(structuredClone(f.answers))) });
}

const host = { cpuModel: 'recorded', cores: 2, memoryBytes: 24 * 1024 ** 3, os: 'linux', node: 'v20' };

describe('PromQL answers → capacity model, on answers recorded from a real Prometheus', () => {
  it('reads a window in which one worker restarted: the counter reset does not read as a drop', async () => {
    const f = fixture('latency-bound-restart');
    const resets = f.answers.find((a) => a.params.query?.startsWith('sum(resets('))!;
    // The fixture does hold a reset: the restarted worker's counters started again from 0.
    expect(
      Number(
        (resets.body as { data: { result: Array<{ value: [number, string] }> } }).data.result[0]!.value[1],
      ),
    ).toBeGreaterThanOrEqual(1);
    const mapping = await loadTelemetryMapping({ preset: 'headroom' });
    const obs = await observe(replay(f), mapping, { window: f.window, atS: f.atS });
    const scrape = obs.stages.find((s) => s.stage === 'scrape')!;
    // rate() across the reset: the scrape stage's jobs per second stay close to the rows' rate
    // (every row is scraped once; a reset read as a drop would make the rate negative or tiny).
    expect(scrape.completed.value / obs.rowsDone.value).toBeGreaterThan(0.8);
    expect(scrape.completed.value / obs.rowsDone.value).toBeLessThan(1.25);
    const eta = etaOf(obs);
    expect(Math.abs(eta.remainingS / f.actualRemainingS - 1)).toBeLessThanOrEqual(0.15);
    expect(eta.lowS).toBeLessThanOrEqual(eta.remainingS);
    expect(eta.highS).toBeGreaterThanOrEqual(eta.remainingS);
    const report = capacityFromObservation(obs, host, { rows: 500_000 });
    expect(report.forecast.bottleneck).toMatchObject({ kind: 'stage', stage: 'scrape' });
    expect(report.forecast.rateSource).toContain('deriv(headroom_websites');
  });

  it("names the provider's limit from the 429s, with the requests that got through as its rate", async () => {
    const f = fixture('llm-rate-limited');
    const obs = await observe(replay(f), await loadTelemetryMapping({ preset: 'headroom' }), {
      window: f.window,
      atS: f.atS,
    });
    const report = capacityFromObservation(obs, host, { rows: 10_000 });
    expect(report.forecast.bottleneck).toMatchObject({ kind: 'llm-rpm', regime: 'provider-limit' });
    expect(report.inputs.llm.source).toContain('were 429');
    // The simulated provider allows 480 requests/min.
    expect(report.inputs.llm.rpm).toBeGreaterThan(480 * 0.85);
    expect(report.inputs.llm.rpm).toBeLessThan(480 * 1.1);
    // The window's rate is the limit's, not the pipeline's: it does not calibrate the model.
    expect(report.notes.join(' ')).not.toContain('below its capacity');
  });

  it('reads a Celery pipeline through the celery preset: the scrape stage at its 4 slots', async () => {
    const f = fixture('celery-latency-bound');
    const obs = await observe(replay(f), await loadTelemetryMapping({ preset: 'celery' }), {
      window: f.window,
      atS: f.atS,
    });
    const scrape = obs.stages.find((s) => s.stage === 'scrape')!;
    expect(scrape.slots.value).toBe(4);
    // No in-flight gauge per queue in the exporter: Little's law gives it, and it is said so.
    expect(scrape.inFlight.promql).toContain("(Little's law)");
    const report = capacityFromObservation(obs, host, { rows: 500_000 });
    expect(report.forecast.bottleneck).toMatchObject({
      kind: 'stage',
      stage: 'scrape',
      regime: 'latency-bound',
    });
    expect(report.stages.find((s) => s.stage === 'scrape')!.capacityRps.source).toContain(
      'celery_task_runtime_sum{queue_name="scrape"}',
    );
    expect(Math.abs(etaOf(obs).remainingS / f.actualRemainingS - 1)).toBeLessThanOrEqual(0.1);
  });

  it("reads BullMQ's own exporter through the bullmq preset: the peak in flight for slots, the backlog for saturation", async () => {
    // The same window as headroom's own metrics, read from Queue.exportPrometheusMetrics().
    const f = fixture('latency-bound-restart');
    const bullmq = await observe(replay(f), await loadTelemetryMapping({ preset: 'bullmq' }), {
      window: f.window,
      atS: f.atS,
    });
    const own = await observe(replay(f), await loadTelemetryMapping({ preset: 'headroom' }), {
      window: f.window,
      atS: f.atS,
    });
    const stage = (obs: typeof own, name: string) => obs.stages.find((s) => s.stage === name)!;
    // The completed counters live in Redis: a worker's restart does not touch them.
    expect(bullmq.rowsDone.value / own.rowsDone.value).toBeGreaterThan(0.95);
    expect(bullmq.rowsDone.value / own.rowsDone.value).toBeLessThan(1.05);
    // Little's law from the active gauge agrees with the runtime histogram.
    const ratio = stage(bullmq, 'scrape').secondsPerRow.value / stage(own, 'scrape').secondsPerRow.value;
    expect(ratio).toBeGreaterThan(0.9);
    expect(ratio).toBeLessThan(1.1);
    // 2 workers × 4 scrape slots: the scrape queue never ran dry, so its peak is its slots.
    expect(stage(bullmq, 'scrape').slots.value).toBe(8);
    expect(stage(bullmq, 'scrape').medianBacklog!.value).toBeGreaterThan(0);
    expect(stage(bullmq, 'scrape').atCapacity).toBe(true);
    // The AI queue, 64 slots, ran dry: busy against its own peak, yet not at its capacity.
    expect(stage(bullmq, 'ai').medianBacklog!.value).toBe(0);
    expect(stage(bullmq, 'ai').atCapacity).toBe(false);
    const report = capacityFromObservation(bullmq, host, { rows: 500_000 });
    expect(report.forecast.bottleneck).toMatchObject({
      kind: 'stage',
      stage: 'scrape',
      regime: 'latency-bound',
    });
    expect(report.forecast.rateSource).toContain('bullmq_job_completed_total{queue="ai_processing"}');
    // Its rows left are what the queues hold: the reference pipeline feeds them from its table.
    expect(bullmq.rowsLeft!.value).toBeLessThan(own.rowsLeft!.value / 10);
  });

  it('counts a stage whose queue ran dry as below its capacity, however busy its slots', async () => {
    const f = fixture('latency-bound-restart');
    const mapping = await loadTelemetryMapping({ preset: 'bullmq' });
    // Only the AI stage, whose queue was empty most of the window.
    const aiOnly = { ...mapping, stages: { ai: mapping.stages.ai! } };
    const obs = await observe(replay(f), aiOnly, { window: f.window, atS: f.atS });
    expect(obs.saturated).toBe(false);
    const report = capacityFromObservation(obs, host, { rows: 10_000 });
    expect(report.notes.join(' ')).toContain('or no queue had jobs waiting most of the window');
  });

  it('names a missing metric, the preset that reads it and the figure', async () => {
    const f = fixture('latency-bound-restart');
    const withoutSlots = (answers: RecordedQuery[]) =>
      answers.map((a) =>
        a.path === '/api/v1/label/__name__/values'
          ? {
              ...a,
              body: {
                ...(a.body as object),
                data: (a.body as { data: string[] }).data.filter((n) => n !== 'headroom_worker_slots'),
              },
            }
          : a,
      );
    const mapping = await loadTelemetryMapping({ preset: 'headroom' });
    const error = await observe(replay(f, withoutSlots), mapping, { window: f.window, atS: f.atS }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TelemetryMissingError);
    expect((error as Error).message).toContain(
      'Prometheus has no series of headroom_worker_slots, which headroom preset reads for stages.scrape.slots',
    );
  });

  it('says a window with no finished rows has nothing to extrapolate', async () => {
    const f = fixture('latency-bound-restart');
    const obs = await observe(replay(f), await loadTelemetryMapping({ preset: 'headroom' }), {
      window: f.window,
      atS: f.atS,
    });
    expect(() => etaOf({ ...obs, rowsDone: { ...obs.rowsDone, value: 0 } })).toThrow(TelemetryTooFewError);
  });
});

describe('telemetry mapping and window', () => {
  it('finds the metric names a PromQL expression reads, not its functions, labels or keywords', () => {
    expect(
      metricNamesOf(
        'sum by (queue) (rate(celery_task_runtime_sum{queue_name="ai", name=~"x|y"}[5m])) / on(queue) sum(rate(celery_task_runtime_count[5m]))',
      ),
    ).toEqual(['celery_task_runtime_sum', 'celery_task_runtime_count']);
    expect(metricNamesOf('histogram_quantile(0.95, sum by (le) (rate(x_bucket[$window])))')).toEqual([
      'x_bucket',
    ]);
  });

  it('reads windows as Prometheus writes them and refuses the rest with the flag named', () => {
    expect(parseWindow('15m')).toBe(900);
    expect(parseWindow('1h30m')).toBe(5400);
    expect(parseWindow('90s')).toBe(90);
    expect(() => parseWindow('15 minutes')).toThrow(UsageInvalidError);
    expect(() => parseWindow('5s')).toThrow(/at least 10s/);
  });

  it('refuses an unknown preset with the ones there are', async () => {
    await expect(loadTelemetryMapping({ preset: 'nope' })).rejects.toThrow(
      /no preset "nope"; the presets are headroom/,
    );
  });
});

describe('a mapping file', () => {
  it('extends a preset: its stages merged figure by figure, the rest kept, an unknown preset named', async () => {
    const mapping = parseTelemetryMapping(
      {
        kind: 'headroom.telemetry-mapping',
        version: 1,
        name: 'ours',
        extends: 'celery',
        stages: { scrape: { backlog: 'max(our_queue_length)' } },
        llm: { attempts: 'sum(rate(our_llm_total[$window]))' },
      },
      'ours.json',
    );
    const celery = await loadTelemetryMapping({ preset: 'celery' });
    expect(mapping.name).toBe('ours');
    expect(mapping.stages.scrape!.backlog).toBe('max(our_queue_length)');
    expect(mapping.stages.scrape!.completed).toBe(celery.stages.scrape!.completed);
    expect(mapping.stages.ai).toEqual(celery.stages.ai);
    expect(mapping.rowsDone).toBe(celery.rowsDone);
    expect(mapping.processes).toEqual(celery.processes);
    expect(mapping.llm).toEqual({ attempts: 'sum(rate(our_llm_total[$window]))' });
    expect(() =>
      parseTelemetryMapping(
        { kind: 'headroom.telemetry-mapping', version: 1, name: 'ours', extends: 'sidekiq' },
        'ours.json',
      ),
    ).toThrow('/extends: no preset "sidekiq"; the presets are headroom, celery, bullmq');
    // What the merge leaves wrong is the schema's to name.
    expect(() =>
      parseTelemetryMapping(
        {
          kind: 'headroom.telemetry-mapping',
          version: 1,
          name: 'ours',
          extends: 'celery',
          stages: { scrape: { slots: 4 } },
        },
        'ours.json',
      ),
    ).toThrow(/\/stages\/scrape\/slots/);
  });

  it('is checked against its schema, each problem naming the field', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-mapping-'));
    try {
      const file = path.join(dir, 'mapping.json');
      const write = (scrape: object) =>
        writeFile(
          file,
          JSON.stringify({
            kind: 'headroom.telemetry-mapping',
            version: 1,
            name: 'ours',
            stages: { scrape },
            rowsDone: 'sum(rate(z[$range]))',
          }),
        );
      await write({ completed: 'sum(rate(x[$window]))', secondsPerRow: 'y' });
      const error = (await loadTelemetryMapping({ file }).catch((e: unknown) => e)) as Error;
      expect(error).toMatchObject({ code: 'HRM_TELEMETRY_MAPPING_INVALID' });
      expect(error.message).toContain(`${file} is not a valid telemetry mapping`);
      expect(error.message).toContain('/stages/scrape');
      expect(error.message).toContain('slots');
      await write({ completed: 'a', secondsPerRow: 'b', slots: 'c' });
      await expect(loadTelemetryMapping({ file })).rejects.toThrow(
        '/rowsDone: unknown placeholder in sum(rate(z[$range])); only $window is replaced',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
