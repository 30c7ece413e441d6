import type { GateOutcome } from '../analyzer/regression-gate.js';
import { overallVerdictLine } from '../analyzer/regression-gate.js';
import type { GateRoundProgress } from '../gate/run-gate.js';
import type { DashboardEvent } from './dashboard-server.js';

/** One gated figure after a round: the latest trial of each side, and the interval so far. */
export interface GateFigureRound {
  figure: string;
  unit: string;
  /** The latest trial's value on each side (a baseline's last stored trial for the base). */
  base: number;
  head: number;
  /** Null until both sides have two trials. */
  interval: {
    changeKind: 'relative' | 'difference';
    change: number;
    low: number;
    high: number;
    threshold: number;
    verdict: string;
    /** The figure would fail the gate now (a regression beyond the latency floor). */
    failed: boolean;
    /** Why a regression would not fail it (a latency change under the floor). */
    note?: string;
  } | null;
}

/** A measured round of the gate. */
export interface GateRoundEvent {
  type: 'gate-round';
  scenario: string;
  round: number;
  rounds: number;
  /** Rounds done of the whole suite, of `roundsTotal`. */
  roundsDone: number;
  roundsTotal: number;
  figures: GateFigureRound[];
}

/** The event of one round of `runGate`: its gated figures, in the order the head's trial has them. */
export function gateRoundEvent(p: GateRoundProgress): DashboardEvent {
  const lastBase = p.base.at(-1)!;
  const lastHead = p.head.at(-1)!;
  const figures: GateFigureRound[] = [];
  for (const name of p.gated) {
    const b = lastBase.figures[name];
    const h = lastHead.figures[name];
    if (!b || !h) continue;
    const v = p.gate?.figures.find((f) => f.figure === name);
    figures.push({
      figure: name,
      unit: h.unit,
      base: b.value,
      head: h.value,
      interval: v
        ? {
            changeKind: v.changeKind,
            change: v.change,
            low: v.low,
            high: v.high,
            threshold: v.threshold,
            verdict: v.verdict,
            failed: v.failed,
            ...(v.note ? { note: v.note } : {}),
          }
        : null,
    });
  }
  return {
    type: 'gate-round',
    scenario: p.scenario,
    round: p.round,
    rounds: p.rounds,
    roundsDone: p.scenarioIndex * p.rounds + p.round,
    roundsTotal: p.scenarios * p.rounds,
    figures,
  };
}

/** The closing event of a gate: the suite's verdict line. */
export function gateEndEvent(outcome: GateOutcome): DashboardEvent {
  return {
    type: 'end',
    passed: outcome.passed,
    verdicts: [],
    report: false,
    summary: overallVerdictLine(outcome),
  };
}
