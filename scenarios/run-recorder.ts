import { LatencyHistogram } from '../results/latency-histogram.js';
import type { RunStep, TimeSeriesPoint } from '../results/run-result.js';
import type { ErrorClass } from './error-class.js';

/** What a live display shows, once a second. */
export interface RunProgress {
  elapsedMs: number;
  /** Requests finished (answered or failed) in the last second. */
  rateRps: number;
  /** 95th percentile of latency so far, all steps together, in milliseconds. */
  p95Ms: number;
  requests: number;
  errors: number;
  inFlight: number;
  /** The second that just closed, in more detail, for a live dashboard. */
  live?: LiveSecond;
}

/** What a live view draws of one second: rates, this second's percentiles, and the steps so far. */
export interface LiveSecond {
  /** Index of the second since the start of the load (0 is the first). */
  tSec: number;
  /** Requests sent this second, and arrivals dropped (open model, beyond maxInFlight): intended = both. */
  sentRps: number;
  droppedRps: number;
  /** Latency percentiles of the requests finished this second (null when none finished). */
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  /** Per step, so far: requests and latency percentiles. */
  steps: Array<{
    name: string;
    requests: number;
    p50Ms: number | null;
    p95Ms: number | null;
    p99Ms: number | null;
  }>;
  /** Failures by class so far. */
  errorsByClass: Record<string, number>;
  meanLagMs: number;
  maxLagMs: number;
}

class StepRecord {
  requests = 0;
  readonly errors: Record<string, number> = {};
  readonly latency = LatencyHistogram.create();
  readonly service = LatencyHistogram.create();

  constructor(readonly name: string) {}
}

/**
 * Collects what a run measures: per step, requests, errors by class and two histograms
 * (latency from the intended send time, service time from the actual send); per second, the
 * time series; and how late requests went out compared with when they were meant to.
 * Times are performance.now() milliseconds.
 */
export class RunRecorder {
  private readonly steps: StepRecord[];
  private readonly points: TimeSeriesPoint[] = [];
  private readonly second = LatencyHistogram.create();
  private readonly progressScratch = LatencyHistogram.create();
  private nextSecondAtMs: number;
  private secondRequests = 0;
  private secondErrors = 0;
  private secondSent = 0;
  private secondDropped = 0;
  private totalFinished = 0;
  private totalErrors = 0;
  private lagSumMs = 0;
  private lagCount = 0;
  private lagMaxMs = 0;

  constructor(
    stepNames: readonly string[],
    readonly startMs: number,
    private readonly inFlight: () => number,
    private readonly onProgress?: (progress: RunProgress) => void,
    /**
     * A closed loop (autocannon) has no intended send time: latency and service time are the same
     * values, kept once (a second histogram would only cost the load generator).
     */
    private readonly serviceIsLatency = false,
  ) {
    this.steps = stepNames.map((name) => new StepRecord(name));
    this.nextSecondAtMs = startMs + 1_000;
  }

  /** A request of step `stepIndex` went out `lagMs` after its intended send time. */
  recordSent(stepIndex: number, lagMs: number): void {
    this.steps[stepIndex]!.requests++;
    this.secondSent++;
    const lag = Math.max(lagMs, 0);
    this.lagSumMs += lag;
    this.lagCount++;
    if (lag > this.lagMaxMs) this.lagMaxMs = lag;
  }

  /** An arrival of the open model was dropped: as many iterations as allowed were in flight. */
  recordDropped(): void {
    this.secondDropped++;
  }

  /** A response arrived (any status); `errorClass` is set when its status is a failure. */
  recordResponse(
    stepIndex: number,
    nowMs: number,
    latencyMs: number,
    serviceMs: number,
    errorClass: ErrorClass | undefined,
  ): void {
    if (nowMs >= this.nextSecondAtMs) this.rollSeconds(nowMs);
    const step = this.steps[stepIndex]!;
    step.latency.recordUs(latencyMs * 1_000);
    if (!this.serviceIsLatency) step.service.recordUs(serviceMs * 1_000);
    this.second.recordUs(latencyMs * 1_000);
    this.secondRequests++;
    this.totalFinished++;
    if (errorClass) this.countError(step, errorClass);
  }

  /** A request failed without a response (or its response failed a check). */
  recordFailure(stepIndex: number, nowMs: number, errorClass: ErrorClass, finished = true): void {
    if (nowMs >= this.nextSecondAtMs) this.rollSeconds(nowMs);
    if (finished) {
      this.secondRequests++;
      this.totalFinished++;
    }
    this.countError(this.steps[stepIndex]!, errorClass);
  }

  /** Closes every whole second up to `nowMs` (call about once a second even when idle). */
  rollSeconds(nowMs: number): void {
    while (nowMs >= this.nextSecondAtMs) {
      this.points.push({
        tSec: this.points.length,
        requests: this.secondRequests,
        errors: this.secondErrors,
        p95Ms: this.second.count === 0 ? null : round3(this.second.percentileMs(95)),
        inFlight: this.inFlight(),
      });
      this.nextSecondAtMs += 1_000;
      const rateRps = this.secondRequests;
      // Read before the reset, and only for the second a progress call will report.
      const live = this.onProgress && nowMs < this.nextSecondAtMs ? this.liveSecond() : undefined;
      this.secondRequests = 0;
      this.secondErrors = 0;
      this.secondSent = 0;
      this.secondDropped = 0;
      this.second.reset();
      if (this.onProgress && live) {
        this.onProgress({
          elapsedMs: nowMs - this.startMs,
          rateRps,
          p95Ms: this.cumulativeP95Ms(),
          requests: this.totalFinished,
          errors: this.totalErrors,
          inFlight: this.inFlight(),
          live,
        });
      }
    }
  }

  /** The second that is closing, read once a second: a few percentile look-ups, nothing per request. */
  private liveSecond(): LiveSecond {
    const pct = (h: LatencyHistogram, p: number) => (h.count === 0 ? null : round3(h.percentileMs(p)));
    const errorsByClass: Record<string, number> = {};
    for (const step of this.steps) {
      for (const [cls, n] of Object.entries(step.errors)) errorsByClass[cls] = (errorsByClass[cls] ?? 0) + n;
    }
    return {
      tSec: this.points.length - 1,
      sentRps: this.secondSent,
      droppedRps: this.secondDropped,
      p50Ms: pct(this.second, 50),
      p95Ms: pct(this.second, 95),
      p99Ms: pct(this.second, 99),
      steps: this.steps.map((s) => ({
        name: s.name,
        requests: s.requests,
        p50Ms: pct(s.latency, 50),
        p95Ms: pct(s.latency, 95),
        p99Ms: pct(s.latency, 99),
      })),
      errorsByClass,
      meanLagMs: round3(this.meanLagMs),
      maxLagMs: round3(this.lagMaxMs),
    };
  }

  /** Time until the current second closes, for the caller's once-a-second wake. */
  msToNextSecond(nowMs: number): number {
    return Math.max(0, this.nextSecondAtMs - nowMs);
  }

  /** Closes the last, partial second (if it saw anything) at the end of a run. */
  finish(nowMs: number): void {
    this.rollSeconds(nowMs);
    if (this.secondRequests > 0 || this.secondErrors > 0) {
      this.points.push({
        tSec: this.points.length,
        requests: this.secondRequests,
        errors: this.secondErrors,
        p95Ms: this.second.count === 0 ? null : round3(this.second.percentileMs(95)),
        inFlight: this.inFlight(),
      });
      this.secondRequests = 0;
      this.secondErrors = 0;
    }
  }

  /** The per-step results, histograms encoded. */
  stepResults(): RunStep[] {
    return this.steps.map((s) => {
      const latencyHistogram = s.latency.encode();
      return {
        name: s.name,
        requests: s.requests,
        errors: { ...s.errors },
        latencyHistogram,
        serviceHistogram: this.serviceIsLatency ? latencyHistogram : s.service.encode(),
      };
    });
  }

  get timeSeries(): TimeSeriesPoint[] {
    return this.points;
  }

  /** The latency histogram of a step (live, not a copy). */
  latencyOf(stepIndex: number): LatencyHistogram {
    return this.steps[stepIndex]!.latency;
  }

  /** The service-time histogram of a step (live, not a copy). */
  serviceOf(stepIndex: number): LatencyHistogram {
    const step = this.steps[stepIndex]!;
    return this.serviceIsLatency ? step.latency : step.service;
  }

  get requestsSent(): number {
    return this.lagCount;
  }

  get meanLagMs(): number {
    return this.lagCount === 0 ? 0 : this.lagSumMs / this.lagCount;
  }

  get maxLagMs(): number {
    return this.lagMaxMs;
  }

  private countError(step: StepRecord, errorClass: ErrorClass): void {
    step.errors[errorClass] = (step.errors[errorClass] ?? 0) + 1;
    this.secondErrors++;
    this.totalErrors++;
  }

  private cumulativeP95Ms(): number {
    if (this.steps.length === 1) return this.steps[0]!.latency.percentileMs(95);
    this.progressScratch.reset();
    for (const step of this.steps) this.progressScratch.merge(step.latency);
    return this.progressScratch.percentileMs(95);
  }
}

function round3(value: number): number {
  return Math.round(value * 1_000) / 1_000;
}
