import path from 'node:path';
import {
  compareScenarioTrials,
  DEFAULT_GATE_TRIALS,
  type GateDesign,
  type GateOptions,
  type GateOutcome,
  gatedFigures,
  gateOutcome,
  type ScenarioGate,
} from '../analyzer/regression-gate.js';
import { type RunSummary, summarizeRun } from '../analyzer/summary.js';
import { loadBaseline } from '../baselines/baseline-store.js';
import { describeFingerprint, type HostFingerprint, hostFingerprint } from '../baselines/host-fingerprint.js';
import { BaselineNotFoundError, UsageInvalidError } from '../errors.js';
import { SeededRandom } from '../pipeline/sim/seeded-random.js';
import type { RunResult } from '../results/run-result.js';
import { type EmbeddedTarget, startEmbeddedTarget } from '../scenarios/embedded-target.js';
import { type GateEntry, gateSuite } from '../scenarios/gate-suite.js';
import { DEFAULT_ORDER_SEED, type Interleave, runInterleavedTrials } from '../scenarios/trial-runner.js';
import { configuredService } from './configured-service.js';
import { isScenarioFile, type ProjectConfig, projectGateOptions } from './project-config.js';
import { buildRefWorktree, checkoutRef } from './ref-worktree.js';
import { referencePipeline } from './reference-pipeline.js';
import { type RunningSystem, type SystemUnderTest, trialSide } from './system-under-test.js';

export interface RunGateOptions {
  /** Suite name (`quick`); ignored with a project file (its `suite` is used). */
  suite?: string;
  /** Measured trials per side. */
  trials?: number;
  /** A git ref to build in a temporary worktree and measure, interleaved, as the base side. */
  against?: string;
  /**
   * A/A: measure the ref (`against`, default HEAD) against itself — both sides the same build,
   * each its own process — to show this runner's noise floor (any call is a false one).
   */
  aa?: boolean;
  /** A team's project file: gate their service instead of the reference pipeline. */
  config?: ProjectConfig;
  /** Seed of the start order and of each round's side order (default the project's or 1). */
  orderSeed?: number;
  /** Baseline folder (when not `against`). */
  dir?: string;
  /** Compare with another host's baseline (flagged in every report). */
  force?: boolean;
  /** The repository of `against`; default the working directory (the project file's folder with one). */
  repoDir?: string;
  /** How base and head trials share the machine with `against` (default concurrent; see Interleave). */
  interleave?: Interleave;
  /** Extra `pipeline start` flags of the head's targets (e.g. `--slowdown 1.1` to see the gate fire). */
  headTargetArgs?: string[];
  gate?: Partial<GateOptions>;
  signal?: AbortSignal;
  onProgress?: (line: string) => void;
  /** After each measured round: the trials so far and, from two per side, the gate on them. */
  onRound?: (round: GateRoundProgress) => void;
}

/** Where the gate stands after a measured round of one scenario. */
export interface GateRoundProgress {
  scenario: string;
  /** 0-based place of the scenario in the suite, of `scenarios`. */
  scenarioIndex: number;
  scenarios: number;
  /** Measured rounds of this scenario done (1-based), of `rounds`. */
  round: number;
  rounds: number;
  /** The base's trials so far (every stored one when the base is a baseline) and the head's. */
  base: RunSummary[];
  head: RunSummary[];
  /** The figures that can fail the gate, by name. */
  gated: string[];
  /** The comparison of the trials so far; null while a side has fewer than two. */
  gate: ScenarioGate | null;
}

/**
 * The caller's round callback with the comparison of the trials so far added: the interval each
 * figure would get if the gate stopped now (only computed when someone listens).
 */
function roundReporter(
  onRound: RunGateOptions['onRound'],
  gateOptions: Partial<GateOptions>,
): (
  at: Omit<GateRoundProgress, 'base' | 'head' | 'gate' | 'gated'>,
  base: readonly RunResult[] | readonly RunSummary[],
  head: readonly RunResult[],
) => void {
  return (at, base, head) => {
    if (!onRound) return;
    const summaries = (list: readonly RunResult[] | readonly RunSummary[]) =>
      list.map((r) => ('figures' in r ? r : summarizeRun(r)));
    const b = summaries(base);
    const h = summaries(head);
    const gate = b.length >= 2 && h.length >= 2 ? compareScenarioTrials(b, h, gateOptions) : null;
    onRound({ ...at, base: b, head: h, gated: gatedFigures(h[0]!, gateOptions), gate });
  };
}

/** The gate's outcome and the trials behind it (the head's results, the base's when measured here). */
export interface GateRun {
  outcome: GateOutcome;
  head: Record<string, RunResult[]>;
  base: Record<string, RunResult[]>;
  host: HostFingerprint;
}

/**
 * Runs a suite's gate: each scenario's trials on the head (this build, or the team's service in
 * this checkout) and compares them with the base — the stored baseline of this host, or, with
 * `against`, the ref checked out in a worktree, built and measured here in rounds with the head
 * from one load generator, and compared pair by pair. Each side is started once and kept alive
 * across every trial. Nothing differs between the sides but the code: the start order (and so
 * the ports) and each round's order are drawn from a seed, balanced, and recorded in the report.
 */
export async function runGate(opts: RunGateOptions = {}): Promise<GateRun> {
  const config = opts.config;
  const trials = opts.trials ?? config?.gate.trials ?? DEFAULT_GATE_TRIALS;
  const progress = opts.onProgress ?? (() => {});
  const interleave = opts.interleave ?? 'concurrent';
  const gateOptions: Partial<GateOptions> = {
    ...(config ? projectGateOptions(config) : {}),
    ...opts.gate,
    thresholds: {
      ...(config ? projectGateOptions(config).thresholds : {}),
      ...opts.gate?.thresholds,
    } as GateOptions['thresholds'],
  };
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
  if (!opts.against && !opts.aa) {
    if (config)
      throw new UsageInvalidError(
        `with a project file (${config.file}) the gate measures both sides here: give --against REF (e.g. origin/main), or --aa`,
      );
    return gateAgainstBaselines(opts, trials, host, gateOptions, onTrial, progress);
  }
  const ref = opts.against ?? 'HEAD';
  const orderSeed = opts.orderSeed ?? config?.gate.seed ?? DEFAULT_ORDER_SEED;
  const entries: GateEntry[] = config
    ? config.suite.map((name) => ({
        scenario: isScenarioFile(name) ? path.resolve(config.rootDir, name) : name,
        trialS: config.gate.trialS,
        warmupTrials: config.gate.warmupTrials,
      }))
    : gateSuite(opts.suite ?? 'quick').entries;

  const gates: ScenarioGate[] = [];
  const head: Record<string, RunResult[]> = {};
  const base: Record<string, RunResult[]> = {};
  const running: RunningSystem[] = [];
  let closeWorktree: (() => Promise<void>) | undefined;
  let commit = '';
  const design: GateDesign = { interleave, orderSeed, startOrder: [], rounds: {}, aa: opts.aa === true };
  try {
    let baseSystem: SystemUnderTest;
    let headSystem: SystemUnderTest;
    if (config) {
      const checkout = await checkoutRef(ref, {
        repoDir: opts.repoDir ?? config.rootDir,
        onProgress: progress,
      });
      closeWorktree = checkout.close;
      commit = checkout.commit;
      // The project file may sit below the repository's top folder: the base runs from the same place.
      const baseDir = path.join(checkout.dir, path.relative(checkout.top, config.rootDir));
      baseSystem = configuredService(config.service, baseDir);
      headSystem = opts.aa ? baseSystem : configuredService(config.service, config.rootDir);
      await baseSystem.build(progress);
      if (headSystem !== baseSystem) await headSystem.build(progress);
    } else {
      const worktree = await buildRefWorktree(ref, { repoDir: opts.repoDir, onProgress: progress });
      closeWorktree = worktree.close;
      commit = worktree.commit;
      baseSystem = referencePipeline({
        cliEntry: worktree.cliEntry,
        describe: `${ref} built in ${worktree.dir}`,
      });
      headSystem = opts.aa
        ? baseSystem
        : referencePipeline({
            ...(opts.headTargetArgs ? { args: opts.headTargetArgs } : {}),
            describe: 'this build',
          });
    }
    const baseLabel = opts.aa ? `A ${ref}` : `base ${ref}`;
    const headLabel = opts.aa ? `B ${ref}` : 'head';
    // The side started first also takes its port first: a coin from the seed decides, and the report says.
    const startOrder =
      new SeededRandom(orderSeed ^ 0x5eed).next() < 0.5 ? ['base', 'head'] : ['head', 'base'];
    const started: Record<string, RunningSystem> = {};
    for (const side of startOrder) {
      progress(`starting the ${side} ${config ? 'service' : 'pipeline'}`);
      const system = side === 'base' ? baseSystem : headSystem;
      const instance = await system.start(side === 'base' ? baseLabel : headLabel);
      running.push(instance);
      started[side] = instance;
    }
    design.startOrder = startOrder.map((s) => (s === 'base' ? baseLabel : headLabel));
    const reportRound = roundReporter(opts.onRound, { paired: true, ...gateOptions });
    for (const [index, entry] of entries.entries()) {
      const rounds: string[][] = [];
      const soFar: RunResult[][] = [[], []];
      const [b, h] = await runInterleavedTrials(
        [trialSide(baseLabel, started.base!), trialSide(headLabel, started.head!)],
        entry,
        {
          trials,
          interleave,
          // Each scenario draws its own orders, so no scenario's pattern repeats another's.
          orderSeed: orderSeed + index,
          signal: opts.signal,
          onTrial,
          onRound: (r) => rounds.push(r.order),
          onRoundResults: (r) => {
            soFar[0]!.push(r.results[0]!);
            soFar[1]!.push(r.results[1]!);
            reportRound(
              {
                scenario: r.results[1]!.scenario.name,
                scenarioIndex: index,
                scenarios: entries.length,
                round: r.round,
                rounds: trials,
              },
              soFar[0]!,
              soFar[1]!,
            );
          },
        },
      );
      const name = b![0]!.scenario.name;
      design.rounds[name] = rounds;
      base[name] = b!;
      head[name] = h!;
      // Round i of both sides ran together: compare pair by pair.
      gates.push(
        compareScenarioTrials(b!.map(summarizeRun), h!.map(summarizeRun), { paired: true, ...gateOptions }),
      );
    }
  } finally {
    await Promise.all(running.map((r) => r.stop()));
    await closeWorktree?.();
  }
  const how = interleave === 'concurrent' ? 'concurrently with' : 'alternating with';
  const what = config ? `the service of ${config.file}` : 'the reference pipeline';
  const outcome = gateOutcome(gates, {
    base: opts.aa
      ? `A/A: ${ref} (${commit.slice(0, 12)}) against itself, ${what}, two processes measured here ${how} each other`
      : `${ref} (${commit.slice(0, 12)}), ${what}, built and measured here ${how} the head`,
    head: opts.aa ? `${ref} (${commit.slice(0, 12)}), second process` : 'working tree',
    options: gateOptions,
    design,
  });
  return { outcome, head, base, host };
}

/** The gate against this host's stored baselines (the reference pipeline only). */
async function gateAgainstBaselines(
  opts: RunGateOptions,
  trials: number,
  host: HostFingerprint,
  gateOptions: Partial<GateOptions>,
  onTrial: (info: { scenario: string; side: string; trial: number; trials: number; warmup: boolean }) => void,
  progress: (line: string) => void,
): Promise<GateRun> {
  const suite = gateSuite(opts.suite ?? 'quick');
  const gates: ScenarioGate[] = [];
  const head: Record<string, RunResult[]> = {};
  let hostMismatch: { base: string; head: string } | undefined;
  // Every baseline is read (and checked) before any load runs: a missing one fails in a second.
  const stored = new Map<string, Awaited<ReturnType<typeof loadBaseline>>>();
  for (const entry of suite.entries) {
    const loaded = await loadBaseline(entry.scenario, host, { dir: opts.dir, force: opts.force });
    stored.set(entry.scenario, loaded);
    hostMismatch ??= loaded.hostMismatch;
  }
  progress('starting the head pipeline');
  const reportRound = roundReporter(opts.onRound, gateOptions);
  let headTarget: EmbeddedTarget | undefined;
  try {
    headTarget = await startEmbeddedTarget({ args: opts.headTargetArgs });
    for (const [index, entry] of suite.entries.entries()) {
      const loaded = stored.get(entry.scenario)!;
      const baseSummaries = loaded.baseline.trials.map((t) => t.summary);
      const soFar: RunResult[] = [];
      const [h] = await runInterleavedTrials([{ label: 'head', apiUrl: headTarget.apiUrl }], entry, {
        trials,
        signal: opts.signal,
        onTrial,
        onRoundResults: (r) => {
          soFar.push(r.results[0]!);
          reportRound(
            {
              scenario: r.results[0]!.scenario.name,
              scenarioIndex: index,
              scenarios: suite.entries.length,
              round: r.round,
              rounds: trials,
            },
            baseSummaries,
            soFar,
          );
        },
      });
      head[entry.scenario] = h!;
      const headSummaries = h!.map(summarizeRun);
      checkSameLoad(entry, loaded.baseline.scenario.configHash, headSummaries, loaded.file, opts.dir);
      gates.push(
        compareScenarioTrials(
          loaded.baseline.trials.map((t) => t.summary),
          headSummaries,
          gateOptions,
        ),
      );
    }
  } finally {
    await headTarget?.close();
  }
  const outcome = gateOutcome(gates, {
    base: `stored baselines of ${describeFingerprint(host)}`,
    head: 'working tree',
    ...(hostMismatch ? { hostMismatch } : {}),
    options: gateOptions,
  });
  return { outcome, head, base: {}, host };
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
