import { SampleUnusableError } from '../errors.js';
import { normalQuantile } from '../pipeline/sim/normal-quantile.js';
import { SeededRandom } from '../pipeline/sim/seeded-random.js';
import {
  type Bottleneck,
  CAPACITY_REPORT_KIND,
  CAPACITY_REPORT_VERSION,
  type CapacityBound,
  type CapacityReport,
  type CapacityStage,
  type CapacityStagePoint,
  type HostCapacity,
  type TargetAnswer,
  type Traced,
} from './capacity-report.js';
import type { HostProfile } from './host-profile.js';
import {
  heldRowSeconds,
  type OneCoreWindow,
  PIPELINE_SAMPLE_KIND,
  PIPELINE_SAMPLE_VERSIONS_READ,
  type PipelineSample,
  type StageMeasurement,
  type StageName,
  type StagePoint,
  type TokensPerMessage,
} from './pipeline-sample.js';
import { fitUsl, type UslFit, uslConcurrencyFor, uslThroughput } from './usl-fit.js';

/**
 * The capacity model. Stages of the pipeline run at the same time on different rows, so the
 * pipeline's rate is the lowest of its ceilings: each stage's capacity at its concurrency, the CPU
 * that every stage (and co-located simulators) share, one Node process's single core, and the LLM
 * provider's rpm/tpm limits. Time for R rows = R ÷ that rate + fill and drain — never the sum of
 * the stages' times. Memory = base RSS per process + memory per row in flight × rows in flight —
 * never rows × MB per row.
 */

/** Settings of a capacity computation that are not in the sample. */
export interface CapacityOptions {
  rows: number;
  /** A rate to size for, e.g. 1000/min = 16.67 rows/s. */
  targetRateRps?: number;
  /** Project the pipeline onto this host. */
  hostProfile?: HostProfile;
  /** Pipeline processes (measured mode: the sample ran one). */
  processes?: number;
  /** Rows in flight per stage per process; defaults to the combined window's, else the largest measured. */
  concurrency?: Partial<Record<StageName, number>>;
  /** Share of the cores' time the pipeline can use, unless the combined window calibrates it. */
  usableCpuUtilisation?: number;
  /** Share of a host's memory the pipeline may fill. */
  usableMemoryFraction?: number;
  /** Where the sample came from, for provenance (a file name, or "sample taken now"). */
  source?: string;
}

/** Default share of the cores' time the pipeline can use: the OS, the database and the rest need some. */
export const DEFAULT_USABLE_CPU = 0.9;
/** Default share of memory the pipeline may fill, leaving the page cache and the OS room. */
export const DEFAULT_USABLE_MEMORY = 0.9;
/** Below this throughput ÷ λN a stage's curve has flattened: concurrency no longer buys throughput. */
const FLATTENED_EFFICIENCY = 0.7;
/** A combined window this far below the modelled stage ceiling was slowed by something shared: the CPU. */
const COMBINED_SHORTFALL = 0.9;

/** One stage as the model sees it, from a sample or a declared file. */
export interface ModelStage {
  stage: StageName;
  points: CapacityStagePoint[];
  fit: UslFit | null;
  /** Configured rows in flight per process. */
  concurrency: number;
  /** Lowest and highest concurrency measured (measured mode); the configured one may lie outside. */
  measuredRange?: { min: number; max: number };
  /** Rows/s one process finishes in this stage at concurrency `n`. */
  ratePerProcess(n: number): number;
  /** Whether raising concurrency raises this stage's rate (false: a fixed per-process rate). */
  scalesWithConcurrency: boolean;
  /** The most one process gets from this stage by concurrency alone (the fitted curve's ceiling); null when unbounded. */
  ceilingPerProcessRps: number | null;
  /** Factor the fitted curve was scaled by to pass through the combined window (1 when not). */
  fitScale: number;
  capacitySource: string;
  secondsPerRow: Traced | null;
  /** Seconds per row measured nearest to concurrency `n` (per process); absent when it does not vary. */
  secondsPerRowAt?: (n: number) => Traced | null;
  cpuSecondsPerRow: Traced | null;
  externalCpuSecondsPerRow: Traced | null;
  externalLatencyMs: { p50: number; p95: number; mean: number } | null;
  memoryPerInFlightBytes: Traced | null;
}

export interface HostSpec {
  name: string;
  /** Whether the simulators' CPU counts on this host (the sampled host: yes; a production profile: no,
   * its sites and LLM are remote). */
  simulatorsOnHost: boolean;
  cpuModel?: string;
  cores: number;
  memoryBytes: number;
  reservedMemoryBytes: number;
}

/** Everything the model needs, whichever way it was obtained. */
export interface CapacityModelInput {
  mode: 'measured' | 'declared' | 'observed';
  source: string;
  rows: number;
  targetRateRps: number | null;
  host: HostSpec;
  profile: HostSpec | null;
  processes: number;
  stages: ModelStage[];
  /** Slots per process that every stage shares (one worker pool serving every queue); null when each stage has its own. */
  sharedSlotsPerProcess: number | null;
  baseRssBytes: Traced | null;
  cpuSecondsPerRow: Traced | null;
  externalCpuSecondsPerRow: Traced | null;
  /**
   * CPU per row with the pipeline and the simulators pinned to one core (the end of the combined
   * window), charged on a one-core host instead of the figures above, which were measured spread
   * over the sampled host's cores; null when not measured.
   */
  oneCore?: {
    cpuSecondsPerRow: Traced;
    externalCpuSecondsPerRow: Traced | null;
    throughputRps: number;
    /**
     * Share of the one core the pinned part used (pipeline and simulators): usable on a one-core
     * host when it is more than the share assumed or calibrated; null when `--usable-cpu` was given.
     */
    usableCpuUtilisation?: Traced | null;
  } | null;
  colocatedSimulators: boolean;
  usableCpuUtilisation: Traced;
  coresPerProcess: Traced | null;
  usableMemoryFraction: number;
  /**
   * The provider's limits. `tokensPerMessage` is what one message costs against tokens/min: prompt +
   * completion (the provider charges both); `promptTokensPerMessage` is the prompt's share, when known.
   */
  llm: {
    rpm: number | null;
    tpm: number | null;
    tokensPerMessage: number | null;
    promptTokensPerMessage?: number | null;
    source: string;
  };
  fillS: Traced;
  /** The rate measured with every stage at once at exactly the configured concurrency on `host`. */
  measuredRate: Traced | null;
  /**
   * How far that rate can be trusted: the 90 % interval of the combined window's rate from its own
   * variation (a bootstrap over its seconds); null when there is no combined window to resample.
   */
  measuredRateInterval?: { low: number; high: number; source: string } | null;
  /**
   * Per stage, the time the slowest of the last rows in flight takes in it (the tail of the stage's
   * latency, not its mean): what the drain at the end of a run waits for. Absent: the drain is
   * taken as inside R ÷ rate (declared mode, where no latency distribution is known).
   */
  drainTails?: Partial<Record<StageName, Traced>>;
  /**
   * Rows whose site hangs hold a scrape slot for `holdS`: from the start of a run the held slots
   * pile up over one hold, so the scrapers start at their clean rate (slots ÷ `cleanRowS`) and
   * slow to the steady one. Absent without hanging sites (or in declared and observed modes).
   */
  hangingRows?: { holdS: number; cleanRowS: number; source: string };
  combined: CapacityReport['inputs']['combined'];
  notes: string[];
}

/** Computes the capacity report from a pipeline sample (measured mode). */
export function capacityFromSample(sample: PipelineSample, opts: CapacityOptions): CapacityReport {
  return buildCapacityReport(modelInputFromSample(sample, opts));
}

/** Turns a sample into model input: a USL fit per stage, and the CPU bound calibrated by the combined window. */
export function modelInputFromSample(sample: PipelineSample, opts: CapacityOptions): CapacityModelInput {
  const source = opts.source ?? 'pipeline sample';
  checkSample(sample, source);
  const combined = sample.combined;
  const notes: string[] = [];
  const colocated = sample.world.colocatedSimulators;
  const stages: ModelStage[] = [];
  const fromCombined = stagesFromCombined(sample, source);
  for (const m of fromCombined) notes.push(m.note);
  for (const measurement of [...sample.stages, ...fromCombined.map((m) => m.measurement)]) {
    const usable = measurement.points.filter((p) => p.throughputRps > 0 && p.items > 0);
    const name = measurement.stage;
    const at = (i: number) => `${source}: stages.${name} point N=${usable[i]!.concurrency}`;
    const fit = fitUsl(usable.map((p) => ({ concurrency: p.concurrency, throughputRps: p.throughputRps })));
    const largest = Math.max(...usable.map((p) => p.concurrency));
    const smallest = Math.min(...usable.map((p) => p.concurrency));
    const configuredN = opts.concurrency?.[name] ?? sample.configured?.[name] ?? combined?.concurrency[name];
    if (configuredN === undefined)
      notes.push(
        `${name}: the sample does not say the configured concurrency (a version 1 sample without a combined window): evaluated at the largest measured, N=${fmt(largest)}.`,
      );
    const concurrency = configuredN ?? largest;
    // Measured in a separate window per level, so a level within 5 % of the configured one is
    // taken as the configured one; beyond that the curve is read outside what was measured.
    if (concurrency > largest * 1.05 || concurrency < smallest / 1.05)
      notes.push(
        `${name}: the configured concurrency N=${fmt(concurrency)} lies outside the measured N=${fmt(smallest)}…${fmt(largest)}: its rate there is the fitted curve's extrapolation${combined ? ' (the combined window ran at it)' : ''}.`,
      );
    const near = nearestPoint(usable, concurrency);
    const point = usable[near]!;
    const littleAt = (i: number): Traced => ({
      value: usable[i]!.meanInFlight / usable[i]!.throughputRps,
      source: `${at(i)}: mean in flight ${fmt(usable[i]!.meanInFlight, 1)} ÷ ${fmt(usable[i]!.throughputRps, 1)} rows/s (Little's law)`,
    });
    const extrapolated =
      concurrency > fit.maxConcurrency * 1.05 || concurrency < fit.minConcurrency / 1.05
        ? `, extrapolated from N=${fit.minConcurrency}…${fit.maxConcurrency}`
        : '';
    stages.push({
      stage: name,
      points: usable.map((p) => ({
        concurrency: p.concurrency,
        throughputRps: p.throughputRps,
        meanInFlight: p.meanInFlight,
        cpuSecondsPerItem: p.cpuSecondsPerItem,
        rssBytes: p.rssBytes,
      })),
      fit,
      concurrency,
      measuredRange: { min: smallest, max: largest },
      ratePerProcess: (n) => uslThroughput(fit, n),
      scalesWithConcurrency: true,
      ceilingPerProcessRps: fit.ceilingRps,
      fitScale: 1,
      capacitySource: `USL fit of ${source}: stages.${name} (${usable.length} points) at N=${fmt(concurrency)}${extrapolated}`,
      secondsPerRow: littleAt(near),
      secondsPerRowAt: (n) => littleAt(nearestPoint(usable, n)),
      cpuSecondsPerRow: { value: point.cpuSecondsPerItem, source: `${at(near)}: pipeline CPU per row` },
      externalCpuSecondsPerRow: colocated
        ? { value: point.externalCpuSecondsPerItem, source: `${at(near)}: simulators' CPU per row` }
        : null,
      externalLatencyMs: point.externalLatencyMs ?? null,
      memoryPerInFlightBytes: memoryPerInFlight(usable, sample.baseRssBytes, `${source}: stages.${name}`),
    });
  }

  const missing = (['ingest', 'scrape', 'ai', 'write'] as const).filter(
    (n) => !stages.some((s) => s.stage === n),
  );
  if (missing.length)
    notes.push(
      `Not measured: ${missing.join(', ')}. Their capacity is not in the model, so the bottleneck may be missing; sample for longer.`,
    );
  if (!combined)
    notes.push(
      'No combined window (every stage at once): the CPU bound adds up the stages measured one at a time and may be optimistic.',
    );
  // Per-row CPU: the stages were measured one at a time; with every stage at once the same row
  // costs more (one event loop, one heap and GC, the database and the simulators all compete), so
  // the combined window's CPU per row is the figure that holds when the pipeline really runs.
  const stageCpu = sum(stages.map((s) => s.cpuSecondsPerRow?.value ?? 0));
  const stageExternal = sum(stages.map((s) => s.externalCpuSecondsPerRow?.value ?? 0));
  const cpuSecondsPerRow: Traced = combined
    ? {
        value: combined.cpuSecondsPerRow,
        source: `${source}: combined window, pipeline CPU per row (all stages at once)`,
      }
    : { value: stageCpu, source: `${source}: sum of the stages' CPU per row (measured one stage at a time)` };
  const externalCpuSecondsPerRow: Traced | null = colocated
    ? combined
      ? {
          value: combined.externalCpuSecondsPerRow,
          source: `${source}: combined window, simulators' CPU per row`,
        }
      : { value: stageExternal, source: `${source}: sum of the stages' simulator CPU per row` }
    : null;
  const oneCore = oneCoreOf(sample, opts, source, colocated, notes);
  if (combined && stageCpu > 0)
    notes.push(
      `CPU per row with every stage at once: ${ms(combined.cpuSecondsPerRow)} (the stages alone add up to ${ms(stageCpu)}); the model uses the combined figure.`,
    );

  let usableCpu: Traced = opts.usableCpuUtilisation
    ? { value: opts.usableCpuUtilisation, source: 'given (--usable-cpu)' }
    : {
        value: DEFAULT_USABLE_CPU,
        source: `assumed: ${DEFAULT_USABLE_CPU * 100} % of the cores' time (the OS and other processes need the rest)`,
      };
  // A Node process runs its JavaScript on one event loop: one core, whatever the host has.
  let coresPerProcess: Traced = { value: 1, source: 'one Node event loop per process runs on one core' };
  let measuredRate: Traced | null = null;
  const processes = opts.processes ?? 1;
  const tokens = tokensPerMessage(sample, source);
  if (tokens.note) notes.push(tokens.note);
  const configured = (s: ModelStage) => (combined ? combined.concurrency[s.stage] === s.concurrency : false);
  if (combined && processes === 1 && stages.every(configured)) {
    measuredRate = {
      value: combined.throughputRps,
      source: `${source}: combined window, ${fmt(combined.windowS, 0)} s with every stage at its configured concurrency`,
    };
    // Calibration. When all stages at once ran clearly slower than the slowest stage alone, what
    // held them back is shared: the cores (or the one event loop). The CPU they actually got is
    // then the usable CPU under contention, which no isolated stage measurement can show; using it
    // makes the CPU ceiling on this host equal to what the combined window achieved.
    const stageCeiling = Math.min(...stages.map((s) => s.ratePerProcess(s.concurrency)));
    // Only a sample that ran under the provider's limits can have been held by them.
    const llmCeiling =
      sample.world.llmLimitsInSample === false
        ? null
        : llmBoundRps(sample.world.llmRpm, sample.world.llmTpm, tokens.total);
    const modelled = Math.min(stageCeiling, llmCeiling ?? Number.POSITIVE_INFINITY);
    const processCores = combined.throughputRps * combined.cpuSecondsPerRow;
    const hostShare =
      (combined.throughputRps * (combined.cpuSecondsPerRow + (externalCpuSecondsPerRow?.value ?? 0))) /
      sample.host.cores;
    const held = heldRowSeconds(sample.world);
    const shortfall = combined.throughputRps < COMBINED_SHORTFALL * modelled && combined.cpuSecondsPerRow > 0;
    // With the CPU far from busy, a shortfall is not a CPU limit: a stage's rows took longer with
    // every stage at once than alone. Hanging sites hold scrape slots for a timeout each, which
    // windows of a few seconds alone never see pile up (the combined window's steady part starts
    // after a hold): then the scrapers. Otherwise the slowest stage, whose rows wait longer on the
    // event loop and the database the other stages share (9 scrape slots of 192 KB pages did 20
    // rows/s together, 25 alone, with the pipeline process at 0.15 cores).
    const scrapeStage = stages.find((s) => s.stage === 'scrape');
    const slowest = stages.reduce<ModelStage | undefined>(
      (a, s) => (!a || s.ratePerProcess(s.concurrency) < a.ratePerProcess(a.concurrency) ? s : a),
      undefined,
    );
    // A stage read from the combined window already ran with the others: below its slots, it was
    // starved, not slow, and is not lowered.
    const readTogether = new Set(fromCombined.map((m) => m.measurement.stage));
    const lowered =
      held && scrapeStage ? scrapeStage : slowest && !readTogether.has(slowest.stage) ? slowest : undefined;
    if (shortfall && lowered?.fit && processCores < 0.7 && hostShare < 0.7) {
      const fitted = lowered.ratePerProcess(lowered.concurrency);
      const scale = combined.throughputRps / fitted;
      const fit = lowered.fit;
      lowered.ratePerProcess = (n) => scale * uslThroughput(fit, n);
      if (lowered.ceilingPerProcessRps !== null) lowered.ceilingPerProcessRps *= scale;
      lowered.fitScale = scale;
      const hanging = held && lowered === scrapeStage ? held : null;
      const why = hanging
        ? `the scrapers, whose slots hanging sites hold for ${fmt(hanging.seconds, 1)} s`
        : `${lowered.stage}, the slowest stage alone, whose rows took longer with the others running`;
      lowered.capacitySource += `, lowered ×${fmt(scale, 2)} to the combined window's ${fmt(combined.throughputRps, 0)} rows/s (${hanging ? 'rows held by hanging sites pile up only past a hold' : 'every stage at once, the CPU far from busy'}; the fit alone gave ${fmt(fitted, 0)})`;
      notes.push(
        `All stages at once did ${fmt(combined.throughputRps, 0)} rows/s, below the slowest stage alone (${fmt(modelled, 0)} rows/s), with the CPU far from busy (${fmt(processCores, 2)} cores in the pipeline process, ${fmt(hostShare * 100, 0)} % of the host): ${why}, taken at that rate.`,
      );
    } else if (shortfall) {
      // A share the user gave is kept; then only the one-process bound can be calibrated.
      if (processCores >= hostShare || opts.usableCpuUtilisation !== undefined) {
        coresPerProcess = {
          value: processCores,
          source: `calibrated: the pipeline process used ${fmt(processCores, 2)} cores in the combined window (${fmt(combined.throughputRps, 0)} rows/s × ${ms(combined.cpuSecondsPerRow)})`,
        };
      } else {
        usableCpu = {
          value: hostShare,
          source: `calibrated: the combined window used ${fmt(hostShare * 100, 0)} % of ${sample.host.cores} cores (${fmt(combined.throughputRps, 0)} rows/s × ${ms(combined.cpuSecondsPerRow + (externalCpuSecondsPerRow?.value ?? 0))})`,
        };
      }
      notes.push(
        `All stages at once did ${fmt(combined.throughputRps, 0)} rows/s, below the slowest stage alone (${fmt(modelled, 0)} rows/s): the CPU bound is calibrated from that window.`,
      );
      if (processCores < 0.7 && hostShare < 0.7)
        notes.push(
          `That window used only ${fmt(processCores, 2)} cores in the pipeline process and ${fmt(hostShare * 100, 0)} % of the host: something else shared (the database, a lock) may be the limit; the calibrated CPU bound stands in for it.`,
        );
    } else {
      // A stage whose isolated fit gives less at its configured concurrency than every stage
      // together achieved is underestimated there (a noisy or extrapolated point): it did at least
      // the combined rate, so its curve is scaled up to pass through it.
      for (const s of stages) {
        const fitted = s.ratePerProcess(s.concurrency);
        if (fitted >= combined.throughputRps) continue;
        const scale = combined.throughputRps / fitted;
        const fit = s.fit!;
        s.ratePerProcess = (n) => scale * uslThroughput(fit, n);
        if (s.ceilingPerProcessRps !== null) s.ceilingPerProcessRps *= scale;
        s.fitScale = scale;
        s.capacitySource += `, raised ×${fmt(scale, 2)} to the combined window's ${fmt(combined.throughputRps, 0)} rows/s (the fit alone gave ${fmt(fitted, 0)})`;
        notes.push(
          `${s.stage}'s fit gives ${fmt(fitted, 0)} rows/s at N=${fmt(s.concurrency)}, less than the ${fmt(combined.throughputRps, 0)} rows/s all stages did together: its curve is scaled up to the combined window.`,
        );
      }
    }
    // Memory per row in flight, from the window that ran the configured pipeline: RSS above idle ÷
    // the rows in flight then (Little's law per stage at the combined rate). Isolated windows run
    // one after another in one process, so their RSS also carries what earlier windows left behind.
    const inFlight = sum(
      stages.map((s) => Math.min(s.concurrency, combined.throughputRps * (s.secondsPerRow?.value ?? 0))),
    );
    if (inFlight > 0) {
      const perRow: Traced = {
        value: Math.max(0, (combined.rssBytes - sample.baseRssBytes) / inFlight),
        source: `${source}: combined window, (RSS ${mb(combined.rssBytes)} − idle ${mb(sample.baseRssBytes)}) ÷ ${fmt(inFlight)} rows in flight`,
      };
      for (const s of stages) s.memoryPerInFlightBytes = perRow;
    }
  }

  const baseRss: Traced = {
    value: sample.baseRssBytes,
    source: `${source}: RSS of the idle pipeline process`,
  };
  notes.push(...sampleWarnings(sample, stages));
  const fillS: Traced = combined
    ? { value: combined.fillS, source: `${source}: combined window, time until the first row was complete` }
    : {
        value: sum(stages.map((s) => s.secondsPerRow?.value ?? 0)),
        source: "sum of the stages' seconds per row (the first row passes through each in turn)",
      };
  return {
    mode: 'measured',
    source,
    rows: opts.rows,
    targetRateRps: opts.targetRateRps ?? null,
    host: {
      name: 'sampled host',
      simulatorsOnHost: true,
      cpuModel: sample.host.cpuModel,
      cores: sample.host.cores,
      memoryBytes: sample.host.memoryBytes,
      reservedMemoryBytes: 0,
    },
    profile: opts.hostProfile ? hostSpecFromProfile(opts.hostProfile) : null,
    processes,
    stages,
    sharedSlotsPerProcess: null,
    baseRssBytes: baseRss,
    cpuSecondsPerRow,
    externalCpuSecondsPerRow,
    oneCore,
    colocatedSimulators: colocated,
    usableCpuUtilisation: usableCpu,
    coresPerProcess,
    usableMemoryFraction: opts.usableMemoryFraction ?? DEFAULT_USABLE_MEMORY,
    llm: {
      rpm: sample.world.llmRpm ?? null,
      tpm: sample.world.llmTpm ?? null,
      tokensPerMessage: tokens.total,
      promptTokensPerMessage: tokens.prompt,
      source: `${source}: the simulated LLM's limits${sample.world.llmLimitsInSample === false && (sample.world.llmRpm || sample.world.llmTpm) ? ' (lifted while sampling, applied here)' : ''}; tokens per message ${tokens.source}`,
    },
    fillS,
    measuredRate,
    measuredRateInterval: measuredRate && combined ? combinedRateInterval(combined, source) : null,
    drainTails: drainTails(sample, stages, source),
    ...hangingRowsOf(sample.world, source),
    combined: combined
      ? {
          throughputRps: combined.throughputRps,
          cpuSecondsPerRow: combined.cpuSecondsPerRow,
          fillS: combined.fillS,
          rssBytes: combined.rssBytes,
        }
      : null,
    notes,
  };
}

/**
 * The one-core part of the combined window as model input, and what a one-core projection should
 * know about it: the figure it is charged, or why the spread one stands in.
 */
function oneCoreOf(
  sample: PipelineSample,
  opts: CapacityOptions,
  source: string,
  colocated: boolean,
  notes: string[],
): CapacityModelInput['oneCore'] {
  const window = sample.combined?.oneCore;
  const ontoOne = opts.hostProfile?.cores === 1;
  const spread = sample.combined
    ? ms(sample.combined.cpuSecondsPerRow + (colocated ? sample.combined.externalCpuSecondsPerRow : 0))
    : null;
  const measured = window && !('skipped' in window) ? window : null;
  const work = measured ? workRate(sample, measured, colocated) : null;
  // The CPU was measured over the part: per row it is its rate over the rows' worth of work done.
  const rate = work?.rowsPerSecond ?? measured?.throughputRps ?? 0;
  const perRow = (cpuSeconds: number) => (measured ? (cpuSeconds * measured.throughputRps) / rate : 0);
  const pinnedCpu = perRow(measured?.cpuSecondsPerRow ?? 0);
  const pinnedExternal = perRow(measured?.externalCpuSecondsPerRow ?? 0);
  const one = measured ? pinnedCpu + (colocated ? pinnedExternal : 0) : null;
  if (opts.hostProfile && opts.hostProfile.cores > sample.host.cores)
    notes.push(
      `The sample ran on ${sample.host.cores} core${sample.host.cores === 1 ? '' : 's'}: spread over ${opts.hostProfile.cores} a row may cost more CPU (moves between cores, less work per wake-up)` +
        `${one && spread ? `, as it did here: ${ms(one)} on one core, ${spread} on ${sample.host.cores}` : ', which this sample cannot show'}; the CPU bound on ${opts.hostProfile.name} may be optimistic.`,
    );
  if (!measured) {
    if (ontoOne && sample.host.cores > 1)
      notes.push(
        `No one-core window in the sample (${window && 'skipped' in window ? window.skipped : 'taken before it existed, or without it'}): one core is charged the CPU per row measured spread over ${sample.host.cores} cores${spread ? ` (${spread})` : ''}, more than a row costs on one core; the projection is pessimistic.`,
      );
    return null;
  }
  if (work && ontoOne) notes.push(work.note);
  const at = `${source}: combined window pinned to core ${measured.core} (${fmt(measured.windowS, 1)} s, ${work ? `${fmt(rate, 0)} rows' worth of work a second` : `${fmt(measured.items)} rows at ${fmt(rate, 0)} rows/s`})`;
  if (ontoOne && spread)
    notes.push(
      `On one core a row cost ${ms(one ?? 0)} of CPU (the pipeline and the simulators pinned to one core at the end of the combined window), against ${spread} spread over ${sample.host.cores} cores: ${opts.hostProfile!.name} is charged the one-core figure.`,
    );
  return {
    cpuSecondsPerRow: { value: pinnedCpu, source: `${at}, pipeline CPU per row` },
    externalCpuSecondsPerRow: colocated
      ? { value: pinnedExternal, source: `${at}, simulators' CPU per row` }
      : null,
    throughputRps: rate,
    usableCpuUtilisation:
      opts.usableCpuUtilisation === undefined
        ? {
            value: Math.min(
              1,
              measured.throughputRps * (measured.cpuSecondsPerRow + measured.externalCpuSecondsPerRow),
            ),
            source: `${at}: the share of the core the pipeline and the simulators used`,
          }
        : null,
  };
}

/**
 * Rows' worth of work the pinned part did per second. Right after the pin its stages do not move
 * in step: a backlog of scraped rows built on two cores drains through the AI stage (or the
 * scrapers build one), so rows finished say more (or less) than the CPU did. Each stage's rate over
 * the part is weighed by its CPU per row, measured alone at the configured concurrency; divided by
 * what a whole row costs, that is the rate of whole rows the part's CPU bought. Null when the
 * sample lacks the stages' rates (taken before they were kept) or the stages' CPU.
 */
function workRate(
  sample: PipelineSample,
  measured: Extract<OneCoreWindow, { core: number }>,
  colocated: boolean,
): { rowsPerSecond: number; note: string } | null {
  if (!measured.stageRps) return null;
  const cost = (name: StageName) => {
    const m = sample.stages.find((x) => x.stage === name);
    const points = m?.points.filter((p) => p.items > 0) ?? [];
    const n = sample.configured?.[name] ?? sample.combined?.concurrency[name];
    if (!points.length || n === undefined) return null;
    return interpolateLog(
      points.map((p) => ({
        x: p.concurrency,
        y: p.cpuSecondsPerItem + (colocated ? p.externalCpuSecondsPerItem : 0),
      })),
      n,
    );
  };
  const [ingest, scrape, ai, write] = (['ingest', 'scrape', 'ai', 'write'] as const).map(cost);
  if (!scrape || !ai) return null;
  const aiShare = measured.aiShare ?? 1;
  const afterScrape = ai + (write ?? 0);
  // Ingest ran ahead and was over before the part in the sampler's upload; a row still costs it.
  const perRow = (ingest ?? 0) + scrape + aiShare * afterScrape;
  const work = scrape * measured.stageRps.scrape + afterScrape * measured.stageRps.ai;
  if (!(work > 0) || !(perRow > 0)) return null;
  const rowsPerSecond = work / perRow;
  return {
    rowsPerSecond,
    note:
      `Pinned to one core, the scrape stage finished ${fmt(measured.stageRps.scrape, 0)} rows/s and the AI stage ${fmt(measured.stageRps.ai, 0)} (rows finished: ${fmt(measured.throughputRps, 0)}/s)` +
      `${Math.abs(measured.stageRps.ai - measured.stageRps.scrape) > 0.05 * rowsPerSecond ? `: a backlog ${measured.stageRps.ai > measured.stageRps.scrape ? 'drained' : 'built up'} between them` : ''}. ` +
      `Weighed by each stage's CPU per row alone (scrape ${ms(scrape)}, AI and write ${ms(afterScrape)}), the part did ${fmt(rowsPerSecond, 0)} rows' worth of work a second: the one-core CPU per row is taken over that.`,
  };
}

/** `y` at `x` on the points' line in log x, held flat beyond the first and the last point. */
function interpolateLog(points: { x: number; y: number }[], x: number): number {
  const sorted = [...points].sort((a, b) => a.x - b.x);
  if (x <= sorted[0]!.x) return sorted[0]!.y;
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (x <= b.x) return a.y + ((b.y - a.y) * Math.log(x / a.x)) / Math.log(b.x / a.x);
  }
  return sorted.at(-1)!.y;
}

/** A host profile as the model sees it. */
export function hostSpecFromProfile(profile: HostProfile): HostSpec {
  return {
    name: profile.name,
    simulatorsOnHost: profile.colocatedSimulators ?? false,
    cpuModel: profile.cpuModel,
    cores: profile.cores,
    memoryBytes: profile.memoryBytes,
    reservedMemoryBytes: profile.reservedMemoryBytes ?? 0,
  };
}

function checkSample(sample: PipelineSample, source: string): void {
  const problems: string[] = [];
  if (sample.kind !== PIPELINE_SAMPLE_KIND)
    problems.push(`kind is ${JSON.stringify(sample.kind)}, expected "${PIPELINE_SAMPLE_KIND}"`);
  else if (!PIPELINE_SAMPLE_VERSIONS_READ.includes(sample.version))
    problems.push(
      `version ${JSON.stringify(sample.version)}: this headroom reads versions ${PIPELINE_SAMPLE_VERSIONS_READ.join(' and ')}`,
    );
  if (!Array.isArray(sample.stages) || sample.stages.length === 0)
    problems.push('/stages: no stage was measured');
  (sample.stages ?? []).forEach((s, i) => {
    if (!s.points?.some((p) => p.throughputRps > 0 && p.items > 0))
      problems.push(`/stages/${i} (${s.stage}): no point finished any rows; sample for longer`);
  });
  if (!(sample.host?.cores >= 1)) problems.push('/host/cores: missing');
  if (problems.length) throw new SampleUnusableError(source, problems);
}

/** What the sample itself says about how far its figures can be trusted. */
function sampleWarnings(sample: PipelineSample, stages: ModelStage[]): string[] {
  const notes: string[] = [];
  const load = sample.hostLoad;
  const cores = sample.host.cores;
  if (load && Math.max(load.loadAverage1mStart, load.loadAverage1mEnd) > cores)
    notes.push(
      `The host was busy with other work while sampling (load average ${fmt(load.loadAverage1mStart, 1)} → ${fmt(load.loadAverage1mEnd, 1)} on ${cores} cores): ` +
        'the rates and CPU per row are those of the CPU share the pipeline got then, and the forecast holds only while that other load stays the same.',
    );
  const combined = sample.combined;
  const ai = stages.find((s) => s.stage === 'ai');
  if (combined?.items !== undefined && ai && combined.items < 2 * combined.concurrency.ai)
    notes.push(
      `The combined window finished ${fmt(combined.items)} rows, fewer than twice the ${fmt(combined.concurrency.ai)} AI slots: it may have caught the ramp-up rather than the steady rate; sample for longer.`,
    );
  for (const m of sample.stages) {
    const items = sum(m.points.map((p) => p.items));
    const failed = sum(m.points.map((p) => p.failedItems ?? 0));
    if (failed > 0)
      notes.push(
        `${m.stage}: ${fmt(failed)} of ${fmt(items)} rows finished as failures in the sample (${fmt((100 * failed) / items, 1)} %); they count as done in the rates, as they do in a run.`,
      );
  }
  return notes;
}

/**
 * The time the slowest of `inFlight` rows takes when each row's time is lognormal(median, σ): the
 * quantile 1 − 1/n (the largest of n draws sits near it), at least the 99th percentile.
 */
export function slowestOfLognormalS(
  medianS: number,
  sigma: number,
  inFlight: number,
): { seconds: number; quantile: number } {
  const quantile = Math.min(1 - 1e-6, Math.max(0.99, 1 - 1 / Math.max(1, inFlight)));
  return { seconds: medianS * Math.exp(sigma * normalQuantile(quantile)), quantile };
}

/**
 * Per stage, what the slowest of the last rows in flight takes: from the simulated world's latency
 * distribution when the sample records it (the sites' lognormal, the LLM's time to first token plus
 * the message at its token rate), else the p95 of the stage's time at its lowest concurrency
 * (unloaded; coarse histogram buckets, so rough), else nothing (its mean time is used).
 */
function drainTails(
  sample: PipelineSample,
  stages: ModelStage[],
  source: string,
): Partial<Record<StageName, Traced>> {
  const tails: Partial<Record<StageName, Traced>> = {};
  const world = sample.world;
  const lowestP95 = (name: StageName): Traced | undefined => {
    const m = sample.stages.find((s) => s.stage === name);
    const points = (m?.points ?? []).filter((p) => p.items > 0 && p.externalLatencyMs);
    if (points.length === 0) return undefined;
    const lowest = points.reduce((a, b) => (b.concurrency < a.concurrency ? b : a));
    return {
      value: lowest.externalLatencyMs!.p95 / 1000,
      source: `${source}: stages.${name} p95 of the job time at N=${fmt(lowest.concurrency)} (coarse buckets: rough)`,
    };
  };
  const scrape = stages.find((s) => s.stage === 'scrape');
  if (scrape) {
    if (world.siteLatencyMedianMs !== undefined) {
      const sigma = world.siteLatencySigma ?? 0;
      const slowest = slowestOfLognormalS(world.siteLatencyMedianMs / 1000, sigma, scrape.concurrency);
      tails.scrape = {
        value: slowest.seconds,
        source:
          `${source}: world, sites lognormal(median ${fmt(world.siteLatencyMedianMs)} ms, σ ${fmt(sigma, 2)}): ` +
          `the slowest of ${fmt(scrape.concurrency)} pages in flight ≈ its ${fmt(slowest.quantile * 100, 2)} % quantile = ${fmt(slowest.seconds, 2)} s`,
      };
      // Rows that hit a hanging site hold their slot until the scraper gives up and retries: with
      // enough of them among the last rows in flight, the slowest row is one of those.
      // When the last row starts, k hanging rows are in flight (Poisson: the slots' share of time
      // they hold, N × share × hold ÷ mean time per row), each with a residual uniform over the
      // hold; the longest of them is expected at hold × (1 − (1 − e^−k) ÷ k).
      const held = heldRowSeconds(world);
      const meanS = scrape.secondsPerRow?.value ?? 0;
      if (held && meanS > 0) {
        // The windows may be too short to see a hold: the mean time per row is at least the clean
        // mean plus the holds' share.
        const cleanS = (world.siteLatencyMedianMs / 1000) * Math.exp(sigma ** 2 / 2);
        const rowS = Math.max(meanS, cleanS + held.share * held.seconds);
        const k = (scrape.concurrency * held.share * held.seconds) / rowS;
        const residual = held.seconds * (1 - (1 - Math.exp(-k)) / k);
        if (residual > slowest.seconds)
          tails.scrape = {
            value: residual,
            source:
              `${source}: world, ${fmt(held.share * 100, 2)} % of rows hang (fault rate ${fmt((world.faultRate ?? 0) * 100, 1)} %): ` +
              `${held.source}; ${fmt(k, 2)} of them in flight among ${fmt(scrape.concurrency)} (of ${fmt(meanS, 3)} s per row), the longest left ≈ ${fmt(residual, 2)} s`,
          };
      }
    } else {
      const p95 = lowestP95('scrape');
      if (p95) tails.scrape = p95;
    }
  }
  if (stages.some((s) => s.stage === 'ai')) {
    // The completion the LLM really wrote (its usage), when measured: the pipeline's max_tokens may
    // cut the message the world was set to write.
    const written = tokensPerMessage(sample, source);
    const completion =
      written.total !== null && written.prompt !== null
        ? written.total - written.prompt
        : world.llmTokensPerMessage;
    if (world.llmTtftMs !== undefined && world.llmTokensPerSecond && completion) {
      const seconds = world.llmTtftMs / 1000 + completion / world.llmTokensPerSecond;
      tails.ai = {
        value: seconds,
        source: `${source}: world, one LLM call = ${fmt(world.llmTtftMs)} ms to the first token + ${fmt(completion)} tokens${written.prompt !== null ? ' (measured)' : ''} at ${fmt(world.llmTokensPerSecond)}/s = ${fmt(seconds, 2)} s`,
      };
    } else {
      const p95 = lowestP95('ai');
      if (p95) tails.ai = p95;
    }
  }
  return tails;
}

/**
 * Seconds the flow of R rows takes through an LLM provider that allows `perMinute` requests in any
 * sliding minute, when the pipeline without the limit would do `unlimitedRps`.
 *
 * Why not R ÷ (perMinute / 60): a sliding-window limiter (as the providers and the simulator
 * enforce it) does not spread requests evenly. At t = 0 the window is empty, so the first
 * `perMinute` rows pass at the pipeline's own rate and take perMinute ÷ X (< 60 s when the limit
 * binds). Then nothing passes until the window slides past those admissions: from t = 60 s the
 * window frees requests exactly as they were admitted a minute before — again `perMinute` of them,
 * at rate X — and so on. So minute k (k = 0, 1, …) carries a burst of `perMinute` rows at X in its
 * first perMinute ÷ X seconds. R rows need m = ⌈R ÷ perMinute⌉ − 1 whole minutes of waiting, and the
 * last burst of r = R − m × perMinute rows takes r ÷ X:  T = 60 × m + r ÷ X.
 * For R ≫ perMinute this tends to R ÷ (perMinute / 60); for R ≤ perMinute the limit never shows.
 * Measured (50,000 rows, 30,000/min, X ≈ 1,589 rows/s): 60 + 20,000 ÷ 1,589 + 2.6 s fill = 75.2 s
 * against 72.9 s for real, where R ÷ 500 + fill gives 102.6 s.
 */
export function rateLimitedSeconds(
  rows: number,
  unlimitedRps: number,
  perMinute: number,
  start?: { rps: number; overS: number },
): number {
  if (unlimitedRps * 60 <= perMinute) return rows / unlimitedRps;
  const minutes = Math.max(0, Math.ceil(rows / perMinute) - 1);
  // Rows queued for the AI stage while it waited (the scrapers do not wait for the provider) pass
  // no faster once a minute opens than the window frees: at the pace of the admissions it drops,
  // those of the first minute (which may have started faster: admissionSeconds).
  return 60 * minutes + admissionSeconds(rows - minutes * perMinute, unlimitedRps, start);
}

/**
 * A latency-bound AI stage whose slots all start at once and whose calls all take about as long
 * passes rows in waves of its slots: R rows take ⌈R ÷ N⌉ calls' time, not R ÷ N of them (the fluid
 * rate), a difference of up to one call (bench:capacity w7: 5.6 waves of 8 s took 6). The slots
 * start together when the stages before fill them within a quarter of one call; the calls take
 * about as long when their p95 is within 25 % of their median (the simulated LLM's calls take a
 * fixed time). Otherwise the waves blur into the fluid rate, and null.
 */
function wavesOf(
  input: CapacityModelInput,
  binding: CapacityBound,
  processes: number,
): { slots: number; why: string } | null {
  if (binding.kind !== 'stage' || binding.stage !== 'ai' || binding.regime !== 'latency-bound') return null;
  const ai = input.stages.find((s) => s.stage === 'ai');
  const scrape = input.stages.find((s) => s.stage === 'scrape');
  if (!ai?.secondsPerRow || !scrape) return null;
  const lat = ai.externalLatencyMs;
  const steady = lat ? lat.p95 <= 1.25 * lat.p50 : input.mode === 'measured' && input.colocatedSimulators;
  if (!steady) return null;
  const slots = ai.concurrency * processes;
  const fillS = slots / (scrape.ratePerProcess(scrape.concurrency) * processes);
  const callS = ai.secondsPerRow.value;
  if (fillS > callS / 4) return null;
  return {
    slots,
    why: `the scrapers fill the AI stage's ${fmt(slots)} slots in ${fmt(fillS, 2)} s of a ${fmt(callS, 2)} s call, ${lat ? `whose p95 is ${fmt(lat.p95 / lat.p50, 2)} × its median` : 'which takes a fixed time in the simulated world'}`,
  };
}

/**
 * How fast the pipeline feeds the AI stage at the start of a run, before rows held by hanging
 * sites pile up: the scrapers' clean rate (slots ÷ a clean page's time), no faster than the AI
 * stage's own bound, slowing to the steady rate over one hold. Undefined without hanging rows.
 */
function cleanStart(
  input: CapacityModelInput,
  others: readonly CapacityBound[],
  processes: number,
  steadyRps: number,
): { rps: number; overS: number; why: string } | undefined {
  const h = input.hangingRows;
  const scrape = input.stages.find((s) => s.stage === 'scrape');
  if (!h || !scrape) return undefined;
  const clean = (scrape.concurrency * processes) / h.cleanRowS;
  // Every other bound still holds at the start (the AI stage, the CPU, the one process).
  const cap = others
    .filter((b) => !(b.kind === 'stage' && b.stage === 'scrape'))
    .reduce<CapacityBound | null>((low, b) => (low === null || b.rateRps < low.rateRps ? b : low), null);
  const rps = Math.min(clean, cap?.rateRps ?? Number.POSITIVE_INFINITY);
  if (rps <= steadyRps * 1.05) return undefined;
  return {
    rps,
    overS: h.holdS,
    why: `rows held by hanging sites pile up over ${fmt(h.holdS, 1)} s (${h.source}: ${fmt(scrape.concurrency * processes)} slots ÷ ${fmt(h.cleanRowS, 3)} s = ${fmt(clean, 1)} rows/s${cap && cap.rateRps < clean ? `, no more than ${cap.kind}${cap.stage ? ` (${cap.stage})` : ''}'s ${fmt(cap.rateRps, 1)}` : ''})`,
  };
}

/** The hold of rows whose site hangs, and a clean row's time, from the sampled world. */
function hangingRowsOf(
  world: PipelineSample['world'],
  source: string,
): Pick<CapacityModelInput, 'hangingRows'> {
  const held = heldRowSeconds(world);
  if (!held || world.siteLatencyMedianMs === undefined) return {};
  const cleanRowS = (world.siteLatencyMedianMs / 1000) * Math.exp((world.siteLatencySigma ?? 0) ** 2 / 2);
  return {
    hangingRows: {
      holdS: held.seconds,
      cleanRowS,
      source: `${source}: world, ${held.source}; a clean page ${fmt(cleanRowS, 3)} s on average`,
    },
  };
}

/**
 * Seconds until `rows` rows have been admitted by a provider whose window was empty, when the
 * pipeline feeds it at `steadyRps` but starts faster: with hanging sites the scrapers begin at
 * their clean rate (capped by the AI stage's own) and slow to the steady rate over one hold, as
 * held slots pile up (linearly, to first order). The window then frees at that same pace a minute
 * later, so a limited run's last minute passes its rows this fast (bench:capacity w2: its last
 * 2,007 rows passed at about 130 rows/s, the steady rate being 76.5). Without them: rows ÷ steadyRps.
 */
export function admissionSeconds(
  rows: number,
  steadyRps: number,
  start?: { rps: number; overS: number },
): number {
  if (!start || start.rps <= steadyRps || start.overS <= 0) return rows / steadyRps;
  // A(τ) = s0 τ − (s0 − u) τ² ÷ 2H for τ ≤ H, then u per second.
  const { rps: s0, overS: h } = start;
  const atHold = ((s0 + steadyRps) / 2) * h;
  if (rows >= atHold) return h + (rows - atHold) / steadyRps;
  const a = (s0 - steadyRps) / (2 * h);
  return (s0 - Math.sqrt(s0 * s0 - 4 * a * rows)) / (2 * a);
}

/**
 * Under a provider's limit, from a row's admission by the provider to the end of the run: the fill
 * before the AI stage (the first admission waits for the first scraped row) and the last admitted
 * row's path through the AI stage and after (its tail, all of it: the admission clock does not
 * already count one AI call, as R ÷ X counts a stage's time per row).
 */
function admittedToDone(input: CapacityModelInput): Traced {
  const ai = input.stages.find((s) => s.stage === 'ai');
  const f = fillAndDrain(input, ai ? 'ai' : null);
  const inside = ai?.secondsPerRow?.value ?? 0;
  return {
    value: f.value + inside,
    source: `from the last admission: ${f.source}, + ${fmt(inside, 2)} s (the AI stage's time per row is not inside the admissions' pace)`,
  };
}

function nearestPoint(points: StagePoint[], concurrency: number): number {
  let best = 0;
  for (let i = 1; i < points.length; i++) {
    const d = Math.abs(Math.log(points[i]!.concurrency / concurrency));
    if (d < Math.abs(Math.log(points[best]!.concurrency / concurrency))) best = i;
  }
  return best;
}

/** Slope of RSS on rows in flight over a stage's points (OLS), or (RSS − base) ÷ in flight from one point. */
function memoryPerInFlight(points: StagePoint[], baseRssBytes: number, at: string): Traced | null {
  const xs = points.map((p) => p.meanInFlight);
  const ys = points.map((p) => p.rssBytes);
  if (new Set(xs).size >= 2) {
    const mx = sum(xs) / xs.length;
    const my = sum(ys) / ys.length;
    let sxy = 0;
    let sxx = 0;
    for (let i = 0; i < xs.length; i++) {
      sxy += (xs[i]! - mx) * (ys[i]! - my);
      sxx += (xs[i]! - mx) ** 2;
    }
    return {
      value: Math.max(0, sxy / sxx),
      source: `${at}: slope of peak RSS on mean rows in flight over ${points.length} points`,
    };
  }
  const p = points[0];
  if (!p || p.meanInFlight <= 0) return null;
  return {
    value: Math.max(0, (p.rssBytes - baseRssBytes) / p.meanInFlight),
    source: `${at}: (RSS − idle RSS) ÷ rows in flight at N=${p.concurrency} (one point)`,
  };
}

function llmBoundRps(
  rpm?: number | null,
  tpm?: number | null,
  tokensPerMessage?: number | null,
): number | null {
  const bounds: number[] = [];
  if (rpm) bounds.push(rpm / 60);
  if (tpm && tokensPerMessage) bounds.push(tpm / 60 / tokensPerMessage);
  return bounds.length ? Math.min(...bounds) : null;
}

/** Computes the report from model input: bounds, bottleneck, time for R rows, target, projection. */
export function buildCapacityReport(input: CapacityModelInput): CapacityReport {
  const evaluated = evaluateHost(input, input.host, input.processes, input.measuredRate);
  const host = evaluated.capacity;
  const projection = input.profile
    ? evaluateHost(input, input.profile, input.processes, null).capacity
    : null;
  const stages: CapacityStage[] = input.stages.map((s) => {
    const capacity = input.processes * s.ratePerProcess(s.concurrency);
    const efficiency = s.fit ? uslThroughput(s.fit, s.concurrency) / (s.fit.lambda * s.concurrency) : null;
    return {
      stage: s.stage,
      points: s.points,
      fit: s.fit,
      concurrency: s.concurrency,
      ...(s.measuredRange
        ? {
            measuredConcurrency: {
              ...s.measuredRange,
              outside:
                s.concurrency > s.measuredRange.max * 1.05 || s.concurrency < s.measuredRange.min / 1.05,
            },
          }
        : {}),
      processes: input.processes,
      capacityRps: { value: capacity, source: s.capacitySource },
      secondsPerRow: s.secondsPerRow,
      cpuSecondsPerRow: s.cpuSecondsPerRow,
      externalCpuSecondsPerRow: s.externalCpuSecondsPerRow,
      externalLatencyMs: s.externalLatencyMs,
      memoryPerInFlightBytes: s.memoryPerInFlightBytes,
      efficiency,
      regime: !s.scalesWithConcurrency
        ? 'declared-rate'
        : efficiency !== null && efficiency < FLATTENED_EFFICIENCY
          ? 'contention-bound'
          : 'latency-bound',
      timeForRowsS: input.rows / capacity,
    };
  });
  const fillAndDrainS = evaluated.fillAndDrainS;
  const totalS = input.rows / host.rateRps + fillAndDrainS.value;
  const fi = evaluated.flowIntervalS;
  const interval =
    fi && input.measuredRateInterval
      ? {
          lowS: fi.low + fillAndDrainS.value,
          highS: fi.high + fillAndDrainS.value,
          level: 0.9,
          source: `${input.measuredRateInterval.source}: ${fmt(input.measuredRateInterval.low, 1)}…${fmt(input.measuredRateInterval.high, 1)} rows/s`,
        }
      : null;
  const notes = [...input.notes];
  if (host.bottleneck.regime === 'provider-limit')
    notes.push(
      'Under a binding LLM limit rows wait for the provider (429 + Retry-After), they do not fail: the AI client holds every caller off until the limit allows more and does not count 429s against its retries.',
    );
  if (projection === null && input.mode === 'measured')
    notes.push('No host profile given: figures are for the sampled host only (--host-profile to project).');
  if (
    input.profile &&
    !input.profile.simulatorsOnHost &&
    input.colocatedSimulators &&
    input.externalCpuSecondsPerRow
  )
    notes.push(
      `On ${input.profile.name} the simulators' CPU (${ms(input.externalCpuSecondsPerRow.value)} per row here) is not counted: there the sites and the LLM are remote.`,
    );
  return {
    kind: CAPACITY_REPORT_KIND,
    version: CAPACITY_REPORT_VERSION,
    createdAt: new Date().toISOString(),
    mode: input.mode,
    inputs: {
      rows: input.rows,
      targetRateRps: input.targetRateRps,
      source: input.source,
      colocatedSimulators: input.colocatedSimulators,
      usableCpuUtilisation: input.usableCpuUtilisation,
      coresPerProcess: input.coresPerProcess,
      usableMemoryFraction: input.usableMemoryFraction,
      baseRssBytes: input.baseRssBytes,
      cpuSecondsPerRow: input.cpuSecondsPerRow,
      externalCpuSecondsPerRow: input.externalCpuSecondsPerRow,
      ...(input.oneCore ? { oneCore: input.oneCore } : {}),
      llm: input.llm,
      combined: input.combined,
    },
    stages,
    forecast: {
      rows: input.rows,
      rateRps: host.rateRps,
      rateSource: host.rateSource,
      bottleneck: host.bottleneck,
      fillS: input.fillS,
      fillAndDrainS,
      totalS,
      interval,
      hours: totalS / 3600,
      sumOfStageTimesS: sum(stages.map((s) => s.timeForRowsS)),
    },
    host,
    projection,
    target:
      input.targetRateRps === null
        ? null
        : answerTarget(input, input.profile ?? input.host, input.targetRateRps),
    notes,
  };
}

/** The stage a bound holds back (the AI stage for the LLM's limits); null for a shared limit. */
function bottleneckStageOf(bound: CapacityBound): StageName | null {
  return bound.kind === 'stage' || bound.kind === 'llm-rpm' || bound.kind === 'llm-tpm'
    ? (bound.stage ?? null)
    : null;
}

const STAGE_ORDER: readonly StageName[] = ['ingest', 'scrape', 'ai', 'write'];

/**
 * The time R rows take beyond R ÷ X, where X is the rate of the flow.
 *
 * R ÷ X counts every row once at the mean time it spends in the limiting flow ("inside"): for a
 * stage that binds, its own mean time per row W (a stage holding N rows at X drains N rows in
 * N ÷ X = W, Little's law); for a shared limit (the CPU, one process, shared slots) every stage's,
 * since every stage flows at X from the start. What is left is at the two ends:
 * - start: the first row is complete after the measured fill time; of that, `inside` is already
 *   counted, the rest (the upload, the stages before and after the bottleneck) precedes the flow;
 * - drain: once no rows are left to start, the run ends when the slowest of the last rows in flight
 *   is through — the tail of the latency (the slowest of N lognormal site fetches ≈ the quantile
 *   1 − 1/N, e.g. 1.5 s × e^(3.2 × 0.5) ≈ 7.4 s for 1,500 pages in flight) in the bottleneck and
 *   every stage after it, not their means. Of that path, `inside` is counted too.
 * So the extra is max(0, fill − inside) + max(0, Σ tail over the last row's path − inside). Without
 * known tails (declared mode) the drain is taken as inside R ÷ X.
 */
function fillAndDrain(input: CapacityModelInput, bottleneckStage: StageName | null): Traced {
  const w = (s: ModelStage) => s.secondsPerRow?.value ?? 0;
  const inside = bottleneckStage
    ? w(input.stages.find((s) => s.stage === bottleneckStage) ?? input.stages[0]!)
    : sum(input.stages.map(w));
  const start = Math.max(0, input.fillS.value - inside);
  const startSource =
    `${fmt(input.fillS.value, 2)} s until the first row was through (${input.fillS.source}) − ${fmt(inside, 2)} s already inside R ÷ rate ` +
    `(${bottleneckStage ? `${bottleneckStage}'s own time per row` : "every stage's time per row: the limit is shared"})`;
  const tails = input.drainTails;
  if (!tails) return { value: start, source: startSource };
  const from = bottleneckStage ? STAGE_ORDER.indexOf(bottleneckStage) : 0;
  const path = input.stages
    .filter((s) => STAGE_ORDER.indexOf(s.stage) >= from)
    .sort((a, b) => STAGE_ORDER.indexOf(a.stage) - STAGE_ORDER.indexOf(b.stage));
  const parts = path.map((s) => {
    const tail = tails[s.stage];
    return tail
      ? { stage: s.stage, seconds: tail.value, source: tail.source }
      : { stage: s.stage, seconds: w(s), source: `${s.stage}: its mean time per row (no tail known)` };
  });
  const tailPath = sum(parts.map((p) => p.seconds));
  const drain = Math.max(0, tailPath - inside);
  // The drain already carries the last row through the bottleneck and every stage after it; of the
  // fill, only what comes before the bottleneck (the upload, the stages upstream) is left to add —
  // not the downstream stages a second time.
  const pathMeanS = sum(path.map(w));
  const upstream = bottleneckStage ? Math.max(0, input.fillS.value - pathMeanS) : start;
  const upstreamSource = bottleneckStage
    ? `${fmt(input.fillS.value, 2)} s until the first row was through (${input.fillS.source}) − ${fmt(pathMeanS, 2)} s of it in ${bottleneckStage} and after (${path.map((s) => `${s.stage} ${fmt(w(s), 2)} s`).join(' + ')}), which the drain counts`
    : startSource;
  return {
    value: upstream + drain,
    source:
      `start ${fmt(upstream, 2)} s: ${upstreamSource}; drain ${fmt(drain, 2)} s: the last rows' path ` +
      `${parts.map((p) => `${p.stage} ${fmt(p.seconds, 2)} s`).join(' + ')} = ${fmt(tailPath, 2)} s − ${fmt(inside, 2)} s inside R ÷ rate ` +
      `(${
        parts
          .filter((p) => tails[p.stage])
          .map((p) => p.source)
          .join('; ') || 'no tails known'
      })`,
  };
}

/**
 * CPU per row on `host`: the pipeline's, the co-located simulators' (null when they are not on
 * it) and their total on the host's cores. A row costs a different amount spread over several
 * cores than on one, so a one-core host is charged the one-core figure when the sample measured it.
 */
function cpuOn(
  input: CapacityModelInput,
  host: HostSpec,
): { pipeline: Traced; external: Traced | null; total: number } | null {
  if (!input.cpuSecondsPerRow) return null;
  const one = host.cores === 1 && input.host.cores > 1 ? input.oneCore : null;
  const simulators = input.colocatedSimulators && host.simulatorsOnHost;
  const pipeline = one ? one.cpuSecondsPerRow : input.cpuSecondsPerRow;
  const external = simulators ? (one ? one.externalCpuSecondsPerRow : input.externalCpuSecondsPerRow) : null;
  return { pipeline, external, total: pipeline.value + (external?.value ?? 0) };
}

/**
 * Share of `host`'s cores the pipeline can use. A one-core host takes the share the pinned part of
 * the sample really used (a saturated core runs at 97–98 % there) when that is more than the share
 * assumed: both measured on one core, with the same processes on it.
 */
function usableCpuOn(input: CapacityModelInput, host: HostSpec): Traced {
  const used = host.cores === 1 && input.host.cores > 1 ? input.oneCore?.usableCpuUtilisation : null;
  return used && used.value > input.usableCpuUtilisation.value ? used : input.usableCpuUtilisation;
}

function hostCpuPerRow(input: CapacityModelInput, host: HostSpec): number | null {
  return cpuOn(input, host)?.total ?? null;
}

/** Every ceiling on the rate at the configured concurrency with `processes` pipeline processes on `host`. */
export function capacityBounds(
  input: CapacityModelInput,
  host: HostSpec,
  processes: number,
): CapacityBound[] {
  const bounds: CapacityBound[] = [];
  for (const s of input.stages) {
    const perProcess = s.ratePerProcess(s.concurrency);
    const rate = processes * perProcess;
    const efficiency = s.fit ? uslThroughput(s.fit, s.concurrency) / (s.fit.lambda * s.concurrency) : null;
    const flattened = efficiency !== null && efficiency < FLATTENED_EFFICIENCY;
    const inFlight = processes * s.concurrency;
    const w = s.secondsPerRow?.value;
    const little =
      w !== undefined && w > 0
        ? `${fmt(inFlight)} rows in flight ÷ ${fmt(w, 3)} s per row ≈ ${fmt(inFlight / w, 1)} rows/s (Little's law)`
        : `${fmt(rate, 2)} rows/s`;
    if (!s.scalesWithConcurrency) {
      const implied = inFlight / rate;
      bounds.push({
        kind: 'stage',
        stage: s.stage,
        rateRps: rate,
        regime: 'declared-rate',
        source: s.capacitySource,
        explanation:
          `${s.stage}: ${fmt(rate, 2)} rows/s, declared as a fixed rate (more concurrency does not change it); ` +
          `with ${fmt(inFlight)} rows in flight that would be ${fmt(implied, 3)} s per row (Little's law)`,
      });
      continue;
    }
    bounds.push({
      kind: 'stage',
      stage: s.stage,
      rateRps: rate,
      regime: flattened ? 'contention-bound' : 'latency-bound',
      source: s.capacitySource,
      explanation: flattened
        ? `${s.stage} has flattened: at N=${fmt(s.concurrency)} it gives ${fmt((efficiency ?? 0) * 100, 0)} % of linear scaling ` +
          `(USL σ=${fmt(s.fit!.sigma, 4)}, κ=${s.fit!.kappa.toExponential(2)}${s.fit!.peakConcurrency ? `, peak at N*=${fmt(s.fit!.peakConcurrency)}` : ''}): ` +
          `${fmt(rate, 1)} rows/s; more concurrency adds little`
        : `${s.stage}: ${little}${s.fit ? `; fitted ${fmt(rate, 1)} rows/s` : ''} — rows wait on ${waitsOn(s.stage)}`,
    });
  }
  const shared = sharedSlots(input);
  if (shared) {
    const slots = processes * shared.slotsPerProcess;
    const rate = slots / shared.secondsPerRow;
    bounds.push({
      kind: 'slots',
      rateRps: rate,
      regime: 'latency-bound',
      source: shared.source,
      explanation: `${fmt(slots)} worker slots shared by every stage ÷ ${fmt(shared.secondsPerRow, 3)} s a row holds one (${shared.parts}) ≈ ${fmt(rate, 2)} rows/s (Little's law)`,
    });
  }
  const cpuParts = cpuOn(input, host);
  const cpu = cpuParts?.total;
  const simulators = input.colocatedSimulators && host.simulatorsOnHost;
  if (cpuParts && cpu && cpu > 0) {
    const usable = usableCpuOn(input, host);
    const rate = (host.cores * usable.value) / cpu;
    bounds.push({
      kind: 'cpu',
      rateRps: rate,
      regime: 'cpu-bound',
      source: `${cpuParts.pipeline.source}${simulators ? ` + ${cpuParts.external?.source ?? 'simulators'}` : ''}; ${usable.source}`,
      explanation:
        `every stage${simulators ? ' and the co-located simulators' : ''} share ${host.cores} cores: ` +
        `${host.cores} × ${fmt(usable.value * 100, 0)} % usable ÷ ${ms(cpu)} CPU per row ≈ ${fmt(rate, 1)} rows/s`,
    });
  }
  if (input.coresPerProcess && cpuParts && cpuParts.pipeline.value > 0) {
    const perProcess = input.coresPerProcess.value / cpuParts.pipeline.value;
    const usableProcesses = Math.min(processes, host.cores / input.coresPerProcess.value);
    const rate = usableProcesses * perProcess;
    bounds.push({
      kind: 'process',
      rateRps: rate,
      regime: 'cpu-bound',
      source: `${input.coresPerProcess.source}; ${cpuParts.pipeline.source}`,
      explanation: `${fmt(processes)} pipeline process${processes === 1 ? '' : 'es'} × ${fmt(input.coresPerProcess.value, 2)} core ÷ ${ms(cpuParts.pipeline.value)} CPU per row ≈ ${fmt(rate, 1)} rows/s`,
    });
  }
  if (input.llm.rpm) {
    const rate = input.llm.rpm / 60;
    bounds.push({
      kind: 'llm-rpm',
      stage: 'ai',
      rateRps: rate,
      regime: 'provider-limit',
      source: input.llm.source,
      explanation: `the LLM provider allows ${fmt(input.llm.rpm)} requests/min = ${fmt(rate, 2)} rows/s (one request per row)`,
    });
  }
  if (input.llm.tpm && input.llm.tokensPerMessage) {
    const rate = input.llm.tpm / 60 / input.llm.tokensPerMessage;
    bounds.push({
      kind: 'llm-tpm',
      stage: 'ai',
      rateRps: rate,
      regime: 'provider-limit',
      source: input.llm.source,
      explanation: `the LLM provider allows ${fmt(input.llm.tpm)} tokens/min ÷ ${fmt(input.llm.tokensPerMessage)} tokens per message = ${fmt(rate, 2)} rows/s`,
    });
  }
  return bounds.sort((a, b) => a.rateRps - b.rateRps);
}

/** Slots shared by every stage: a row holds one for the sum of the stages' seconds per row. */
function sharedSlots(
  input: CapacityModelInput,
): { slotsPerProcess: number; secondsPerRow: number; parts: string; source: string } | null {
  if (!input.sharedSlotsPerProcess) return null;
  const known = input.stages.filter((s) => s.secondsPerRow);
  if (known.length === 0) return null;
  const missing = input.stages.filter((s) => !s.secondsPerRow).map((s) => s.stage);
  return {
    slotsPerProcess: input.sharedSlotsPerProcess,
    secondsPerRow: sum(known.map((s) => s.secondsPerRow!.value)),
    parts:
      known.map((s) => `${s.stage} ${fmt(s.secondsPerRow!.value, 3)} s`).join(' + ') +
      (missing.length ? `; ${missing.join(', ')}: no time per row known, counted as 0` : ''),
    source: `${input.source}: workers shared by every stage; ${known.map((s) => s.secondsPerRow!.source).join('; ')}`,
  };
}

function waitsOn(stage: StageName): string {
  if (stage === 'scrape') return 'the sites';
  if (stage === 'ai') return 'the LLM';
  if (stage === 'write') return 'the database';
  return 'the upload';
}

/** The advice that goes with a bound, in the words of the regime. */
export function adviceFor(bound: CapacityBound, input: CapacityModelInput, host: HostSpec): string {
  switch (bound.kind) {
    case 'stage': {
      const stage = input.stages.find((s) => s.stage === bound.stage);
      if (stage && !stage.scalesWithConcurrency)
        return `find what holds ${bound.stage} to ${fmt(bound.rateRps, 2)} rows/s: a provider limit (declare llm.rpm/tpm), serial work (declare cpuMsPerRow), or waiting (declare latencyMs); a fixed rate says nothing about what concurrency buys`;
      if (bound.regime === 'contention-bound')
        return `cheaper per-row work in ${bound.stage}, or more processes: more concurrency no longer helps`;
      return `raise concurrency: ${bound.stage} throughput follows rows in flight ÷ seconds per row while the CPU has room`;
    }
    case 'slots':
      return 'raise concurrency: every row waits on sites and the LLM while holding a worker slot, so more slots (or processes) carry more rows per second';
    case 'cpu':
      return `more cores or cheaper per-row work: the ${host.cores} cores are full, so more concurrency only queues rows`;
    case 'process':
      return `more pipeline processes (up to one per core: ${host.cores}), or cheaper per-row work`;
    case 'llm-rpm':
    case 'llm-tpm': {
      const rate = input.targetRateRps ?? bound.rateRps;
      return `a higher LLM tier: ${fmt(rate * 60)} requests/min${input.llm.tokensPerMessage ? ` and ${fmt(rate * 60 * input.llm.tokensPerMessage)} tokens/min` : ''} for ${fmt(rate * 60)} rows/min`;
    }
  }
}

function evaluateHost(
  input: CapacityModelInput,
  host: HostSpec,
  processes: number,
  measuredRate: Traced | null,
): { capacity: HostCapacity; fillAndDrainS: Traced; flowIntervalS: { low: number; high: number } | null } {
  const bounds = capacityBounds(input, host, processes);
  if (bounds.length === 0) throw new SampleUnusableError(input.source, ['no stage has a rate']);
  const isLlm = (b: CapacityBound) => b.kind === 'llm-rpm' || b.kind === 'llm-tpm';
  const others = bounds.filter((b) => !isLlm(b));
  const llmBound = bounds.find(isLlm) ?? null;
  // The pipeline without the provider's limit: the combined window measured exactly this
  // configuration on this host, so its rate stands; the bottleneck then is the modelled bound
  // nearest to it (after calibration, the one that binds). Without one, the lowest bound.
  const unlimitedBinding =
    others.length === 0
      ? bounds[0]!
      : measuredRate
        ? others.reduce((best, b) =>
            Math.abs(Math.log(b.rateRps / measuredRate.value)) <
            Math.abs(Math.log(best.rateRps / measuredRate.value))
              ? b
              : best,
          )
        : others[0]!;
  const unlimitedRps = measuredRate && others.length > 0 ? measuredRate.value : unlimitedBinding.rateRps;
  // The provider's limit always caps the AI stage, combined window or not: a window of seconds
  // cannot see a per-minute limit (the sliding minute still has room in it).
  // (A tie names the provider: a window that already ran at the limit was held by it.)
  const limited = llmBound !== null && llmBound.rateRps <= unlimitedRps;
  const binding = limited ? llmBound : unlimitedBinding;
  const perMinute = limited ? llmBound.rateRps * 60 : 0;
  // Without the limit: R ÷ X, and the fill and drain of the pipeline without it (rows held by
  // hanging sites included). Under it the provider admits a minute's rows at X, then waits for the
  // window to slide; the run ends when the last admitted row is through the AI stage and after.
  // The two overlap, and whichever ends later is the run: a last minute shorter than the hanging
  // rows' hold ends when they do.
  const unlimitedFillAndDrain = fillAndDrain(input, bottleneckStageOf(unlimitedBinding));
  const afterAdmission = limited ? admittedToDone(input) : null;
  const start = cleanStart(input, others, processes, unlimitedRps);
  const waves = wavesOf(input, unlimitedBinding, processes);
  const freeFlow = (unlimited: number) =>
    waves
      ? Math.ceil(input.rows / waves.slots) * (waves.slots / unlimited)
      : admissionSeconds(input.rows, unlimited, start);
  // The flow under the limit and without it at a given unlimited rate, each with what it adds.
  const paths = (unlimited: number) => ({
    free: { flowS: freeFlow(unlimited), extra: unlimitedFillAndDrain },
    limited: afterAdmission
      ? { flowS: rateLimitedSeconds(input.rows, unlimited, perMinute, start), extra: afterAdmission }
      : null,
  });
  const totalAt = (unlimited: number) => {
    const { free, limited: lim } = paths(unlimited);
    return Math.max(free.flowS + free.extra.value, lim ? lim.flowS + lim.extra.value : 0);
  };
  const here = paths(unlimitedRps);
  const limitedEnds =
    here.limited !== null &&
    here.limited.flowS + here.limited.extra.value > here.free.flowS + here.free.extra.value;
  const chosen = limitedEnds ? here.limited! : here.free;
  const fillAndDrainS = chosen.extra;
  const flowS = chosen.flowS;
  const rateRps = input.rows / flowS;
  // The measured rate's interval carries into the flow's: a faster pipeline fills the provider's
  // minute sooner, a slower one takes longer, whichever bound then holds.
  const ri = measuredRate && others.length > 0 ? input.measuredRateInterval : null;
  const flowIntervalS = ri
    ? { low: totalAt(ri.high) - fillAndDrainS.value, high: totalAt(ri.low) - fillAndDrainS.value }
    : null;
  const unlimitedSource =
    (measuredRate
      ? measuredRate.source
      : `lowest bound: ${unlimitedBinding.kind}${unlimitedBinding.stage ? ` (${unlimitedBinding.stage})` : ''}`) +
    (waves
      ? `; in waves: ${waves.why}, so ${fmt(input.rows)} rows take ⌈R ÷ ${fmt(waves.slots)}⌉ = ${fmt(Math.ceil(input.rows / waves.slots))} waves of ${fmt(waves.slots / unlimitedRps, 2)} s`
      : start && !limited
        ? `; starting at ${fmt(start.rps, 1)} rows/s while ${start.why}`
        : '');
  const wholeMinutes = limited ? Math.max(0, Math.ceil(input.rows / perMinute) - 1) : 0;
  const rateSource = limited
    ? `the LLM provider's ${fmt(perMinute)} rows per sliding minute (${llmBound.kind}): ${fmt(wholeMinutes)} whole minute${wholeMinutes === 1 ? '' : 's'} of ${fmt(perMinute)} rows, ` +
      `then ${fmt(input.rows - wholeMinutes * perMinute)} rows as the window frees them, at the pace they were admitted: the unlimited ${fmt(unlimitedRps, 1)} rows/s (${unlimitedSource})` +
      `${start ? `, starting at ${fmt(start.rps, 1)} rows/s while ${start.why}` : ''}` +
      `${limitedEnds ? '' : `; the pipeline without the limit ends later (R ÷ that + its drain), and so the run`} = ${fmt(flowS, 1)} s for ${fmt(input.rows)} rows, ` +
      `${fmt(rateRps, 1)} rows/s on average (${fmt(llmBound.rateRps, 1)} rows/s sustained)`
    : unlimitedSource;
  const bottleneck: Bottleneck = { ...binding, advice: adviceFor(binding, input, host) };
  const cpu = hostCpuPerRow(input, host);
  const cpuUtilisation = cpu === null ? null : (rateRps * cpu) / host.cores;
  const memoryUsed = memoryAt(input, processes, (s) =>
    Math.min(processes * s.concurrency, rateRps * (s.secondsPerRow?.value ?? Number.POSITIVE_INFINITY)),
  );
  const available = host.memoryBytes - host.reservedMemoryBytes;
  const capacity: HostCapacity = {
    name: host.name,
    cpuModel: host.cpuModel,
    cores: host.cores,
    memoryBytes: host.memoryBytes,
    reservedMemoryBytes: host.reservedMemoryBytes,
    processes,
    bounds,
    rateRps,
    rateSource,
    bottleneck,
    hoursForRows: (flowS + fillAndDrainS.value) / 3600,
    cpuUtilisation,
    cpuCoresFree: cpuUtilisation === null ? null : host.cores * (1 - cpuUtilisation),
    memoryUsedBytes: memoryUsed?.bytes ?? null,
    memoryFreeBytes: memoryUsed ? available - memoryUsed.bytes : null,
    memorySource: memoryUsed?.source ?? 'no base RSS or memory per row in flight known',
    max: maxRate(input, host),
  };
  return { capacity, fillAndDrainS, flowIntervalS };
}

/**
 * RAM = processes × base RSS + Σ stages (memory per row in flight × rows in flight), with rows in
 * flight per stage given by `inFlight`. Never rows × MB per row: only rows in flight hold memory.
 */
function memoryAt(
  input: CapacityModelInput,
  processes: number,
  inFlight: (s: ModelStage) => number,
  capAtSlots = true,
): { bytes: number; source: string } | null {
  if (!input.baseRssBytes) return null;
  let bytes = processes * input.baseRssBytes.value;
  const parts = [`${fmt(processes)} × ${mb(input.baseRssBytes.value)} base`];
  if (input.sharedSlotsPerProcess) {
    // Shared slots: at most every slot holds a row, whichever stage it is in.
    const perRow = Math.max(0, ...input.stages.map((s) => s.memoryPerInFlightBytes?.value ?? 0));
    const wanted = sum(input.stages.map((s) => (Number.isFinite(inFlight(s)) ? inFlight(s) : 0)));
    const rows = capAtSlots ? Math.min(processes * input.sharedSlotsPerProcess, wanted) : wanted;
    bytes += rows * perRow;
    parts.push(`${fmt(rows)} rows in flight (shared slots) × ${kb(perRow)}`);
    return { bytes, source: parts.join(' + ') };
  }
  for (const s of input.stages) {
    if (!s.memoryPerInFlightBytes) continue;
    const rows = inFlight(s);
    if (!Number.isFinite(rows)) continue;
    bytes += rows * s.memoryPerInFlightBytes.value;
    parts.push(`${fmt(rows)} in ${s.stage} × ${kb(s.memoryPerInFlightBytes.value)}`);
  }
  return { bytes, source: parts.join(' + ') };
}

function maxRate(input: CapacityModelInput, host: HostSpec): HostCapacity['max'] {
  // One pipeline process per core at most: a process that got less than a core (calibrated) did so
  // because something else had the rest, and more processes would not get it back.
  const processes = input.coresPerProcess
    ? Math.max(input.processes, Math.min(host.cores, Math.floor(host.cores / input.coresPerProcess.value)))
    : input.processes;
  const limits: MaxLimit[] = [];
  const cpuParts = cpuOn(input, host);
  const cpu = cpuParts?.total;
  const pipelineCpu = cpuParts?.pipeline.value;
  if (cpu && cpu > 0) limits.push({ rate: (host.cores * usableCpuOn(input, host).value) / cpu, by: 'cpu' });
  if (input.coresPerProcess && pipelineCpu)
    limits.push({
      rate: (processes * input.coresPerProcess.value) / pipelineCpu,
      by: 'processes',
    });
  const llm = llmBoundRps(input.llm.rpm, input.llm.tpm, input.llm.tokensPerMessage);
  if (llm !== null) limits.push({ rate: llm, by: 'llm limits' });
  for (const s of input.stages) {
    if (!s.scalesWithConcurrency)
      limits.push({
        rate: processes * s.ratePerProcess(s.concurrency),
        by: `stage ${s.stage}`,
        stage: s.stage,
      });
    else if (s.ceilingPerProcessRps)
      limits.push({
        rate: processes * s.ceilingPerProcessRps,
        by: `stage ${s.stage} (USL ceiling)`,
        stage: s.stage,
      });
  }
  if (input.baseRssBytes) {
    const available =
      host.memoryBytes * input.usableMemoryFraction -
      host.reservedMemoryBytes -
      processes * input.baseRssBytes.value;
    const bytesPerRps = sum(
      input.stages.map((s) => (s.memoryPerInFlightBytes?.value ?? 0) * (s.secondsPerRow?.value ?? 0)),
    );
    if (bytesPerRps > 0) limits.push({ rate: Math.max(0, available / bytesPerRps), by: 'memory' });
  }
  if (limits.length === 0 || limits.every((l) => !Number.isFinite(l.rate)))
    return {
      rateRps: null,
      limitedBy: 'nothing known bounds it (no CPU per row)',
      processes,
      hoursForRows: null,
    };
  const lowest = limits.reduce((a, b) => (b.rate < a.rate ? b : a));
  return {
    rateRps: lowest.rate,
    limitedBy: lowest.by,
    processes,
    hoursForRows:
      lowest.rate > 0 ? (maxFlowS(input.rows, limits, lowest) + maxFill(input, limits, lowest)) / 3600 : null,
  };
}

type MaxLimit = { rate: number; by: string; stage?: StageName };

/** The limit the rows flow at once the LLM's sliding minute is open: the lowest of the others. */
function unlimitedOf(limits: MaxLimit[], lowest: MaxLimit): MaxLimit | null {
  if (lowest.by !== 'llm limits') return null;
  const others = limits.filter((l) => l.by !== 'llm limits' && Number.isFinite(l.rate) && l.rate > 0);
  return others.length ? others.reduce((a, b) => (b.rate < a.rate ? b : a)) : null;
}

function maxFlowS(rows: number, limits: MaxLimit[], lowest: MaxLimit): number {
  const unlimited = unlimitedOf(limits, lowest);
  return unlimited ? rateLimitedSeconds(rows, unlimited.rate, lowest.rate * 60) : rows / lowest.rate;
}

function maxFill(input: CapacityModelInput, limits: MaxLimit[], lowest: MaxLimit): number {
  const flow = unlimitedOf(limits, lowest) ?? lowest;
  return fillAndDrain(input, flow.stage ?? null).value;
}

function answerTarget(input: CapacityModelInput, host: HostSpec, rateRps: number): TargetAnswer {
  const notes: string[] = [];
  const cpuParts = cpuOn(input, host);
  const cpu = cpuParts?.total ?? null;
  const pipelineCpu = cpuParts?.pipeline.value;
  const processesByCpu =
    input.coresPerProcess && pipelineCpu !== undefined
      ? Math.max(1, ceilCount((rateRps * pipelineCpu) / input.coresPerProcess.value))
      : null;
  const processes = Math.max(processesByCpu ?? input.processes, 1);
  const stages = input.stages.map((s) => {
    let usl: number | null = null;
    let perProcess: number | null = null;
    if (s.fit) {
      perProcess = uslConcurrencyFor(s.fit, rateRps / processes / s.fitScale);
      usl = perProcess === null ? null : perProcess * processes;
      if (perProcess === null)
        notes.push(
          `${s.stage} cannot reach ${fmt(rateRps, 1)} rows/s on ${processes} process${processes === 1 ? '' : 'es'}: its fitted curve tops out at ${fmt(processes * (s.ceilingPerProcessRps ?? 0), 1)} rows/s.`,
        );
    } else if (!s.scalesWithConcurrency && processes * s.ratePerProcess(s.concurrency) < rateRps) {
      notes.push(
        `${s.stage} was declared at ${fmt(input.processes * s.ratePerProcess(s.concurrency), 2)} rows/s in total, not per row in flight: more concurrency does not change it.`,
      );
    }
    // Time per row depends on load (queueing, contention): take it from the measurement nearest
    // the concurrency this rate needs, not from the configured one.
    const traced = s.secondsPerRowAt ? s.secondsPerRowAt(perProcess ?? s.concurrency) : s.secondsPerRow;
    const w = traced?.value ?? null;
    return {
      stage: s.stage,
      secondsPerRow: w,
      concurrencyLittle: w === null ? null : ceilCount(rateRps * w),
      concurrencyUsl: usl === null ? null : ceilCount(usl),
      source: traced?.source ?? 'no seconds per row known',
    };
  });
  const ram = memoryAt(
    input,
    processes,
    (s) => stages.find((t) => t.stage === s.stage)?.concurrencyLittle ?? Number.NaN,
    false,
  );
  const usable = usableCpuOn(input, host);
  const cpuCoresNeeded = cpu === null ? null : (rateRps * cpu) / usable.value;
  const llm = input.llm;
  const tpmNeeded = llm.tokensPerMessage ? rateRps * 60 * llm.tokensPerMessage : null;
  const rpmOk = llm.rpm ? llm.rpm >= rateRps * 60 : null;
  const tpmOk = llm.tpm && tpmNeeded !== null ? llm.tpm >= tpmNeeded : null;
  const sufficient = rpmOk === null && tpmOk === null ? null : rpmOk !== false && tpmOk !== false;
  const available = host.memoryBytes * input.usableMemoryFraction - host.reservedMemoryBytes;
  if (cpuCoresNeeded !== null && cpuCoresNeeded > host.cores)
    notes.push(
      `${fmt(cpuCoresNeeded, 1)} cores needed at ${fmt(usable.value * 100, 0)} % usable: more than the ${host.cores} of ${host.name}.`,
    );
  const shared = sharedSlots(input);
  return {
    rateRps,
    host: host.name,
    stages,
    sharedSlots: shared ? ceilCount(rateRps * shared.secondsPerRow) : null,
    cpuCoresNeeded,
    processesByCpu,
    ramBytes: ram?.bytes ?? null,
    ramSource: ram?.source ?? 'no base RSS known',
    llm: { rpmNeeded: rateRps * 60, tpmNeeded, rpmLimit: llm.rpm, tpmLimit: llm.tpm, sufficient },
    fits: {
      cores: cpuCoresNeeded === null ? null : cpuCoresNeeded <= host.cores,
      memory: ram === null ? null : ram.bytes <= available,
    },
    notes,
  };
}

/** Rounds a count up, ignoring floating-point dust: 1000/min × 7.5 s is 125 slots, not 126. */
function ceilCount(x: number): number {
  return Math.ceil(x * (1 - 1e-12));
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** Numbers in explanations: grouped thousands, fixed decimals. */
export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return n > 0 ? '∞' : String(n);
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}
const ms = (seconds: number) => `${fmt(seconds * 1000, 3)} ms`;
const mb = (bytes: number) => `${fmt(bytes / 1024 / 1024, 1)} MB`;
const kb = (bytes: number) => `${fmt(bytes / 1024, 1)} KB`;

/**
 * Tokens one message costs against a tokens-per-minute limit: prompt + completion, as the provider
 * (and the simulator) charge them, measured from the LLM's `usage` — in the combined window (pages
 * scraped for real) or else the AI stage's windows. A version 1 sample has only the completion
 * length the world was set to, which undercounts (the prompt carries the scraped page): said in a note.
 */
export function tokensPerMessage(
  sample: PipelineSample,
  source: string,
): { total: number | null; prompt: number | null; source: string; note?: string } {
  const describe = (t: TokensPerMessage, where: string) => ({
    total: t.prompt + t.completion,
    prompt: t.prompt,
    source: `${fmt(t.prompt + t.completion, 0)} = ${fmt(t.prompt, 0)} prompt + ${fmt(t.completion, 0)} completion, mean of ${fmt(t.messages)} messages' usage in ${source}: ${where}`,
  });
  if (sample.combined?.tokens && sample.combined.tokens.messages > 0)
    return describe(sample.combined.tokens, 'combined window');
  const points = (sample.stages.find((m) => m.stage === 'ai')?.points ?? []).filter(
    (p) => p.tokens && p.tokens.messages > 0,
  );
  if (points.length) {
    const messages = sum(points.map((p) => p.tokens!.messages));
    return describe(
      {
        prompt: sum(points.map((p) => p.tokens!.prompt * p.tokens!.messages)) / messages,
        completion: sum(points.map((p) => p.tokens!.completion * p.tokens!.messages)) / messages,
        messages,
      },
      `stages.ai (${points.length} windows)`,
    );
  }
  const completion = sample.world.llmTokensPerMessage ?? null;
  return {
    total: completion,
    prompt: null,
    source: completion === null ? 'unknown' : `${fmt(completion)}: the world's completion length only`,
    ...(sample.world.llmTpm
      ? {
          note: `${source} does not record the tokens a message really costs (a version 1 sample): the tokens/min limit is divided by the completion alone (${fmt(completion ?? 0)}), which undercounts the prompt; sample again for a tpm forecast.`,
        }
      : {}),
  };
}

/** Level of the forecast's interval. */
const INTERVAL_LEVEL = 0.9;
const BOOTSTRAP_DRAWS = 2_000;

/**
 * The 90 % interval of the combined window's steady rate, from the window's own variation: a
 * bootstrap over its seconds (rows finished in each second of the steady part, resampled with
 * replacement), widened to the rates of the window's two halves when those differ more — a drift
 * (other load on the host, a ramp not yet over) shows between the halves, not between seconds.
 * Null without a timeline of at least 4 seconds.
 */
export function combinedRateInterval(
  combined: NonNullable<PipelineSample['combined']>,
  source: string,
): { low: number; high: number; source: string } | null {
  const timeline = combined.timeline;
  if (!timeline || combined.steadyFromS === undefined) return null;
  const from = combined.steadyFromS;
  const to = from + combined.windowS;
  const inside = timeline.filter((t) => t.tS >= from - 0.26 && t.tS <= to + 0.26);
  // Rows finished per whole second: increments between marks about a second apart.
  const perSecond: number[] = [];
  for (let i = 0; i + 2 < inside.length; i += 2) {
    const dt = inside[i + 2]!.tS - inside[i]!.tS;
    if (dt > 0) perSecond.push((inside[i + 2]!.finished - inside[i]!.finished) / dt);
  }
  if (perSecond.length < 4) return null;
  const random = new SeededRandom(perSecond.length * 7919 + Math.round(combined.throughputRps));
  const means: number[] = [];
  for (let d = 0; d < BOOTSTRAP_DRAWS; d++) {
    let total = 0;
    for (let k = 0; k < perSecond.length; k++)
      total += perSecond[Math.floor(random.next() * perSecond.length)]!;
    means.push(total / perSecond.length);
  }
  means.sort((a, b) => a - b);
  const tail = (1 - INTERVAL_LEVEL) / 2;
  // The bootstrap is centred on the mean of the seconds; centre it on the window's measured rate.
  const centre = sum(perSecond) / perSecond.length;
  const scale = centre > 0 ? combined.throughputRps / centre : 1;
  let low = means[Math.floor(tail * BOOTSTRAP_DRAWS)]! * scale;
  let high = means[Math.ceil((1 - tail) * BOOTSTRAP_DRAWS) - 1]! * scale;
  const half = Math.floor(perSecond.length / 2);
  const firstHalf = sum(perSecond.slice(0, half)) / half;
  const secondHalf = sum(perSecond.slice(half)) / (perSecond.length - half);
  low = Math.min(low, firstHalf * scale, secondHalf * scale);
  high = Math.max(high, firstHalf * scale, secondHalf * scale);
  return {
    low: Math.max(low, Number.MIN_VALUE),
    high,
    source: `${source}: combined window, ${INTERVAL_LEVEL * 100} % bootstrap over its ${perSecond.length} seconds, widened to its halves' rates (${fmt(firstHalf * scale, 1)} and ${fmt(secondHalf * scale, 1)} rows/s)`,
  };
}

/**
 * A queue stage (scrape, AI) that got no window of its own — a slow world whose levels gave way to
 * the combined window — read from the combined window instead: its mean rows in flight there ÷ the
 * rate = its time per row (Little's law), so at its configured N it does N ÷ that time per row while
 * it waits on the sites or the LLM. One point: the curve beyond it is assumed linear.
 */
function stagesFromCombined(
  sample: PipelineSample,
  source: string,
): Array<{ measurement: StageMeasurement; note: string }> {
  const c = sample.combined;
  if (!c?.timeline || c.steadyFromS === undefined || !(c.throughputRps > 0)) return [];
  const from = c.steadyFromS;
  const steady = c.timeline.filter((t) => t.tS >= from && t.tS <= from + c.windowS);
  if (steady.length < 2) return [];
  const out: Array<{ measurement: StageMeasurement; note: string }> = [];
  for (const stage of ['scrape', 'ai'] as const) {
    if (sample.stages.some((m) => m.stage === stage && m.points.some((p) => p.items > 0))) continue;
    const inFlight =
      sum(steady.map((t) => (stage === 'scrape' ? t.scrapeActive : t.aiActive))) / steady.length;
    if (!(inFlight > 0)) continue;
    const n = c.concurrency[stage];
    const secondsPerRow = inFlight / c.throughputRps;
    const rate = n / secondsPerRow;
    out.push({
      measurement: {
        stage,
        points: [
          {
            concurrency: n,
            meanInFlight: n,
            throughputRps: rate,
            items: c.items ?? Math.round(c.throughputRps * c.windowS),
            windowS: c.windowS,
            // Every stage's CPU is in the combined window's figure; none is charged here twice.
            cpuSecondsPerItem: 0,
            externalCpuSecondsPerItem: 0,
            rssBytes: c.rssBytes,
          },
        ],
      },
      note: `${stage}: no window of its own (its levels gave way to the combined window); read from the combined window by Little's law: ${fmt(inFlight, 1)} rows in flight ÷ ${fmt(c.throughputRps, 2)} rows/s = ${fmt(secondsPerRow, 2)} s per row, so N=${fmt(n)} ÷ that ≈ ${fmt(rate, 2)} rows/s (${source}: combined.timeline).`,
    });
  }
  return out;
}
