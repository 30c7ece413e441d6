import type { GateOutcome } from '../analyzer/regression-gate.js';

/**
 * The gate's outcome as JSON (the data behind the Markdown and JUnit reports): versioned by its
 * `kind` and `version`, every figure with both sides, the change, its interval and the verdict.
 */
export function renderJsonReport(outcome: GateOutcome): string {
  return `${JSON.stringify(outcome, null, 2)}\n`;
}
