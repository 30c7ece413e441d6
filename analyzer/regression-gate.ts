import {
  type ComparisonOptions,
  compareDifference,
  comparePairedTrials,
  compareTrials,
  DEFAULT_COMPARISON,
  type Direction,
  medianOf,
  type Verdict,
} from './comparison.js';
import type { GateKind, LeakSummary, RunSummary, SummaryFigure } from './summary.js';

/**
 * Trials per side unless told otherwise. With 8 trials the rule keeps A/A false alarms near 1 %
 * and catches a +10 % change ≥ 98 % of the time up to 4 % trial-to-trial noise (per-figure
 * simulation); with 5 only up to about 3 %.
 */
export const DEFAULT_GATE_TRIALS = 8;

/** The gates' limits, from the Selextract guide's performance gates. */
export interface GateThresholds {
  /** Relative latency increase that fails (0.10 = +10 %). */
  latency: number;
  /** Relative throughput drop that fails. */
  throughput: number;
  /** Error-rate increase that fails, in percentage points (0.1 = +0.1 pp). */
  errorRatePp: number;
  /** Relative resource increase that fails (CPU per request, peak RSS). */
  resource: number;
}

export const DEFAULT_GATE_THRESHOLDS: GateThresholds = {
  latency: 0.1,
  throughput: 0.1,
  errorRatePp: 0.1,
  resource: 0.2,
};

export interface GateOptions extends Omit<ComparisonOptions, 'threshold'> {
  thresholds: GateThresholds;
  /**
   * The latency figures that can fail the gate, as suffixes of `latency.*` and `latency:<step>.*`
   * (the median over trials of each trial's figure is compared). Default `p50`: measured here, a
   * trial's p50 moves by a few percent between trials where its p95 and p99 move by tens of
   * percent (GC pauses and scheduler stalls land in the tail), so the median is the figure that
   * can show a 10 % change with a handful of short trials. The tail is still compared and shown.
   */
  gatedLatency: string[];
  /**
   * A latency change smaller than this (milliseconds, between the medians) is never a regression:
   * on a sub-millisecond step the client, the kernel and the other process on the same cores
   * move the figure by more than the code does. Resource figures (CPU per request) still see
   * such a step getting costlier.
   */
  minLatencyChangeMs: number;
  /**
   * Trial i of base and head ran together (interleaved or concurrent rounds): compare per-pair
   * ratios, so noise both sides shared cancels. Off for stored baselines, measured at another time.
   */
  paired: boolean;
}

export const DEFAULT_GATE_OPTIONS: GateOptions = {
  confidence: DEFAULT_COMPARISON.confidence,
  resamples: DEFAULT_COMPARISON.resamples,
  seed: DEFAULT_COMPARISON.seed,
  estimator: 'hodges-lehmann',
  thresholds: DEFAULT_GATE_THRESHOLDS,
  gatedLatency: ['p50'],
  minLatencyChangeMs: 0.5,
  paired: false,
};

/** The comparison of one figure of one scenario. */
export interface FigureVerdict {
  figure: string;
  gate: GateKind;
  /** True when this figure can fail the gate. */
  gated: boolean;
  unit: SummaryFigure['unit'];
  direction: Direction;
  /** Median (ratio figures) or mean (rates) over the trials of each side. */
  base: number;
  head: number;
  /** `relative`: change and interval are ratios − 1; `difference`: head − base in the figure's unit. */
  changeKind: 'relative' | 'difference';
  change: number;
  low: number;
  high: number;
  /** The limit, in the same terms as `change`. */
  threshold: number;
  verdict: Verdict;
  trialsNeeded?: number;
  /** A gated regression. */
  failed: boolean;
  /** Why a regression did not fail the gate (a latency change under the floor). */
  note?: string;
  /**
   * Set on an inconclusive figure whose interval is wider than the gate itself: with the trials
   * given, this runner cannot tell a gate-sized change from none. Said once, with the trials per
   * side that would resolve it, rather than as an "inconclusive" to investigate.
   */
  unresolved?: boolean;
}

/** The gate of one scenario: every figure's comparison and the leak test. */
export interface ScenarioGate {
  scenario: string;
  baseTrials: number;
  headTrials: number;
  figures: FigureVerdict[];
  /** Present when the head's trials carry a leak test. */
  leak?: { base?: LeakSummary; head: LeakSummary; failed: boolean };
  failed: boolean;
}

export const GATE_OUTCOME_KIND = 'headroom.gate-outcome';
export const GATE_OUTCOME_VERSION = 1;

/** The gate's outcome over a suite: passed when no scenario failed. */
export interface GateOutcome {
  kind: typeof GATE_OUTCOME_KIND;
  version: typeof GATE_OUTCOME_VERSION;
  createdAt: string;
  passed: boolean;
  /** What the base side is: a baseline file, a git ref, a results folder. */
  base: string;
  head: string;
  /** Set when the two sides were measured on different hosts and the comparison was forced. */
  hostMismatch?: { base: string; head: string };
  thresholds: GateThresholds;
  gatedLatency: string[];
  scenarios: ScenarioGate[];
  /** How the sides shared the runner, when both were measured here (see GateDesign). */
  design?: GateDesign;
}

/**
 * How both sides were measured in one gate run, so a position bias can be ruled out from the
 * report: the order the services were started in (and so took their ports), and each round's
 * side order (first = started and loaded first), per scenario, warm-up rounds included.
 */
export interface GateDesign {
  interleave: 'concurrent' | 'alternate';
  orderSeed: number;
  startOrder: string[];
  rounds: Record<string, string[][]>;
  /** True for an A/A run: both sides are the same build. */
  aa: boolean;
}

/** Is this figure one of the gated ones under these options? */
/** The figures of a trial that can fail the gate under these options (the rest are shown, not judged). */
export function gatedFigures(summary: RunSummary, options: Partial<GateOptions> = {}): string[] {
  const opts: GateOptions = { ...DEFAULT_GATE_OPTIONS, ...options };
  return Object.entries(summary.figures)
    .filter(([name, figure]) => isGated(name, figure, opts))
    .map(([name]) => name);
}

function isGated(name: string, figure: SummaryFigure, options: GateOptions): boolean {
  if (figure.gate === 'info') return false;
  if (figure.gate !== 'latency') return true;
  const suffix = name.slice(name.lastIndexOf('.') + 1);
  return options.gatedLatency.includes(suffix);
}

function thresholdOf(figure: SummaryFigure, thresholds: GateThresholds): number {
  switch (figure.gate) {
    case 'latency':
      return thresholds.latency;
    case 'throughput':
      return thresholds.throughput;
    case 'resource':
      return thresholds.resource;
    case 'error-rate':
      return thresholds.errorRatePp / 100;
    default:
      // Reported figures are judged like latency: a 10 % move is worth a look, never a failure.
      return thresholds.latency;
  }
}

/**
 * Compares the trials of one scenario, figure by figure: ratio of medians for latency, throughput
 * and resources, difference of means for the error rate, and the leak test of the head's trials.
 * Only figures every trial of both sides has are compared.
 */
export function compareScenarioTrials(
  base: readonly RunSummary[],
  head: readonly RunSummary[],
  options: Partial<GateOptions> = {},
): ScenarioGate {
  const opts: GateOptions = {
    ...DEFAULT_GATE_OPTIONS,
    ...options,
    thresholds: { ...DEFAULT_GATE_THRESHOLDS, ...options.thresholds },
  };
  if (base.length < 2 || head.length < 2)
    throw new Error(`a gate needs at least 2 trials per side (got ${base.length} and ${head.length})`);
  const scenario = head[0]!.scenario.name;
  const names = Object.keys(head[0]!.figures).filter((name) =>
    [...base, ...head].every((s) => s.figures[name] !== undefined),
  );
  const figures: FigureVerdict[] = [];
  for (const name of names) {
    const figure = head[0]!.figures[name]!;
    const baseValues = base.map((s) => s.figures[name]!.value);
    const headValues = head.map((s) => s.figures[name]!.value);
    const threshold = thresholdOf(figure, opts.thresholds);
    const gated = isGated(name, figure, opts);
    const compare = {
      confidence: opts.confidence,
      resamples: opts.resamples,
      seed: opts.seed,
      estimator: opts.estimator,
      threshold,
    };
    let verdict: FigureVerdict;
    if (figure.gate === 'error-rate' || figure.unit === 'ratio') {
      const c = compareDifference(baseValues, headValues, figure.direction, compare);
      verdict = {
        figure: name,
        gate: figure.gate,
        gated,
        unit: figure.unit,
        direction: figure.direction,
        base: c.baselineMean,
        head: c.candidateMean,
        changeKind: 'difference',
        change: c.difference,
        low: c.low,
        high: c.high,
        threshold,
        verdict: c.verdict,
        failed: false,
      };
      if (c.trialsNeeded !== undefined) verdict.trialsNeeded = c.trialsNeeded;
    } else {
      // A figure at 0 on the base side (no queue wait at all) has no ratio: shown, not judged.
      if (medianOf(baseValues) <= 0) continue;
      const paired = opts.paired && baseValues.length === headValues.length && baseValues.every((x) => x > 0);
      const c = (paired ? comparePairedTrials : compareTrials)(
        baseValues,
        headValues,
        figure.direction,
        compare,
      );
      verdict = {
        figure: name,
        gate: figure.gate,
        gated,
        unit: figure.unit,
        direction: figure.direction,
        base: c.baselineMedian,
        head: c.candidateMedian,
        changeKind: 'relative',
        change: c.ratio - 1,
        low: c.low - 1,
        high: c.high - 1,
        threshold,
        verdict: c.verdict,
        failed: false,
      };
      if (c.trialsNeeded !== undefined) verdict.trialsNeeded = c.trialsNeeded;
    }
    verdict.failed = gated && verdict.verdict === 'regression';
    if (verdict.verdict === 'inconclusive' && verdict.high - verdict.low > threshold)
      verdict.unresolved = true;
    const movedMs = Math.abs(verdict.head - verdict.base);
    if (verdict.failed && figure.gate === 'latency' && movedMs < opts.minLatencyChangeMs) {
      verdict.failed = false;
      verdict.note = `${movedMs.toFixed(3)} ms worse, under the ${opts.minLatencyChangeMs} ms floor`;
    }
    // The floor holds both ways: a step that got faster by less than it is noise, not news.
    if (verdict.verdict === 'improvement' && figure.gate === 'latency' && movedMs < opts.minLatencyChangeMs)
      verdict.note = `${movedMs.toFixed(3)} ms better, under the ${opts.minLatencyChangeMs} ms floor`;
    figures.push(verdict);
  }
  const result: ScenarioGate = {
    scenario,
    baseTrials: base.length,
    headTrials: head.length,
    figures,
    failed: figures.some((f) => f.failed),
  };
  const headLeaks = head.map((s) => s.leak).filter((l): l is LeakSummary => l !== undefined);
  if (headLeaks.length > 0) {
    // One leak verdict per trial: the gate fails when most trials find a leak, so one unlucky fit
    // does not fail a build and a real leak (found in every trial) does.
    const leaking = headLeaks.filter((l) => l.leak).length;
    const baseLeaks = base.map((s) => s.leak).filter((l): l is LeakSummary => l !== undefined);
    const leak: NonNullable<ScenarioGate['leak']> = {
      head: medianLeak(headLeaks),
      failed: leaking * 2 > headLeaks.length,
    };
    if (baseLeaks.length > 0) leak.base = medianLeak(baseLeaks);
    result.leak = leak;
    result.failed ||= leak.failed;
  }
  return result;
}

/** Builds the suite's outcome from each scenario's gate. */
export function gateOutcome(
  scenarios: ScenarioGate[],
  meta: {
    base: string;
    head: string;
    hostMismatch?: { base: string; head: string };
    options?: Partial<GateOptions>;
    design?: GateDesign;
  },
): GateOutcome {
  const outcome: GateOutcome = {
    kind: GATE_OUTCOME_KIND,
    version: GATE_OUTCOME_VERSION,
    createdAt: new Date().toISOString(),
    passed: scenarios.every((s) => !s.failed),
    base: meta.base,
    head: meta.head,
    thresholds: { ...DEFAULT_GATE_THRESHOLDS, ...meta.options?.thresholds },
    gatedLatency: meta.options?.gatedLatency ?? DEFAULT_GATE_OPTIONS.gatedLatency,
    scenarios,
  };
  if (meta.hostMismatch) outcome.hostMismatch = meta.hostMismatch;
  if (meta.design) outcome.design = meta.design;
  return outcome;
}

/** One line: PASS or FAIL, with what failed, what was inconclusive and what this runner cannot resolve. */
export function overallVerdictLine(outcome: GateOutcome): string {
  const failed: string[] = [];
  let inconclusive = 0;
  let unresolved = 0;
  let trialsNeeded = 0;
  for (const s of outcome.scenarios) {
    for (const f of s.figures) {
      if (f.failed) failed.push(`${s.scenario} ${f.figure} ${formatChange(f)}`);
      else if (f.gated && f.unresolved) {
        unresolved++;
        trialsNeeded = Math.max(trialsNeeded, f.trialsNeeded ?? 0);
      } else if (f.gated && f.verdict === 'inconclusive') inconclusive++;
    }
    if (s.leak?.failed) failed.push(`${s.scenario} heap leak ${s.leak.head.slopeMbPerHour.toFixed(1)} MB/h`);
  }
  const flag = outcome.hostMismatch ? ' (hosts differ: comparison forced)' : '';
  const plural = (n: number) => (n > 1 ? 's' : '');
  let more = inconclusive
    ? `; ${inconclusive} gated figure${plural(inconclusive)} inconclusive (add trials)`
    : '';
  if (unresolved)
    more += `; ${unresolved} gated figure${plural(unresolved)} beyond this runner's resolution (interval wider than the gate; ≈${trialsNeeded} trials per side would resolve)`;
  if (failed.length > 0) return `FAIL: ${failed.join(', ')}${more}${flag}`;
  return `PASS: no regression in ${outcome.scenarios.length} scenario${outcome.scenarios.length === 1 ? '' : 's'}${more}${flag}`;
}

/** A change as text: `+10.3 %` for ratios, `+0.20 pp` for rates. */
export function formatChange(f: Pick<FigureVerdict, 'changeKind' | 'change' | 'unit'>): string {
  const sign = (x: number) => (x >= 0 ? '+' : '−');
  if (f.changeKind === 'difference') {
    const pp = f.change * 100;
    return `${sign(pp)}${Math.abs(pp).toFixed(2)} pp`;
  }
  const pct = f.change * 100;
  return `${sign(pct)}${Math.abs(pct).toFixed(1)} %`;
}

function medianLeak(leaks: LeakSummary[]): LeakSummary {
  const sorted = [...leaks].sort((a, b) => a.slopeMbPerHour - b.slopeMbPerHour);
  return sorted[sorted.length >> 1]!;
}
