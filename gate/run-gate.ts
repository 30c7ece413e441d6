import {
  compareScenarioTrials,
  DEFAULT_GATE_TRIALS,
  type GateOptions,
  type GateOutcome,
  gateOutcome,
  type ScenarioGate,
} from '../analyzer/regression-gate.js';
import { type RunSummary, summarizeRun } from '../analyzer/summary.js';
import { loadBaseline } from '../baselines/baseline-store.js';
import { describeFingerprint, type HostFingerprint, hostFingerprint } from '../baselines/host-fingerprint.js';
import { BaselineNotFoundError } from '../errors.js';
import { type EmbeddedTarget, startEmbeddedTarget } from '../scenarios/embedded-target.js';
import { type GateEntry, gateSuite } from '../scenarios/gate-suite.js';
import type { RunResult } from '../scenarios/run-result.js';
import { type Interleave, runInterleavedTrials } from '../scenarios/trial-runner.js';
import { buildRefWorktree, type RefWorktree } from './ref-worktree.js';

export interface RunGateOptions {
  /** Suite name (`quick`). */
  suite?: string;
  /** Measured trials per side. */
  trials?: number;
  /** A git ref to build in a temporary worktree and measure, interleaved, as the base side. */
  against?: string;
  /** Baseline folder (when not `against`). */
  dir?: string;
  /** Compare with another host's baseline (flagged in every report). */
  force?: boolean;
  /** The repository of `against`; default the working directory. */
  repoDir?: string;
  /** How base and head trials share the machine with `against` (default concurrent; see Interleave). */
  interleave?: Interleave;
  /** Extra `pipeline start` flags of the head's targets (e.g. `--slowdown 1.1` to see the gate fire). */
  headTargetArgs?: string[];
  gate?: Partial<GateOptions>;
  signal?: AbortSignal;
  onProgress?: (line: string) => void;
}

/** The gate's outcome and the trials behind it (the head's results, the base's when measured here). */
export interface GateRun {
  outcome: GateOutcome;
  head: Record<string, RunResult[]>;
  base: Record<string, RunResult[]>;
  host: HostFingerprint;
}

/**
 * Runs a suite's gate: each scenario's trials on the head (this build) and compares them with the
 * base — the stored baseline of this host, or, with `against`, the ref built in a worktree and
 * measured here in rounds with the head (both at once by default, or A B, B A, …) from one load
 * generator, and compared pair by pair. Pipelines are started once per side and kept alive
 * across every trial of the suite.
 */
export async function runGate(opts: RunGateOptions = {}): Promise<GateRun> {
  const suite = gateSuite(opts.suite ?? 'quick');
  const trials = opts.trials ?? DEFAULT_GATE_TRIALS;
  const progress = opts.onProgress ?? (() => {});
  const interleave = opts.interleave ?? 'concurrent';
  const host = await hostFingerprint();
  const onTrial = (info: {
    scenario: string;
    side: string;
    trial: number;
    trials: number;
    warmup: boolean;
  }) =>
    progress(
      `${info.scenario}: ${info.side} ${info.warmup ? 'warm-up' : 'trial'} ${info.trial}/${info.trials}`,
    );

  const gates: ScenarioGate[] = [];
  const head: Record<string, RunResult[]> = {};
  const base: Record<string, RunResult[]> = {};
  const targets: EmbeddedTarget[] = [];
  let worktree: RefWorktree | undefined;
  let hostMismatch: { base: string; head: string } | undefined;
  try {
    if (opts.against) {
      worktree = await buildRefWorktree(opts.against, { repoDir: opts.repoDir, onProgress: progress });
      progress('starting the base and head pipelines');
      const [baseTarget, headTarget] = await Promise.all([
        startEmbeddedTarget({ cliEntry: worktree.cliEntry }),
        startEmbeddedTarget({ args: opts.headTargetArgs }),
      ]);
      targets.push(baseTarget, headTarget);
      for (const entry of suite.entries) {
        const [b, h] = await runInterleavedTrials(
          [
            { label: `base ${opts.against}`, apiUrl: baseTarget.apiUrl },
            { label: 'head', apiUrl: headTarget.apiUrl },
          ],
          entry,
          { trials, interleave, signal: opts.signal, onTrial },
        );
        base[entry.scenario] = b!;
        head[entry.scenario] = h!;
        // Round i of both sides ran together: compare pair by pair.
        gates.push(
          compareScenarioTrials(b!.map(summarizeRun), h!.map(summarizeRun), { paired: true, ...opts.gate }),
        );
      }
    } else {
      // Every baseline is read (and checked) before any load runs: a missing one fails in a second.
      const stored = new Map<string, Awaited<ReturnType<typeof loadBaseline>>>();
      for (const entry of suite.entries) {
        const loaded = await loadBaseline(entry.scenario, host, { dir: opts.dir, force: opts.force });
        stored.set(entry.scenario, loaded);
        hostMismatch ??= loaded.hostMismatch;
      }
      progress('starting the head pipeline');
      const headTarget = await startEmbeddedTarget({ args: opts.headTargetArgs });
      targets.push(headTarget);
      for (const entry of suite.entries) {
        const loaded = stored.get(entry.scenario)!;
        const [h] = await runInterleavedTrials([{ label: 'head', apiUrl: headTarget.apiUrl }], entry, {
          trials,
          signal: opts.signal,
          onTrial,
        });
        head[entry.scenario] = h!;
        const headSummaries = h!.map(summarizeRun);
        checkSameLoad(entry, loaded.baseline.scenario.configHash, headSummaries, loaded.file, opts.dir);
        gates.push(
          compareScenarioTrials(
            loaded.baseline.trials.map((t) => t.summary),
            headSummaries,
            opts.gate,
          ),
        );
      }
    }
  } finally {
    await Promise.all(targets.map((t) => t.close()));
    await worktree?.close();
  }
  const outcome = gateOutcome(gates, {
    base: opts.against
      ? `${opts.against} (${worktree!.commit.slice(0, 12)}), built and measured here ${interleave === 'concurrent' ? 'concurrently with' : 'alternating with'} the head`
      : `stored baselines of ${describeFingerprint(host)}`,
    head: 'working tree',
    ...(hostMismatch ? { hostMismatch } : {}),
    options: opts.gate,
  });
  return { outcome, head, base, host };
}

function checkSameLoad(
  entry: GateEntry,
  baselineHash: string,
  head: RunSummary[],
  file: string,
  dir: string | undefined,
): void {
  const headHash = head[0]!.scenario.configHash;
  if (headHash !== baselineHash)
    throw new BaselineNotFoundError(
      entry.scenario,
      file,
      `headroom baseline save ${entry.scenario}${dir ? ` --dir ${dir}` : ''}`,
      `the stored baseline ${file} was measured with other load settings (config ${baselineHash}, now ${headHash})`,
    );
}
