import { DEFAULT_GATE_TRIALS } from '../analyzer/regression-gate.js';
import { UsageInvalidError } from '../errors.js';
import { startEmbeddedTarget } from '../scenarios/embedded-target.js';
import { gateSuite } from '../scenarios/gate-suite.js';
import { runInterleavedTrials } from '../scenarios/trial-runner.js';
import {
  type Baseline,
  baselineFromRuns,
  currentCommit,
  DEFAULT_BASELINE_DIR,
  saveBaseline,
} from './baseline-store.js';
import { hostFingerprint } from './host-fingerprint.js';

export interface MeasureBaselineOptions {
  /** Trials per scenario. */
  trials?: number;
  dir?: string;
  /** The suite whose trial settings the baseline uses, so `headroom gate --suite` compares with it. */
  suite?: string;
  signal?: AbortSignal;
  onProgress?: (line: string) => void;
}

/**
 * Measures and stores the baseline of each scenario on this host: the gate's trials (the suite's
 * trial settings) against one reference pipeline of this build, kept alive across them.
 */
export async function measureBaselines(
  scenarios: string[],
  opts: MeasureBaselineOptions = {},
): Promise<Array<{ file: string; baseline: Baseline }>> {
  const suite = gateSuite(opts.suite ?? 'quick');
  const entries = scenarios.map((name) => {
    const entry = suite.entries.find((e) => e.scenario === name);
    if (!entry)
      throw new UsageInvalidError(
        `the ${suite.name} gate suite has no scenario "${name}": use ${suite.entries.map((e) => e.scenario).join(', ')}`,
      );
    return entry;
  });
  const [host, commit] = await Promise.all([hostFingerprint(), currentCommit()]);
  const target = await startEmbeddedTarget();
  const saved: Array<{ file: string; baseline: Baseline }> = [];
  try {
    for (const entry of entries) {
      const [results] = await runInterleavedTrials([{ label: 'baseline', apiUrl: target.apiUrl }], entry, {
        trials: opts.trials ?? DEFAULT_GATE_TRIALS,
        signal: opts.signal,
        onTrial: (t) =>
          opts.onProgress?.(`${t.scenario}: ${t.warmup ? 'warm-up' : 'trial'} ${t.trial}/${t.trials}`),
      });
      const baseline = baselineFromRuns(results!, host, commit);
      saved.push({ file: await saveBaseline(baseline, opts.dir ?? DEFAULT_BASELINE_DIR), baseline });
    }
  } finally {
    await target.close();
  }
  return saved;
}
