import { describe, expect, it } from 'vitest';
import { SampleUnusableError } from '../errors.js';
import { normalQuantile } from '../pipeline/sim/normal-quantile.js';
import {
  admissionSeconds,
  capacityFromSample,
  combinedRateInterval,
  rateLimitedSeconds,
  slowestOfLognormalS,
} from './capacity-model.js';
import { capacityReportProblems } from './capacity-report.js';
import type { HostProfile } from './host-profile.js';
import type { CombinedWindow, PipelineSample, StageName, StagePoint } from './pipeline-sample.js';

const MB = 1024 * 1024;
const KB = 1024;
const BASE_RSS = 100 * MB;

/** A stage point built from a time per row: throughput = N ÷ W (Little's law), RSS = base + N × bytes. */
function point(
  n: number,
  throughputRps: number,
  cpu: number,
  external: number,
  bytesPerRow: number,
): StagePoint {
  const meanInFlight = n;
  return {
    concurrency: n,
    meanInFlight,
    throughputRps,
    items: Math.round(throughputRps * 10),
    windowS: 10,
    cpuSecondsPerItem: cpu,
    externalCpuSecondsPerItem: external,
    rssBytes: BASE_RSS + meanInFlight * bytesPerRow,
  };
}

/**
 * A hand-built sample of a 2-core host with the simulators on it. scrape: 0.35 s per row; ai: 2 s
 * per row (both scale linearly: latency-bound); ingest: 20,000 rows/s whatever its concurrency
 * (flat: contention-bound); write: 30,000 rows/s at N=1, 50,000 at N=4.
 */
function sample(combined?: Partial<CombinedWindow>): PipelineSample {
  const concurrency: Record<StageName, number> = { ingest: 2, scrape: 1500, ai: 4000, write: 4 };
  return {
    kind: 'headroom.pipeline-sample',
    version: 1,
    createdAt: '2026-11-23T00:00:00.000Z',
    host: { cpuModel: 'test cpu', cores: 2, memoryBytes: 8 * 1024 * MB, os: 'Linux', node: 'v20' },
    world: { colocatedSimulators: true, llmTokensPerMessage: 120 },
    baseRssBytes: BASE_RSS,
    stages: [
      { stage: 'ingest', points: [1, 2].map((n) => point(n, 20_000, 0.00005, 0, 0)) },
      { stage: 'scrape', points: [100, 400, 1600].map((n) => point(n, n / 0.35, 0.0002, 0.0001, 50 * KB)) },
      { stage: 'ai', points: [100, 400, 1600].map((n) => point(n, n / 2, 0.0001, 0.0001, 20 * KB)) },
      { stage: 'write', points: [point(1, 30_000, 0.00002, 0, 0), point(4, 50_000, 0.00002, 0, 0)] },
    ],
    combined: combined
      ? {
          concurrency,
          throughputRps: 1950,
          fillS: 2.5,
          windowS: 30,
          cpuSecondsPerRow: 0.0004,
          externalCpuSecondsPerRow: 0.0002,
          rssBytes: 400 * MB,
          ...combined,
        }
      : undefined,
    durationMs: 120_000,
  };
}

const i5: HostProfile = {
  kind: 'headroom.host-profile',
  version: 1,
  name: 'i5-8500',
  cores: 6,
  memoryBytes: 15 * 1024 * MB,
};

describe('capacity model from a sample', () => {
  it('finds the latency-bound AI stage as the bottleneck, worked by hand', () => {
    // Ceilings at the configured concurrency: ai 4000 ÷ 2 s = 2,000 rows/s; scrape 1500 ÷ 0.35 s =
    // 4,286; ingest 20,000; CPU 2 cores × 0.9 ÷ 0.6 ms = 3,000; one process 1 core ÷ 0.4 ms = 2,500.
    const report = capacityFromSample(sample({}), { rows: 500_000 });
    const bounds = Object.fromEntries(
      report.host.bounds.map((b) => [b.stage ? `${b.kind}:${b.stage}` : b.kind, b.rateRps]),
    );
    expect(bounds['stage:ai']).toBeCloseTo(2000, 6);
    expect(bounds['stage:scrape']).toBeCloseTo(4285.714, 2);
    expect(bounds.cpu).toBeCloseTo(3000, 6);
    expect(bounds.process).toBeCloseTo(2500, 6);
    expect(report.forecast.bottleneck.stage).toBe('ai');
    expect(report.forecast.bottleneck.regime).toBe('latency-bound');
    expect(report.forecast.bottleneck.explanation).toContain(
      "4,000 rows in flight ÷ 2.000 s per row ≈ 2,000.0 rows/s (Little's law)",
    );
    expect(report.forecast.bottleneck.advice).toMatch(/^raise concurrency/);
  });

  it('forecasts R rows as R ÷ the measured combined rate + fill, not the sum of the stages', () => {
    // The combined window ran at 1,950 rows/s (≥ 90 % of the 2,000 modelled: no calibration).
    // 500,000 ÷ 1,950 = 256.41 s. The drain carries the last row through ai and write: no latency
    // tails in this world, so their means 2 s + 4 ÷ 50,000 = 0.00008 s, less ai's 2 s already inside
    // R ÷ rate (the bottleneck drains its last rows in the time they take anyway) = 0.00008 s. Of the
    // 2.5 s fill, what comes before ai: 2.5 − 2.00008 = 0.49992 s. Total 256.41 + 0.5 = 256.91 s.
    const report = capacityFromSample(sample({}), { rows: 500_000 });
    expect(report.forecast.rateRps).toBe(1950);
    expect(report.forecast.rateSource).toContain('combined window');
    expect(report.forecast.fillAndDrainS.value).toBeCloseTo(0.5, 9);
    expect(report.forecast.totalS).toBeCloseTo(256.91, 2);
    // Adding the stages up: 500k ÷ 20,000 + 500k ÷ 4,285.7 + 500k ÷ 2,000 + 500k ÷ 50,000·(4/4) …
    expect(report.forecast.sumOfStageTimesS).toBeGreaterThan(report.forecast.totalS + 100);
  });

  it('calibrates the one-core process bound from a combined window slowed by the CPU', () => {
    // 1,500 rows/s × 0.6 ms = 0.9 core in the pipeline process; 1,500 × 0.9 ms ÷ 2 cores = 67.5 %
    // of the host. The process is nearer saturation: the calibrated bound is 0.9 ÷ 0.6 ms = 1,500.
    const report = capacityFromSample(
      sample({ throughputRps: 1500, cpuSecondsPerRow: 0.0006, externalCpuSecondsPerRow: 0.0003 }),
      { rows: 500_000 },
    );
    expect(report.inputs.coresPerProcess?.value).toBeCloseTo(0.9, 9);
    expect(report.inputs.coresPerProcess?.source).toMatch(/^calibrated/);
    expect(report.forecast.bottleneck.kind).toBe('process');
    expect(report.forecast.bottleneck.regime).toBe('cpu-bound');
    expect(report.forecast.bottleneck.rateRps).toBeCloseTo(1500, 6);
    expect(report.forecast.bottleneck.advice).toMatch(/more pipeline processes/);
  });

  it('calibrates the host CPU bound when the host, not the process, was full', () => {
    // 1,000 rows/s × (0.5 + 1.3) ms = 1.8 cores of 2 = 90 %; the process used 0.5 core.
    const report = capacityFromSample(
      sample({ throughputRps: 1000, cpuSecondsPerRow: 0.0005, externalCpuSecondsPerRow: 0.0013 }),
      { rows: 100_000 },
    );
    expect(report.inputs.usableCpuUtilisation.value).toBeCloseTo(0.9, 9);
    expect(report.inputs.usableCpuUtilisation.source).toMatch(/^calibrated/);
    expect(report.forecast.bottleneck.kind).toBe('cpu');
    expect(report.forecast.bottleneck.advice).toMatch(/^more cores or cheaper per-row work/);
  });

  it('projects onto the 6-core profile: the one process binds; the most is 6 processes, CPU-bound', () => {
    // Calibrated process: 0.9 core. On i5-8500 the simulators are remote, so only the pipeline's
    // 0.6 ms per row counts. With 1 process: min(ai 2,000, process 0.9 ÷ 0.6 ms = 1,500,
    // CPU 6 × 0.9 ÷ 0.6 ms = 9,000) = 1,500. At most: floor(6 ÷ 0.9) = 6 processes → 9,000 by
    // processes and 9,000 by CPU (a tie: either may be named).
    const report = capacityFromSample(
      sample({ throughputRps: 1500, cpuSecondsPerRow: 0.0006, externalCpuSecondsPerRow: 0.0003 }),
      { rows: 500_000, hostProfile: i5 },
    );
    const p = report.projection!;
    expect(p.rateRps).toBeCloseTo(1500, 6);
    expect(p.bottleneck.kind).toBe('process');
    expect(p.max.processes).toBe(6);
    expect(p.max.rateRps).toBeCloseTo(9000, 6);
    expect(['cpu', 'processes']).toContain(p.max.limitedBy);
    // 1,500 rows/s × 0.6 ms = 0.9 core of 6 busy: 5.1 free.
    expect(p.cpuCoresFree).toBeCloseTo(5.1, 6);
    expect(report.notes.join(' ')).toContain(
      "On i5-8500 the simulators' CPU (0.300 ms per row here) is not counted",
    );
  });

  /** A pinned part at `rps` where a row cost 0.3 ms of the pipeline's CPU and 0.15 ms of the simulators'. */
  const pinnedPart = (rps: number) => ({
    core: 0,
    settleS: 2,
    windowS: 5,
    items: Math.round(rps * 5),
    throughputRps: rps,
    cpuSecondsPerRow: 0.0003,
    externalCpuSecondsPerRow: 0.00015,
  });
  const coresHere = (cores: number): HostProfile => ({
    kind: 'headroom.host-profile',
    version: 1,
    name: `${cores} cores here`,
    cores,
    memoryBytes: 8 * 1024 * MB,
    colocatedSimulators: true,
  });

  it('charges a one-core host the CPU per row measured pinned to one core, and more cores the spread one', () => {
    // Spread over 2 cores a row cost 0.4 + 0.2 ms; pinned to one core, 0.3 + 0.15 ms. One core
    // with the simulators on it: 1 × 0.9 ÷ 0.45 ms = 2,000 rows/s (the spread figure would give
    // 1,500); the process bound 1 core ÷ 0.3 ms = 3,333. Two cores: 2 × 0.9 ÷ 0.6 ms = 3,000.
    const oneCore = pinnedPart(1000);
    const profile = coresHere;
    const bound = (r: ReturnType<typeof capacityFromSample>, kind: string) =>
      r.projection!.bounds.find((b) => b.kind === kind)!;
    const one = capacityFromSample(sample({ oneCore }), { rows: 100_000, hostProfile: profile(1) });
    expect(bound(one, 'cpu').rateRps).toBeCloseTo(2000, 6);
    expect(bound(one, 'cpu').source).toContain('pinned to core 0');
    expect(bound(one, 'process').rateRps).toBeCloseTo(1 / 0.0003, 6);
    expect(one.inputs.oneCore?.cpuSecondsPerRow.value).toBe(0.0003);
    expect(one.notes.join(' ')).toContain('On one core a row cost 0.450 ms of CPU');
    expect(capacityReportProblems(one)).toEqual([]);
    const two = capacityFromSample(sample({ oneCore }), { rows: 100_000, hostProfile: profile(2) });
    expect(bound(two, 'cpu').rateRps).toBeCloseTo(3000, 6);
    // Without the window the one-core host is charged the spread figure, and told so.
    const without = capacityFromSample(sample({ oneCore: { skipped: 'taskset is not installed' } }), {
      rows: 100_000,
      hostProfile: profile(1),
    });
    expect(bound(without, 'cpu').rateRps).toBeCloseTo(1500, 6);
    expect(without.notes.join(' ')).toMatch(
      /No one-core window in the sample \(taskset is not installed\).*pessimistic/,
    );
    // More cores than sampled: what the spread cost more is said, as measured.
    const six = capacityFromSample(sample({ oneCore }), { rows: 100_000, hostProfile: { ...profile(6) } });
    expect(six.notes.join(' ')).toContain('as it did here: 0.450 ms on one core, 0.600 ms on 2');
  });

  it("weighs the pinned part's stages by their CPU per row when a backlog drains between them", () => {
    // Rows finished at 1,000/s, but the scrapers did only 600: AI calls drained a backlog scraped
    // on two cores. A row alone costs ingest 0.05 + scrape 0.3 + AI 0.2 + write 0.02 = 0.57 ms;
    // the part did 0.3 × 600 + 0.22 × 1,000 = 400 ms of that work a second: 701.75 rows' worth.
    // Its CPU (0.3 + 0.15 ms × 1,000 rows/s = 0.45 of the core) over that: 0.641 ms a row, and
    // one core at the assumed 90 % gives 0.9 ÷ 0.641 ms = 1,403.5 rows/s, not 2,000.
    const draining = { ...pinnedPart(1000), stageRps: { scrape: 600, ai: 1000 }, aiShare: 1 };
    const one = capacityFromSample(sample({ oneCore: draining }), {
      rows: 100_000,
      hostProfile: coresHere(1),
    });
    const cpu = one.projection!.bounds.find((b) => b.kind === 'cpu')!;
    expect(cpu.rateRps).toBeCloseTo((0.9 * 400) / 0.57 / 0.45, 6);
    expect(one.inputs.oneCore?.cpuSecondsPerRow.value).toBeCloseTo((0.0003 * 1000 * 0.57) / 400, 12);
    expect(one.inputs.oneCore?.throughputRps).toBeCloseTo(400 / 0.57, 9);
    expect(one.notes.join(' ')).toContain('a backlog drained between them');
    expect(cpu.source).toContain("702 rows' worth of work a second");
    expect(capacityReportProblems(one)).toEqual([]);
    // Scrapers building a backlog: the rows finished understate the work, and the rate rises.
    const building = { ...pinnedPart(1000), stageRps: { scrape: 1400, ai: 1000 }, aiShare: 1 };
    const more = capacityFromSample(sample({ oneCore: building }), {
      rows: 100_000,
      hostProfile: coresHere(1),
    });
    expect(more.inputs.oneCore?.throughputRps).toBeCloseTo((0.3 * 1400 + 0.22 * 1000) / 0.57, 9);
    expect(more.notes.join(' ')).toContain('a backlog built up between them');
    // Rows that failed scraping skip the AI stage: a whole row costs less of it.
    const failing = { ...pinnedPart(1000), stageRps: { scrape: 1000, ai: 500 }, aiShare: 0.5 };
    const half = capacityFromSample(sample({ oneCore: failing }), {
      rows: 100_000,
      hostProfile: coresHere(1),
    });
    expect(half.inputs.oneCore?.throughputRps).toBeCloseTo(
      (0.3 * 1000 + 0.22 * 500) / (0.35 + 0.5 * 0.22),
      9,
    );
    // A sample taken before the stages' rates were kept reads the rows finished, as before.
    const old = capacityFromSample(sample({ oneCore: pinnedPart(1000) }), {
      rows: 100_000,
      hostProfile: coresHere(1),
    });
    expect(old.inputs.oneCore?.throughputRps).toBe(1000);
  });

  it('takes the share of the core the pinned part used, when more than the 90 % assumed, unless --usable-cpu is given', () => {
    // 2,200 rows/s × 0.45 ms = 0.99 of the core: one core gives 0.99 ÷ 0.45 ms = 2,200 rows/s.
    const oneCore = pinnedPart(2200);
    const onto = coresHere;
    const cpuBound = (r: ReturnType<typeof capacityFromSample>) =>
      r.projection!.bounds.find((b) => b.kind === 'cpu')!;
    const one = capacityFromSample(sample({ oneCore }), { rows: 100_000, hostProfile: onto(1) });
    expect(cpuBound(one).rateRps).toBeCloseTo(2200, 6);
    expect(cpuBound(one).explanation).toContain('1 × 99 % usable');
    expect(cpuBound(one).source).toContain('the share of the core the pipeline and the simulators used');
    expect(one.inputs.oneCore?.usableCpuUtilisation?.value).toBeCloseTo(0.99, 9);
    expect(capacityReportProblems(one)).toEqual([]);
    // Two cores keep the assumed share: the pinned part says nothing of them.
    const two = capacityFromSample(sample({ oneCore }), { rows: 100_000, hostProfile: onto(2) });
    expect(cpuBound(two).rateRps).toBeCloseTo((2 * 0.9) / 0.0006, 6);
    // A share given by the user stands.
    const given = capacityFromSample(sample({ oneCore }), {
      rows: 100_000,
      hostProfile: onto(1),
      usableCpuUtilisation: 0.9,
    });
    expect(cpuBound(given).rateRps).toBeCloseTo(0.9 / 0.00045, 6);
    expect(given.inputs.oneCore?.usableCpuUtilisation).toBeNull();
    // A pinned part that did not fill the core (1,000 rows/s × 0.45 ms) leaves the 90 % assumed.
    const idle = capacityFromSample(sample({ oneCore: pinnedPart(1000) }), {
      rows: 100_000,
      hostProfile: onto(1),
    });
    expect(cpuBound(idle).rateRps).toBeCloseTo(2000, 6);
  });

  it("sizes a target rate by Little's law, CPU and memory per row in flight, worked by hand", () => {
    // (The stages' configured concurrency only matters for the bounds; the target sizes its own.)
    // 1,000/min = 16.667 rows/s. Concurrency: scrape 16.667 × 0.35 = 5.83 → 6; ai × 2 = 33.3 → 34.
    // No combined window, so memory per row in flight is each stage's RSS slope: scrape 50 KB, ai 20 KB.
    // RAM = 1 × 100 MB + 6 × 50 KB + 34 × 20 KB = 104,857,600 + 307,200 + 696,320 = 105,861,120 bytes.
    const report = capacityFromSample(sample(), { rows: 500_000, targetRateRps: 1000 / 60 });
    const t = report.target!;
    const stage = (name: string) => t.stages.find((s) => s.stage === name)!;
    expect(stage('scrape').concurrencyLittle).toBe(6);
    expect(stage('ai').concurrencyLittle).toBe(34);
    expect(stage('ai').concurrencyUsl).toBe(34);
    expect(t.processesByCpu).toBe(1);
    expect(t.ramBytes).toBeCloseTo(105_861_120, 0);
    expect(t.fits).toEqual({ cores: true, memory: true });
  });

  it('shows the LLM tier as the bottleneck when its rpm binds, and the tier the target needs', () => {
    const s = sample({ throughputRps: 500 });
    s.world.llmRpm = 30_000;
    // 30,000 rpm = 500 rows/s, below ai 2,000: the provider binds.
    const report = capacityFromSample(s, { rows: 500_000, targetRateRps: 1000 });
    expect(report.forecast.bottleneck.kind).toBe('llm-rpm');
    expect(report.forecast.bottleneck.regime).toBe('provider-limit');
    expect(report.target!.llm).toMatchObject({ rpmNeeded: 60_000, tpmNeeded: 7_200_000, sufficient: false });
    expect(report.forecast.bottleneck.advice).toContain('60,000 requests/min');
  });

  it('applies the LLM limit even when a combined window measured a faster rate, over sliding minutes', () => {
    // A seconds-long combined window cannot see a per-minute limit: it did 1,950 rows/s. 30,000
    // requests/min binds (500 rows/s sustained). 50,000 rows: the first 30,000 pass at 1,950 rows/s
    // in 15.4 s, the window reopens at 60 s, the last 20,000 take 20,000 ÷ 1,950 = 10.256 s:
    // 70.256 s of flow (711.7 rows/s on average). The flow counts admissions: the first waits for
    // the fill before the AI stage (2.5 s − 2 s in ai and after = 0.5 s), the last still needs its
    // 2 s in the AI stage (+ 0.00008 s write): 70.256 + 2.50008 = 72.756 s.
    // R ÷ 500 + fill would say 100.5 s.
    const s = sample({});
    s.world.llmRpm = 30_000;
    const report = capacityFromSample(s, { rows: 50_000, targetRateRps: 1000 });
    expect(report.forecast.bottleneck).toMatchObject({ kind: 'llm-rpm', stage: 'ai', rateRps: 500 });
    expect(report.forecast.rateRps).toBeCloseTo(50_000 / (60 + 20_000 / 1950), 9);
    expect(report.forecast.totalS).toBeCloseTo(72.7565, 3);
    expect(report.forecast.rateSource).toContain('1 whole minute of 30,000 rows, then 20,000 rows');
    expect(report.forecast.bottleneck.advice).toContain('60,000 requests/min');
    expect(report.notes.join(' ')).toContain('rows wait for the provider');
  });

  it('adds the drain of slow sites: the slowest page in flight, then one LLM call', () => {
    // Sites lognormal(median 1.5 s, σ 0.5); scrape 1.72 s per row at every N, 1,500 slots = 872 rows/s;
    // the combined window did 862 rows/s, fill 2.6 s. The bottleneck is scrape (nearest bound).
    // The slowest of 1,500 pages in flight ≈ quantile 1 − 1/1,500: z = 3.2087, 1.5 × e^(0.5 × 3.2087)
    // = 7.4620 s; then one LLM call 0.2 s + 120 tokens ÷ 80/s = 1.7 s; then write 0.00008 s.
    // drain = 7.4620 + 1.7 + 0.00008 − 1.72 = 7.4420 s; start: the 2.6 s fill less what the drain
    // already carries (scrape 1.72 + ai 2 + write 0.00008 s) = 0 s (the fill's AI call was counted
    // twice before: 0.88 s). 50,000 ÷ 862 = 58.0046 s; total 58.0046 + 7.4420 = 65.447 s (measured for
    // real on the reference pipeline in this world: 65.8 s; without the drain the model said 58.9 s).
    const s = sample({ throughputRps: 862, fillS: 2.6 });
    s.stages[1]!.points = [100, 400, 1600].map((n) => point(n, n / 1.72, 0.0002, 0.0001, 50 * KB));
    Object.assign(s.world, {
      siteLatencyMedianMs: 1500,
      siteLatencySigma: 0.5,
      llmTtftMs: 200,
      llmTokensPerSecond: 80,
    });
    const report = capacityFromSample(s, { rows: 50_000 });
    expect(report.forecast.bottleneck).toMatchObject({ kind: 'stage', stage: 'scrape' });
    expect(report.forecast.fillAndDrainS.value).toBeCloseTo(7.44204, 4);
    expect(report.forecast.totalS).toBeCloseTo(65.4467, 3);
    expect(report.forecast.fillAndDrainS.source).toContain('the slowest of 1,500 pages in flight');
  });

  it('warns when the host was busy while sampling, and counts failed rows', () => {
    const s = sample({});
    s.hostLoad = { loadAverage1mStart: 7.5, loadAverage1mEnd: 9.1 };
    s.stages[2]!.points[0]!.failedItems = 20;
    const notes = capacityFromSample(s, { rows: 1000 }).notes.join('\n');
    expect(notes).toContain('load average 7.5 → 9.1 on 2 cores');
    // ai's points finished 500 + 2,000 + 8,000 = 10,500 rows (throughput × 10 s): 20 failed = 0.2 %.
    expect(notes).toContain('ai: 20 of 10,500 rows finished as failures in the sample (0.2 %)');
  });

  it('keeps RAM to base plus rows in flight, never rows × MB per row', () => {
    // No combined window: the rate is the lowest bound, ai at 2,000 rows/s. Rows in flight:
    // scrape min(1,500, 2,000 × 0.35) = 700, ai min(4,000, 2,000 × 2) = 4,000.
    // RAM = 100 MB + 700 × 50 KB + 4,000 × 20 KB = 104,857,600 + 35,840,000 + 81,920,000 = 222,617,600.
    const report = capacityFromSample(sample(), {
      rows: 10_000_000,
      concurrency: { scrape: 1500, ai: 4000 },
    });
    expect(report.forecast.rateRps).toBeCloseTo(2000, 6);
    expect(report.host.memoryUsedBytes).toBeCloseTo(222_617_600, 0);
  });

  it('takes memory per row in flight from the combined window when there is one', () => {
    // Rows in flight at 1,950 rows/s: scrape 682.5 + ai 3,900 + ingest 0.195 + write 0.156 =
    // 4,582.851; (400 MB − 100 MB) ÷ 4,582.851 = 314,572,800 ÷ 4,582.851 = 68,641.3 bytes per row. At that same rate the model
    // must give back the RSS the window measured.
    const report = capacityFromSample(sample({}), { rows: 10_000_000 });
    expect(report.stages[1]!.memoryPerInFlightBytes!.value).toBeCloseTo(68_641.3, 0);
    expect(report.host.memoryUsedBytes).toBeCloseTo(400 * MB, 0);
  });

  it('raises a stage fit that falls below what all stages did together', () => {
    // Combined 4,400 rows/s > ai 2,000 alone: ai's curve is scaled ×2.2 to pass through 4,400.
    const report = capacityFromSample(sample({ throughputRps: 4400 }), { rows: 1000 });
    const ai = report.stages.find((s) => s.stage === 'ai')!;
    expect(ai.capacityRps.value).toBeCloseTo(4400, 6);
    expect(ai.capacityRps.source).toContain('raised ×2.20');
    expect(report.forecast.rateRps).toBe(4400);
  });

  it('names the stage that finished no rows', () => {
    const s = sample();
    s.stages[2]!.points = s.stages[2]!.points.map((p) => ({ ...p, items: 0, throughputRps: 0 }));
    expect(() => capacityFromSample(s, { rows: 10 })).toThrow(SampleUnusableError);
    expect(() => capacityFromSample(s, { rows: 10 })).toThrow(
      /\/stages\/2 \(ai\): no point finished any rows/,
    );
  });
});

describe('issue 14: forecasts that hold on any world', () => {
  it('charges prompt + completion tokens against a tokens/min limit, and names the tier the target needs', () => {
    // 1,200,000 tokens/min ÷ (290 prompt + 120 completion) = 2,926.8 messages/min = 48.78 rows/s,
    // not the 1,200,000 ÷ 120 ÷ 60 = 166.7 rows/s the completion alone would give.
    const s = sample({ tokens: { prompt: 290, completion: 120, messages: 20_000 } });
    s.world.llmTpm = 1_200_000;
    const report = capacityFromSample(s, { rows: 30_000, targetRateRps: 100 });
    expect(report.inputs.llm.tokensPerMessage).toBe(410);
    expect(report.inputs.llm.promptTokensPerMessage).toBe(290);
    expect(report.forecast.bottleneck.kind).toBe('llm-tpm');
    expect(report.forecast.bottleneck.rateRps).toBeCloseTo(1_200_000 / 60 / 410, 6);
    expect(report.forecast.bottleneck.explanation).toContain('÷ 410 tokens per message');
    // 100 rows/s × 60 × 410 tokens = 2,460,000 tokens/min: above the limit, a higher tier.
    expect(report.target!.llm).toMatchObject({ tpmNeeded: 2_460_000, sufficient: false });
    expect(report.forecast.bottleneck.advice).toContain('2,460,000 tokens/min');
    // 30,000 rows under 2,926.8 per sliding minute: 10 whole minutes, then 731.7 rows at 1,950/s.
    const perMinute = 1_200_000 / 410;
    expect(report.forecast.totalS - report.forecast.fillAndDrainS.value).toBeCloseTo(
      600 + (30_000 - 10 * perMinute) / 1950,
      6,
    );
  });

  it("reads a combined window below the stages alone as shared CPU when the sample ran without the provider's limits", () => {
    // Stages alone: the AI stage's 2,000 rows/s at its 4,000 slots. The provider: 19,680,000
    // tokens/min ÷ 410 = 800 rows/s. The combined window: 1,000 rows/s, the pipeline process busy
    // (1,000 × 0.9 ms = 0.9 cores).
    const s = sample({
      throughputRps: 1000,
      cpuSecondsPerRow: 0.0009,
      tokens: { prompt: 290, completion: 120, messages: 20_000 },
    });
    s.world.llmTpm = 19_680_000;
    // Windows run under the limit may have been held by it: no calibration against 800 rows/s.
    const under = capacityFromSample(s, { rows: 100_000 });
    expect(JSON.stringify(under.inputs)).not.toContain('calibrated');
    // Windows run without it were held by what the stages share: the CPU, calibrated here.
    s.world.llmLimitsInSample = false;
    const lifted = capacityFromSample(s, { rows: 100_000 });
    expect(JSON.stringify(lifted.inputs)).toContain('calibrated');
    expect(lifted.inputs.llm.source).toContain('lifted while sampling, applied here');
    // Either way the limit binds and the forecast flows at it.
    expect(lifted.forecast.bottleneck.kind).toBe('llm-tpm');
    expect(lifted.forecast.bottleneck.rateRps).toBeCloseTo(800, 6);
  });

  it('takes tokens per message from the AI windows when there is no combined window', () => {
    const s = sample();
    s.world.llmTpm = 600_000;
    const ai = s.stages.find((m) => m.stage === 'ai')!;
    ai.points[0]!.tokens = { prompt: 300, completion: 100, messages: 100 };
    ai.points[1]!.tokens = { prompt: 300, completion: 140, messages: 300 };
    const report = capacityFromSample(s, { rows: 10_000 });
    // (100 × 400 + 300 × 440) ÷ 400 = 430 tokens per message.
    expect(report.inputs.llm.tokensPerMessage).toBeCloseTo(430, 9);
    expect(report.forecast.bottleneck.rateRps).toBeCloseTo(600_000 / 60 / 430, 6);
  });

  it('says so when an old sample knows only the completion length', () => {
    const s = sample({});
    s.world.llmTpm = 1_200_000;
    const report = capacityFromSample(s, { rows: 10_000 });
    expect(report.inputs.llm.tokensPerMessage).toBe(120);
    expect(report.notes.join('\n')).toMatch(/does not record the tokens a message really costs/);
  });

  it('names a configured concurrency outside the measured levels, in the notes and in report.json', () => {
    // AI measured at N = 100…1,600; the pipeline is configured at 4,000.
    const report = capacityFromSample(sample({}), { rows: 10_000 });
    const ai = report.stages.find((st) => st.stage === 'ai')!;
    expect(ai.concurrency).toBe(4000);
    expect(ai.measuredConcurrency).toEqual({ min: 100, max: 1600, outside: true });
    expect(report.stages.find((st) => st.stage === 'scrape')!.measuredConcurrency?.outside).toBe(false);
    expect(report.notes).toContainEqual(
      expect.stringMatching(/^ai: the configured concurrency N=4,000 lies outside the measured N=100…1,600/),
    );
    expect(capacityReportProblems(report)).toEqual([]);
  });

  it('evaluates a stage at its configured concurrency even without a combined window', () => {
    const s = sample();
    s.configured = { ingest: 2, scrape: 1500, ai: 800, write: 4 };
    const report = capacityFromSample(s, { rows: 10_000 });
    const ai = report.stages.find((st) => st.stage === 'ai')!;
    // Not the largest measured (1,600): 800 ÷ 2 s = 400 rows/s.
    expect(ai.concurrency).toBe(800);
    expect(ai.capacityRps.value).toBeCloseTo(400, 6);
    expect(report.forecast.bottleneck).toMatchObject({ kind: 'stage', stage: 'ai' });
  });

  it("gives the forecast an interval from the combined window's own seconds", () => {
    // 20 s steady from 10 s: 2,000 rows/s in the first half, 1,900 in the second, marks every 0.5 s.
    const timeline: NonNullable<CombinedWindow['timeline']> = [];
    let finished = 0;
    for (let t = 0.5; t <= 31; t += 0.5) {
      if (t > 10) finished += (t <= 20 ? 2000 : 1900) * 0.5 + (Math.round(t * 2) % 3) * 10;
      timeline.push({ tS: t, finished: Math.round(finished), scrapeActive: 1500, aiActive: 3900 });
    }
    const combined = { throughputRps: 1950, steadyFromS: 10, windowS: 20, timeline };
    const interval = combinedRateInterval({ ...sample(combined).combined! }, 'test')!;
    // The halves (≈ 2,010 and 1,910 rows/s before centring on 1,950) bound it; the seconds' spread is small.
    expect(interval.low).toBeLessThan(1950);
    expect(interval.high).toBeGreaterThan(1950);
    expect(interval.low).toBeGreaterThan(1800);
    expect(interval.high).toBeLessThan(2100);
    expect(interval.source).toMatch(/bootstrap over its 20 seconds/);
    const report = capacityFromSample(sample(combined), { rows: 500_000 });
    const f = report.forecast;
    expect(f.interval).not.toBeNull();
    expect(f.interval!.lowS).toBeLessThan(f.totalS);
    expect(f.interval!.highS).toBeGreaterThan(f.totalS);
    expect(f.interval!.highS).toBeCloseTo(500_000 / interval.low + f.fillAndDrainS.value, 6);
    expect(capacityReportProblems(report)).toEqual([]);
  });

  it("reads a stage that got no window of its own from the combined window, by Little's law", () => {
    // No AI points; in the combined window 16 AI rows in flight at 10 rows/s = 1.6 s per row, so the
    // configured 20 slots would do 20 ÷ 1.6 = 12.5 rows/s.
    const timeline = Array.from({ length: 40 }, (_, i) => ({
      tS: 0.5 * (i + 1),
      finished: Math.max(0, Math.round((0.5 * (i + 1) - 5) * 10)),
      scrapeActive: 5,
      aiActive: 16,
    }));
    const s = sample({
      concurrency: { ingest: 2, scrape: 100, ai: 20, write: 4 },
      throughputRps: 10,
      windowS: 10,
      steadyFromS: 8,
      timeline,
    });
    s.stages = s.stages.filter((m) => m.stage !== 'ai');
    const report = capacityFromSample(s, { rows: 1_000 });
    const ai = report.stages.find((st) => st.stage === 'ai')!;
    expect(ai.capacityRps.value).toBeCloseTo(12.5, 9);
    expect(ai.secondsPerRow!.value).toBeCloseTo(1.6, 9);
    expect(report.notes.join('\n')).toMatch(
      /ai: no window of its own .* 16.0 rows in flight ÷ 10.00 rows\/s = 1.60 s per row/,
    );
    expect(report.notes.join('\n')).not.toMatch(/Not measured: ai/);
  });

  it('counts rows held by hanging sites in the drain: the slowest row waits out the timeout', () => {
    // Scrape binds (200 slots ÷ 0.35 s = 571 rows/s); 5 % faults, 2 % of rows hang: of 200 in flight
    // about 4 do, so the last of them ends at the scraper's 20 s total timeout + a retry.
    const s = sample();
    s.configured = { ingest: 2, scrape: 200, ai: 4000, write: 4 };
    s.world = { ...s.world, siteLatencyMedianMs: 300, siteLatencySigma: 0.5, faultRate: 0.05 };
    const report = capacityFromSample(s, { rows: 10_000 });
    expect(report.forecast.bottleneck).toMatchObject({ kind: 'stage', stage: 'scrape' });
    expect(report.forecast.fillAndDrainS.source).toMatch(/total timeout 20 s/);
    const clean = capacityFromSample({ ...s, world: { ...s.world, faultRate: 0 } }, { rows: 10_000 });
    expect(report.forecast.fillAndDrainS.value - clean.forecast.fillAndDrainS.value).toBeGreaterThan(15);
  });
});

describe('hanging sites at the start of a run', () => {
  it('admits rows at the clean rate first, slowing to the steady rate over one hold, worked by hand', () => {
    // From 196 rows/s to 76.5 over 20.5 s: A(τ) = 196 τ − 2.9146 τ² until 20.5 s (2,793.1 rows).
    const start = { rps: 196, overS: 20.5 };
    const a = (196 - 76.5) / 41;
    expect(admissionSeconds(2_007, 76.5, start)).toBeCloseTo(
      (196 - Math.sqrt(196 ** 2 - 4 * a * 2_007)) / (2 * a),
      9,
    );
    expect(admissionSeconds(2_007, 76.5, start)).toBeCloseTo(12.6, 2);
    // Past the hold: the rest at the steady rate.
    expect(admissionSeconds(4_938, 76.5, start)).toBeCloseTo(20.5 + (4_938 - 2_793.125) / 76.5, 9);
    // No start faster than the steady rate: R ÷ rate.
    expect(admissionSeconds(4_938, 76.5)).toBeCloseTo(4_938 / 76.5, 9);
    expect(admissionSeconds(4_938, 76.5, { rps: 70, overS: 20 })).toBeCloseTo(4_938 / 76.5, 9);
    // Under a limit, the last minute's rows are freed at the first minute's pace.
    expect(rateLimitedSeconds(4_938, 76.5, 2_929, start)).toBeCloseTo(
      60 + admissionSeconds(2_009, 76.5, start),
      9,
    );
  });

  it('takes a combined window slowed with the CPU idle as a stage (the scrapers under hanging sites), not a CPU bound', () => {
    // 200 scrape slots alone at 0.35 s a row: 571 rows/s; the combined window did 300 with the
    // process at 300 × 0.4 ms = 0.12 cores. 4 % faults: rows hang for the 20 s timeout.
    const s = sample({ throughputRps: 300 });
    s.combined!.concurrency.scrape = 200;
    s.world = { ...s.world, siteLatencyMedianMs: 300, siteLatencySigma: 0.5, faultRate: 0.04 };
    const report = capacityFromSample(s, { rows: 30_000 });
    expect(JSON.stringify(report.inputs)).not.toContain('calibrated');
    expect(report.forecast.bottleneck).toMatchObject({ kind: 'stage', stage: 'scrape' });
    expect(report.stages.find((x) => x.stage === 'scrape')!.capacityRps.source).toContain('lowered ×');
    // The run starts at the scrapers' clean rate (200 ÷ 0.34 s ≈ 588 rows/s, the AI stage's 2,000
    // allows it) and slows to 300 over the hold: faster than 30,000 ÷ 300.
    const flowS = report.forecast.totalS - report.forecast.fillAndDrainS.value;
    expect(flowS).toBeLessThan(30_000 / 300);
    expect(flowS).toBeGreaterThan(30_000 / 300 - (20.6 * (588 - 300)) / 2 / 300 - 0.5);
    expect(report.forecast.rateSource).toContain('starting at');
    // Without hanging sites, the slowest stage alone (ai, 2,000 rows/s) is lowered to the window.
    const clean = sample({ throughputRps: 1000 });
    const named = capacityFromSample(clean, { rows: 30_000 });
    expect(JSON.stringify(named.inputs)).not.toContain('calibrated');
    expect(named.forecast.bottleneck).toMatchObject({ kind: 'stage', stage: 'ai', regime: 'latency-bound' });
    expect(named.stages.find((x) => x.stage === 'ai')!.capacityRps.source).toContain('lowered ×0.50');
    expect(named.notes.join(' ')).toContain(
      'ai, the slowest stage alone, whose rows took longer with the others running',
    );
    // The same window on a host whose CPU was busy (1.2 cores) is a CPU bound, calibrated.
    const busy = sample({ throughputRps: 300, cpuSecondsPerRow: 0.004 });
    busy.combined!.concurrency.scrape = 200;
    busy.world = s.world;
    expect(JSON.stringify(capacityFromSample(busy, { rows: 30_000 }).inputs)).toContain('calibrated');
  });
});

describe('capacity report file', () => {
  it('matches its schema with a projection, a target and a calibrated CPU bound', () => {
    const report = capacityFromSample(
      sample({ throughputRps: 1500, cpuSecondsPerRow: 0.0006, externalCpuSecondsPerRow: 0.0003 }),
      { rows: 500_000, hostProfile: i5, targetRateRps: 1000 / 60 },
    );
    expect(capacityReportProblems(JSON.parse(JSON.stringify(report)))).toEqual([]);
  });

  it('names the field a broken report gets wrong', () => {
    const report = JSON.parse(JSON.stringify(capacityFromSample(sample({}), { rows: 10 })));
    report.forecast.bottleneck.regime = 'slow';
    delete report.host.max;
    const problems = capacityReportProblems(report).join('\n');
    expect(problems).toContain('/forecast/bottleneck/regime: must be one of');
    expect(problems).toContain('/host: missing field "max"');
  });
});

describe('a per-minute LLM limit over R rows', () => {
  it('passes a burst of the limit each minute, worked by hand', () => {
    // 50,000 rows, 30,000/min, 1,589 rows/s unlimited: one whole minute, then 20,000 ÷ 1,589.
    expect(rateLimitedSeconds(50_000, 1589, 30_000)).toBeCloseTo(60 + 20_000 / 1589, 9);
    // Exactly two minutes' worth: the second burst ends 60 + 30,000 ÷ 1,000 = 90 s in.
    expect(rateLimitedSeconds(60_000, 1000, 30_000)).toBeCloseTo(90, 9);
    // Fewer rows than one minute allows: the limit never shows.
    expect(rateLimitedSeconds(20_000, 1000, 30_000)).toBeCloseTo(20, 9);
    // A limit above the pipeline's own rate does not bind: R ÷ X.
    expect(rateLimitedSeconds(50_000, 400, 30_000)).toBeCloseTo(125, 9);
  });

  it('ends with whichever is later: the last admitted row through the AI stage, or the pipeline without the limit and its drain', () => {
    // 1,000 rows/s allowed (60,000/min); the pipeline does 1,950 alone.
    const limitedBy = (s: PipelineSample) => {
      s.world.llmRpm = 60_000;
      s.world.llmLimitsInSample = false;
      return s;
    };
    // 100,000 rows: one whole minute, then 40,000 rows as the window frees them, at 1,950 rows/s.
    const many = capacityFromSample(limitedBy(sample({})), { rows: 100_000 }).forecast;
    expect(many.fillAndDrainS.source).toMatch(/^from the last admission: /);
    expect(many.totalS).toBeCloseTo(60 + 40_000 / 1950 + many.fillAndDrainS.value, 6);
    expect(many.rateSource).toContain('40,000 rows as the window frees them, at the pace they were admitted');
    expect(many.totalS).toBeGreaterThan(capacityFromSample(sample({}), { rows: 100_000 }).forecast.totalS);
    // Rows that hang for the scraper's 20 s timeout, and 500 rows past the first minute at 1,100
    // rows/s: the limited run would end at 60 s + 0.5 s + the AI tail, but the pipeline without the
    // limit needs 60,500 ÷ 1,100 = 55 s and the hanging rows' drain: that is the run.
    const hanging = (s: PipelineSample) => {
      s.world = { ...s.world, faultRate: 0.08, siteLatencyMedianMs: 300, siteLatencySigma: 0.5 };
      return s;
    };
    const free = capacityFromSample(hanging(sample({ throughputRps: 1100 })), { rows: 60_500 }).forecast;
    const few = capacityFromSample(limitedBy(hanging(sample({ throughputRps: 1100 }))), {
      rows: 60_500,
    }).forecast;
    expect(free.fillAndDrainS.value).toBeGreaterThan(10);
    expect(few.totalS).toBeCloseTo(free.totalS, 6);
    expect(few.bottleneck.kind).toBe('llm-rpm');
    expect(few.rateSource).toContain('the pipeline without the limit ends later');
  });

  it('passes rows in waves through an AI stage whose slots fill at once and whose calls take a fixed time', () => {
    // 1,000 AI slots at 2 s a call = 500 rows/s; the scrapers (4,286 rows/s) fill them in 0.23 s.
    const waved = (rows: number) => {
      const s = sample({ throughputRps: 500 });
      s.combined!.concurrency.ai = 1000;
      return capacityFromSample(s, { rows }).forecast;
    };
    // 2,500 rows: three waves of 2 s (the third half full), not 2,500 ÷ 500 = 5 s.
    const f = waved(2_500);
    expect(f.bottleneck).toMatchObject({ kind: 'stage', stage: 'ai', regime: 'latency-bound' });
    expect(f.totalS - f.fillAndDrainS.value).toBeCloseTo(6, 9);
    expect(f.rateSource).toContain('⌈R ÷ 1,000⌉ = 3 waves of 2.00 s');
    // Whole waves: the same as the fluid rate.
    expect(waved(3_000).totalS - waved(3_000).fillAndDrainS.value).toBeCloseTo(6, 9);
    // Calls whose time varies (p95 twice the median) blur the waves: the fluid rate.
    const s = sample({ throughputRps: 500 });
    s.combined!.concurrency.ai = 1000;
    for (const p of s.stages.find((m) => m.stage === 'ai')!.points)
      p.externalLatencyMs = { p50: 1500, p95: 3000, mean: 2000 };
    const blurred = capacityFromSample(s, { rows: 2_500 }).forecast;
    expect(blurred.totalS - blurred.fillAndDrainS.value).toBeCloseTo(5, 9);
  });

  it('tends to R ÷ (limit per minute ÷ 60) for R far above the limit', () => {
    // 10,000,000 rows at 30,000/min: 333 whole minutes + 10,000 ÷ 2,000 = 19,985 s vs 20,000 s.
    expect(rateLimitedSeconds(10_000_000, 2000, 30_000)).toBeCloseTo(19_985, 6);
  });
});

describe('the slowest row of many in flight', () => {
  it('reads the normal quantiles the tail uses', () => {
    expect(normalQuantile(0.5)).toBeCloseTo(0, 9);
    expect(normalQuantile(0.99)).toBeCloseTo(2.326348, 5);
    expect(normalQuantile(0.999)).toBeCloseTo(3.090232, 5);
    expect(normalQuantile(0.01)).toBeCloseTo(-2.326348, 5);
  });

  it('takes the 1 − 1/N quantile of a lognormal, at least its 99th percentile', () => {
    // 1,500 in flight: quantile 0.999333, z = 3.2087, 1.5 s × e^(0.5 × 3.2087) = 7.462 s.
    expect(slowestOfLognormalS(1.5, 0.5, 1500).seconds).toBeCloseTo(7.462, 3);
    // 10 in flight: the 99th percentile, 0.3 × e^(0.5 × 2.3263) = 0.9600 s.
    expect(slowestOfLognormalS(0.3, 0.5, 10)).toMatchObject({ quantile: 0.99 });
    expect(slowestOfLognormalS(0.3, 0.5, 10).seconds).toBeCloseTo(0.96, 4);
  });
});
