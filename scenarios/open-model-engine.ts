import type { RunResult, ScheduleAccuracy } from '../results/run-result.js';
import { ArrivalSchedule, type LoadPhase } from './arrival-schedule.js';
import { type EngineOptions, resolveEngineOptions } from './engine-options.js';
import { FlowExecutor, type LoadModel } from './flow-executor.js';

/** Options of an open-model run: iterations arrive on a schedule, whatever the target does. */
export interface OpenModelOptions extends EngineOptions {
  /** Phases in sequence. Or give `rateRps` and `durationMs` for one constant phase. */
  phases?: LoadPhase[];
  rateRps?: number;
  durationMs?: number;
  /**
   * Most iterations in flight at once; an arrival beyond it is dropped and counted (k6's
   * dropped_iterations), never queued: a queue would turn the open model back into a closed one.
   * Default 10,000.
   */
  maxInFlight?: number;
}

/**
 * Runs an open-model load: iteration k starts at its scheduled time (from the rate integral),
 * whether or not earlier iterations have finished. The latency of a step counts from when it
 * was meant to go out (coordinated omission), so a stalled target shows up in full.
 */
export async function runOpenModel(options: OpenModelOptions): Promise<RunResult> {
  const problems: string[] = [];
  let phases: LoadPhase[] = options.phases ?? [];
  if (options.phases) checkPhases(phases, problems);
  else if (options.rateRps === undefined || options.durationMs === undefined) {
    problems.push('phases: give phases, or rateRps and durationMs for one constant phase');
  } else {
    phases = [{ rateRps: options.rateRps, durationMs: options.durationMs }];
    checkPhases(phases, problems);
  }
  const maxInFlight = options.maxInFlight ?? 10_000;
  if (!(Number.isInteger(maxInFlight) && maxInFlight > 0)) {
    problems.push(`maxInFlight: must be a whole number > 0 (got ${JSON.stringify(options.maxInFlight)})`);
  }
  const settings = resolveEngineOptions('open-model', options, { phases, maxInFlight }, problems);
  const schedule = new ArrivalSchedule(phases);
  const executor = new FlowExecutor(settings);
  const model = new ArrivalModel(schedule, executor, maxInFlight);
  await executor.run(model);
  return executor.result(model.accuracy());
}

class ArrivalModel implements LoadModel {
  readonly plannedEndMs: number;
  private k = 0;
  private nextAtMs: number;
  private started = 0;
  private dropped = 0;
  private lastLagMs = 0;
  private intervalMs = Number.POSITIVE_INFINITY;
  private stoppedEarlyAtMs: number | undefined;

  constructor(
    private readonly schedule: ArrivalSchedule,
    private readonly executor: FlowExecutor,
    private readonly maxInFlight: number,
  ) {
    this.plannedEndMs = executor.startMs + schedule.durationMs;
    this.nextAtMs = executor.startMs + schedule.atMs(0);
  }

  get finished(): boolean {
    return this.k >= this.schedule.totalArrivals || this.stoppedEarlyAtMs !== undefined;
  }

  tick(nowMs: number, budget: number): number {
    let fired = 0;
    while (this.nextAtMs <= nowMs && fired < budget && !this.finished) {
      if (this.executor.exhausted) {
        this.stoppedEarlyAtMs = nowMs;
        break;
      }
      if (this.executor.inFlight >= this.maxInFlight) {
        this.dropped++;
        this.executor.recorder.recordDropped();
      } else {
        this.executor.startIteration(this.nextAtMs);
        this.started++;
        this.lastLagMs = performance.now() - this.nextAtMs;
      }
      this.k++;
      const atMs = this.executor.startMs + this.schedule.atMs(this.k);
      this.intervalMs = atMs - this.nextAtMs;
      this.nextAtMs = atMs;
      fired++;
    }
    return fired;
  }

  arrivalIntervalMs(): number {
    return this.intervalMs;
  }

  nextDueMs(): number {
    return this.finished ? Number.POSITIVE_INFINITY : this.nextAtMs;
  }

  /**
   * How well the schedule was kept. The achieved rate spreads the started iterations over the
   * schedule's span plus however late the last one went out, so both dropped arrivals and a
   * generator that falls behind count against it.
   */
  accuracy(): ScheduleAccuracy {
    const completedSchedule = this.k >= this.schedule.totalArrivals;
    const stopMs = this.stoppedEarlyAtMs ?? this.executor.endedAtMs;
    const spanMs = completedSchedule
      ? this.schedule.durationMs
      : Math.max(1, Math.min(this.schedule.durationMs, stopMs - this.executor.startMs));
    const requestedRps = this.k / (spanMs / 1_000);
    const achievedRps = this.started / ((spanMs + Math.max(0, this.lastLagMs)) / 1_000);
    return {
      intended: this.k,
      sent: this.started,
      dropped: this.dropped,
      meanLagMs: round3(this.executor.recorder.meanLagMs),
      maxLagMs: round3(this.executor.recorder.maxLagMs),
      requestedRps: round3(requestedRps),
      achievedRps: round3(achievedRps),
      scheduleError: requestedRps > 0 ? Math.abs(achievedRps - requestedRps) / requestedRps : 0,
    };
  }
}

function checkPhases(phases: readonly LoadPhase[], problems: string[]): void {
  if (!Array.isArray(phases) || phases.length === 0) {
    problems.push('phases: must list at least one phase (or give rateRps and durationMs)');
    return;
  }
  phases.forEach((phase, i) => {
    const at = `phases/${i}`;
    if (!(Number.isFinite(phase.durationMs) && phase.durationMs > 0)) {
      problems.push(`${at}/durationMs: must be a number > 0 (got ${JSON.stringify(phase.durationMs)})`);
    }
    const rates =
      'rateRps' in phase ? { rateRps: phase.rateRps } : { fromRps: phase.fromRps, toRps: phase.toRps };
    for (const [name, value] of Object.entries(rates)) {
      if (!(Number.isFinite(value) && value >= 0)) {
        problems.push(`${at}/${name}: must be a number >= 0 (got ${JSON.stringify(value)})`);
      }
    }
  });
}

function round3(value: number): number {
  return Math.round(value * 1_000) / 1_000;
}
