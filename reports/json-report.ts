import type { GateOutcome } from '../analyzer/regression-gate.js';

/**
 * The gate's outcome as JSON (the data behind the Markdown and JUnit reports): versioned by its
 * `kind` and `version`, every figure with both sides, the change, its interval and the verdict;
 * `extra` adds sections beside it (the head against the recent history, under `history`).
 */
export function renderJsonReport(outcome: GateOutcome, extra?: Record<string, unknown>): string {
  return `${JSON.stringify({ ...outcome, ...extra }, null, 2)}\n`;
}
