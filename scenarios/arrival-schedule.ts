/** A phase of constant arrival rate. */
export interface ConstantPhase {
  durationMs: number;
  rateRps: number;
}

/** A phase whose arrival rate changes linearly from `fromRps` to `toRps`. */
export interface RampPhase {
  durationMs: number;
  fromRps: number;
  toRps: number;
}

/** One phase of an open-model load: constant or ramping arrival rate. */
export type LoadPhase = ConstantPhase | RampPhase;

interface PhasePlan {
  startMs: number;
  durationMs: number;
  fromRps: number;
  toRps: number;
  /** Arrivals intended before this phase starts (fractional: the rate integral). */
  arrivalsBefore: number;
  arrivalsIn: number;
}

/**
 * When each arrival of an open-model load is intended, worked out from the rate alone: the k-th
 * arrival is at the time t where the integral of the rate from 0 to t equals k. It never depends
 * on when earlier requests finished, which is what makes the load open.
 */
export class ArrivalSchedule {
  /** Number of arrivals in the whole schedule. */
  readonly totalArrivals: number;
  /** Sum of the phase durations. */
  readonly durationMs: number;
  /** The integral of the rate divided by the duration. */
  readonly meanRateRps: number;
  private readonly phases: PhasePlan[];
  private cursor = 0;

  constructor(phases: readonly LoadPhase[]) {
    this.phases = [];
    let startMs = 0;
    let arrivals = 0;
    for (const phase of phases) {
      const fromRps = 'rateRps' in phase ? phase.rateRps : phase.fromRps;
      const toRps = 'rateRps' in phase ? phase.rateRps : phase.toRps;
      const arrivalsIn = ((fromRps + toRps) / 2) * (phase.durationMs / 1_000);
      this.phases.push({
        startMs,
        durationMs: phase.durationMs,
        fromRps,
        toRps,
        arrivalsBefore: arrivals,
        arrivalsIn,
      });
      startMs += phase.durationMs;
      arrivals += arrivalsIn;
    }
    this.durationMs = startMs;
    // Arrival k happens when the integral reaches k, for k = 0, 1, …, while the integral is below
    // its total: ceil(total) arrivals. A tiny epsilon keeps 999.9999999 (float sums) from adding one.
    this.totalArrivals = Math.max(0, Math.ceil(arrivals - 1e-9));
    this.meanRateRps = startMs > 0 ? arrivals / (startMs / 1_000) : 0;
  }

  /**
   * Intended time of arrival `k` (0-based) in milliseconds from the start, or `Infinity` past
   * the last one. Calls with increasing `k` cost O(1); going backwards restarts the phase search.
   */
  atMs(k: number): number {
    if (k >= this.totalArrivals) return Number.POSITIVE_INFINITY;
    if (this.cursor >= this.phases.length || k < this.phases[this.cursor]!.arrivalsBefore) this.cursor = 0;
    let phase = this.phases[this.cursor]!;
    while (k >= phase.arrivalsBefore + phase.arrivalsIn && this.cursor < this.phases.length - 1) {
      phase = this.phases[++this.cursor]!;
    }
    const m = k - phase.arrivalsBefore;
    if (m <= 0) return phase.startMs;
    const durationSec = phase.durationMs / 1_000;
    const slope = (phase.toRps - phase.fromRps) / durationSec;
    // Solves fromRps·t + slope·t²/2 = m for t, in the form that stays exact when slope is 0 or
    // fromRps is 0 (no division of two small numbers).
    const root = Math.sqrt(Math.max(0, phase.fromRps * phase.fromRps + 2 * slope * m));
    const tSec = (2 * m) / (phase.fromRps + root);
    return phase.startMs + Math.min(tSec * 1_000, phase.durationMs);
  }
}
