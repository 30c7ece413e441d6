import type { CapacityOptions } from '../analyzer/capacity-model.js';
import { buildCapacityReport, fmt } from '../analyzer/capacity-model.js';
import type { CapacityReport } from '../analyzer/capacity-report.js';
import {
  type DeclaredCapacity,
  type DeclaredStage,
  modelInputFromDeclared,
} from '../analyzer/declared-capacity.js';
import { tQuantile } from '../analyzer/linear-trend.js';
import type { StageName } from '../analyzer/pipeline-sample.js';
import { TelemetryMissingError, TelemetryTooFewError, UsageInvalidError } from '../errors.js';
import type { HostDescription } from '../results/host-description.js';
import type { PrometheusReader } from './prometheus-api.js';
import { expressions, metricNamesOf, type TelemetryMapping } from './telemetry-mapping.js';

/** A number read from Prometheus, with the PromQL it came from (every figure of the report names it). */
export interface ObservedFigure {
  value: number;
  promql: string;
}

/** One stage (one queue) as Prometheus saw it over the window. */
export interface ObservedStage {
  stage: StageName;
  /** Jobs leaving the stage per second. */
  completed: ObservedFigure;
  /** Mean seconds a job holds a slot. */
  secondsPerRow: ObservedFigure;
  slots: ObservedFigure;
  /** Jobs running, averaged over the window; Little's law (completed × seconds per row) when not mapped. */
  inFlight: ObservedFigure;
  processes: ObservedFigure | null;
  queueWait: ObservedFigure | null;
  backlog: ObservedFigure | null;
  /** Jobs waiting in the queue, the median over the window (when mapped). */
  medianBacklog: ObservedFigure | null;
  /** inFlight ÷ slots. */
  utilisation: number;
  /**
   * Whether the stage ran at its capacity: its slots ≥ 80 % busy and, when the median backlog is
   * mapped, jobs waiting for it most of the window (slots read as the peak in flight are always
   * near busy; only a queue that never ran dry shows the workers could take no more).
   */
  atCapacity: boolean;
}

/** What `capacity --prometheus` read: the window, each stage, the rows, the LLM and the processes. */
export interface Observation {
  prometheus: string;
  mapping: string;
  window: string;
  windowS: number;
  /** Unix seconds: the end of the window. */
  atS: number;
  stages: ObservedStage[];
  /** Rows finished per second over the window, with its 90 % interval (slices and halves; rateInterval). */
  rowsDone: ObservedFigure & { low: number; high: number; slices: number };
  rowsLeft: ObservedFigure | null;
  llm: {
    attempts: ObservedFigure | null;
    rateLimited: ObservedFigure | null;
    tokensPerMessage: ObservedFigure | null;
    promptTokensPerMessage: ObservedFigure | null;
  };
  processes: {
    cpuSecondsPerSecond: ObservedFigure | null;
    residentBytes: ObservedFigure | null;
    count: ObservedFigure | null;
  };
  /** Whether the window saw the pipeline at its capacity: a stage at its capacity, or the LLM's 429s. */
  saturated: boolean;
  notes: string[];
}

/** A stage this busy (rows in flight ÷ slots) is running at its capacity, not at the arrival rate. */
const SATURATED_UTILISATION = 0.8;
/** 429s above this share of the LLM's answers: the provider's limit holds the AI stage. */
const RATE_LIMITED_SHARE = 0.05;
/** Slices of the window whose rates give the interval of the rows' rate. */
const RATE_SLICES = 6;

/** `15m`, `90s`, `1h`, `2h30m` → seconds; the window Prometheus's `[…]` takes. */
export function parseWindow(text: string): number {
  const parts = [...text.matchAll(/(\d+)(ms|s|m|h|d)/g)];
  if (!parts.length || parts.map((p) => p[0]).join('') !== text)
    throw new UsageInvalidError(`--window: a duration such as 15m, 90s or 1h (got "${text}")`);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400 } as const;
  const seconds = parts.reduce((a, p) => a + Number(p[1]) * unit[p[2] as keyof typeof unit], 0);
  if (seconds < 10)
    throw new UsageInvalidError(`--window: at least 10s, for rate() to have samples (got "${text}")`);
  return seconds;
}

/**
 * Reads the mapping's figures from Prometheus over the window that ends at `atS` (default now).
 * A metric the mapping needs and Prometheus lacks is named (HRM_TELEMETRY_MISSING); a needed figure
 * with no number in the window (nothing ran, or too few scrapes) is HRM_TELEMETRY_TOO_FEW. Counters
 * that reset in the window (a restarted worker) are what rate() handles: the reset is not a drop.
 */
export async function observe(
  reader: PrometheusReader,
  mapping: TelemetryMapping,
  opts: { window: string; atS?: number },
): Promise<Observation> {
  const windowS = parseWindow(opts.window);
  const atS = opts.atS ?? Math.floor(Date.now() / 1000);
  const known = await reader.metricNames();
  const notes: string[] = [];
  const fields = expressions(mapping);
  const missingOf = (field: string) => metricNamesOf(fields[field]!).filter((n) => !known.has(n));

  const read = async (field: string, required: boolean): Promise<ObservedFigure | null> => {
    const expr = fields[field];
    if (expr === undefined) return null;
    const missing = missingOf(field);
    if (missing.length) {
      if (required) throw new TelemetryMissingError(missing, mapping.name, field);
      notes.push(`${field} not read: Prometheus has no ${missing.join(', ')}.`);
      return null;
    }
    const promql = expr.replaceAll('$window', opts.window);
    const samples = await reader.query(promql, atS);
    const value = samples.length === 1 ? samples[0]!.value : Number.NaN;
    if (samples.length > 1)
      throw new TelemetryTooFewError(
        `${field} (${promql}) gave ${samples.length} series; it must give one number: aggregate it (sum, max or count)`,
      );
    if (!Number.isFinite(value)) {
      if (required)
        throw new TelemetryTooFewError(
          `${field} has no number in the ${opts.window} ending ${new Date(atS * 1000).toISOString()} (${promql} gave ${samples.length ? value : 'nothing'}): the stage did no work then, or Prometheus scraped it too few times; give a longer --window or wait until it has worked for a few scrape intervals`,
        );
      notes.push(`${field} not read: ${promql} gave no number in the window.`);
      return null;
    }
    return { value, promql };
  };

  const stages: ObservedStage[] = [];
  for (const [stage, m] of Object.entries(mapping.stages) as Array<[StageName, object | undefined]>) {
    if (!m) continue;
    const at = `stages.${stage}`;
    const completed = (await read(`${at}.completed`, true))!;
    if (!(completed.value > 0)) {
      // A stage with no jobs in the window (its queue ran dry: the rows are past it) has no time
      // per job to read; it cannot be what holds the rows that are left, so it is left out.
      notes.push(
        `${stage}: no jobs in the window (${completed.promql} = ${completed.value}); its queue was empty, so it is left out of the model.`,
      );
      continue;
    }
    const secondsPerRow = (await read(`${at}.secondsPerRow`, true))!;
    const slots = (await read(`${at}.slots`, true))!;
    const inFlight = (await read(`${at}.inFlight`, false)) ?? {
      value: completed.value * secondsPerRow.value,
      promql: `(${completed.promql}) × (${secondsPerRow.promql}) (Little's law)`,
    };
    const utilisation = slots.value > 0 ? inFlight.value / slots.value : 0;
    const medianBacklog = await read(`${at}.medianBacklog`, false);
    stages.push({
      stage,
      completed,
      secondsPerRow,
      slots,
      inFlight,
      processes: await read(`${at}.processes`, false),
      queueWait: await read(`${at}.queueWait`, false),
      backlog: await read(`${at}.backlog`, false),
      medianBacklog,
      utilisation,
      atCapacity: utilisation >= SATURATED_UTILISATION && (medianBacklog === null || medianBacklog.value > 0),
    });
  }
  if (stages.length === 0)
    throw new TelemetryTooFewError(
      `no stage of ${mapping.name} ran a job in the ${opts.window} ending ${new Date(atS * 1000).toISOString()}: nothing to measure; give a window in which the pipeline worked`,
    );
  const done = (await read('rowsDone', true))!;
  const llm = {
    attempts: await read('llm.attempts', false),
    rateLimited: await read('llm.rateLimited', false),
    tokensPerMessage: await read('llm.tokensPerMessage', false),
    promptTokensPerMessage: await read('llm.promptTokensPerMessage', false),
  };
  const interval = await rateInterval(reader, mapping.rowsDone, windowS, atS);
  const rateLimited =
    llm.attempts !== null &&
    llm.rateLimited !== null &&
    llm.attempts.value > 0 &&
    llm.rateLimited.value / llm.attempts.value >= RATE_LIMITED_SHARE;
  return {
    prometheus: reader.url,
    mapping: mapping.name,
    window: opts.window,
    windowS,
    atS,
    stages,
    rowsDone: { ...done, ...interval },
    rowsLeft: await read('rowsLeft', false),
    llm,
    processes: {
      cpuSecondsPerSecond: await read('processes.cpuSecondsPerSecond', false),
      residentBytes: await read('processes.residentBytes', false),
      count: await read('processes.count', false),
    },
    saturated: rateLimited || stages.some((s) => s.atCapacity),
    notes,
  };
}

/**
 * The 90 % interval of the rows' rate: the window cut in slices, each slice's rate read by a range
 * query (the same expression over the slice), and Student's t over the slices' rates; widened to
 * the rates of the window's two halves. The slices alone say how noisy the rate is around its
 * mean; a rate that drifts (a pipeline warming up, the machine's other load going away) shows as
 * halves that differ, and the rest of the run is more like the later half than the mean.
 */
async function rateInterval(
  reader: PrometheusReader,
  expr: string,
  windowS: number,
  atS: number,
): Promise<{ low: number; high: number; slices: number }> {
  const sliceS = Math.max(5, Math.floor(windowS / RATE_SLICES));
  const series = await reader.queryRange(
    expr.replaceAll('$window', `${sliceS}s`),
    atS - windowS + sliceS,
    atS,
    sliceS,
  );
  const rates = (series[0]?.values ?? []).map(([, v]) => v).filter(Number.isFinite);
  if (rates.length < 2) return { low: Number.NaN, high: Number.NaN, slices: rates.length };
  const n = rates.length;
  const mean = rates.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(rates.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
  const half = tQuantile(0.95, n - 1) * (sd / Math.sqrt(n));
  const halfS = Math.floor(windowS / 2);
  const halves = (
    await Promise.all(
      [atS - halfS, atS].map(
        async (at) => (await reader.query(expr.replaceAll('$window', `${halfS}s`), at))[0]?.value,
      ),
    )
  ).filter((v): v is number => v !== undefined && Number.isFinite(v));
  return {
    low: Math.max(0, Math.min(mean - half, ...halves)),
    high: Math.max(mean + half, ...halves),
    slices: n,
  };
}

/** Whether the LLM's 429s make the provider's limit what holds the AI stage. */
function providerLimitPerMinute(
  obs: Observation,
): { rpm: number; share: number; through: number; source: string } | null {
  const { attempts, rateLimited } = obs.llm;
  if (!attempts || !rateLimited || attempts.value <= 0) return null;
  const share = rateLimited.value / attempts.value;
  if (share < RATE_LIMITED_SHARE) return null;
  const through = attempts.value - rateLimited.value;
  return {
    rpm: through * 60,
    share,
    through: through / attempts.value,
    source:
      `observed: ${fmt(share * 100, 1)} % of the LLM's answers were 429 (${rateLimited.promql}), so the provider's limit ` +
      `held the AI stage; ${fmt(through * 60)} requests/min got through (${attempts.promql} minus the 429s) — ` +
      'requests or tokens per minute cannot be told apart from the answers',
  };
}

/**
 * The capacity report of what Prometheus saw: each stage at its slots ÷ its seconds per row
 * (Little's law), the provider's limit when its 429s show, CPU and memory per row from the
 * processes, and — when the window saw the pipeline at its capacity — the rows' rate as the
 * measured rate the model is calibrated to. Below capacity the rate seen is the arrival rate,
 * which says nothing of what the pipeline could do, so the bounds alone decide.
 */
export function capacityFromObservation(
  obs: Observation,
  host: HostDescription & { name?: string },
  opts: Partial<CapacityOptions> & { rows: number },
): CapacityReport {
  const at = new Date(obs.atS * 1000).toISOString();
  const source = `Prometheus ${obs.prometheus}, ${obs.mapping}, the ${obs.window} ending ${at}`;
  const processes = Math.max(1, ...obs.stages.map((s) => Math.round(s.processes?.value ?? 1)));
  const limit = providerLimitPerMinute(obs);
  const stages: DeclaredCapacity['stages'] = {};
  for (const s of obs.stages) {
    let note =
      `observed: ${fmt(s.secondsPerRow.value, 3)} s per job (${s.secondsPerRow.promql}), ${fmt(s.slots.value)} slots (${s.slots.promql}), ` +
      `${fmt(s.inFlight.value, 1)} in flight (${s.inFlight.promql}), ${fmt(s.completed.value, 2)} jobs/s (${s.completed.promql})`;
    let secondsPerRow = s.secondsPerRow.value;
    if (s.stage === 'ai' && limit) {
      // Under the provider's limit an AI job spends most of its time waiting for the minute to
      // open: its own time is not in the window. The share of attempts that got through bounds it
      // (each refused attempt is a wait); the stage then runs faster than the limit lets it.
      secondsPerRow *= limit.through;
      note += `; ${fmt(limit.share * 100, 0)} % of its LLM attempts were refused (429), so its own time per job is taken as ${fmt(s.secondsPerRow.value, 3)} s × the ${fmt(limit.through * 100, 0)} % that got through = ${fmt(secondsPerRow, 3)} s (an estimate: a window the limit held cannot show the stage's time without it)`;
    }
    const stage: DeclaredStage = {
      latencyMs: secondsPerRow * 1000,
      concurrencyPerProcess: Math.max(1, s.slots.value / processes),
      note,
    };
    stages[s.stage] = stage;
  }
  const cpu = obs.processes.cpuSecondsPerSecond;
  const done = obs.rowsDone.value;
  const tokens = obs.llm.tokensPerMessage?.value;
  const prompt = obs.llm.promptTokensPerMessage?.value;
  const declared: DeclaredCapacity = {
    kind: 'headroom.declared-capacity',
    version: 1,
    name: obs.mapping,
    host: {
      name: host.name ?? 'this host',
      cpuModel: host.cpuModel,
      cores: host.cores,
      memoryBytes: host.memoryBytes,
    },
    workers: {
      processes,
      concurrencyPerProcess: Math.max(1, ...Object.values(stages).map((s) => s!.concurrencyPerProcess!)),
      ...(obs.processes.residentBytes && obs.processes.count && obs.processes.count.value > 0
        ? { rssBytesPerProcess: obs.processes.residentBytes.value / obs.processes.count.value }
        : {}),
    },
    ...(cpu && done > 0 ? { cpuMsPerRow: (cpu.value / done) * 1000 } : {}),
    llm: {
      ...(limit ? { rpm: limit.rpm } : {}),
      ...(tokens !== undefined && prompt !== undefined
        ? { tokensPerMessage: Math.max(0, tokens - prompt), promptTokensPerMessage: prompt }
        : {}),
    },
    stages,
  };
  const input = modelInputFromDeclared(declared, source, opts);
  const calibrates = obs.saturated && !limit && done > 0;
  const rateSource = `${obs.rowsDone.promql}: ${fmt(done, 2)} rows finished per second over the window`;
  const notes = [...obs.notes];
  if (cpu && done > 0)
    notes.push(
      `CPU per row: ${fmt(cpu.value, 3)} CPU s/s of every scraped process (${cpu.promql}) ÷ ${fmt(done, 2)} rows/s.`,
    );
  if (!obs.saturated)
    notes.push(
      `The pipeline was below its capacity in the window (busiest stage ${fmt(Math.max(...obs.stages.map((s) => s.utilisation)) * 100, 0)} % of its slots${obs.stages.some((s) => s.medianBacklog) ? ', or no queue had jobs waiting most of the window' : ''}, no rate limit): ` +
        `the ${fmt(done, 2)} rows/s seen is what arrived, so the capacity is the bounds' (slots ÷ seconds per row, Little's law).`,
    );
  return buildCapacityReport({
    ...input,
    mode: 'observed',
    source,
    llm: limit ? { ...input.llm, source: limit.source } : input.llm,
    // The rate seen calibrates the model only when it is the pipeline's own capacity: not below it
    // (it is then what arrived), and not under the provider's limit (it is then the limit's).
    measuredRate: calibrates ? { value: done, source: rateSource } : null,
    measuredRateInterval:
      calibrates && Number.isFinite(obs.rowsDone.low)
        ? {
            low: obs.rowsDone.low,
            high: obs.rowsDone.high,
            source: `90 % interval of the rates of ${obs.rowsDone.slices} slices of the window (Student's t)`,
          }
        : null,
    notes: [...input.notes, ...notes],
  });
}

/** When the rows queued now will be through, at the rate the window saw. */
export interface Eta {
  rowsLeft: number;
  rateRps: number;
  /** Seconds until the last row is through, with the 90 % interval from the rate's. */
  remainingS: number;
  lowS: number;
  highS: number;
  source: string;
}

/** The time left for the rows now queued: rows left ÷ the rows' rate, its interval from the rate's. */
export function etaOf(obs: Observation): Eta {
  if (!obs.rowsLeft)
    throw new TelemetryTooFewError(
      `${obs.mapping} gives no rowsLeft (rows not finished yet): --eta needs it; add it to the mapping`,
    );
  const rate = obs.rowsDone.value;
  if (!(rate > 0))
    throw new TelemetryTooFewError(
      `no rows finished in the ${obs.window} ending ${new Date(obs.atS * 1000).toISOString()} (${obs.rowsDone.promql}): nothing to extrapolate; wait until rows finish, or give a longer --window`,
    );
  const left = obs.rowsLeft.value;
  const { low, high } = obs.rowsDone;
  return {
    rowsLeft: left,
    rateRps: rate,
    remainingS: left / rate,
    lowS: Number.isFinite(high) && high > 0 ? left / high : Number.NaN,
    highS: Number.isFinite(low) && low > 0 ? left / low : Number.POSITIVE_INFINITY,
    source: `${fmt(left)} rows left (${obs.rowsLeft.promql}) ÷ ${fmt(rate, 2)} rows/s (${obs.rowsDone.promql})`,
  };
}
