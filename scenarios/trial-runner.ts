import { randomUUID } from 'node:crypto';
import { runClosedModel } from './closed-model-engine.js';
import type { GateEntry } from './gate-suite.js';
import { trialScenario } from './gate-suite.js';
import type { Scenario } from './load-scenario.js';
import { runOpenModel } from './open-model-engine.js';
import type { RunResult } from './run-result.js';
import { type SetupUser, setupUsers } from './scenario-setup.js';
import { startServerSampler } from './server-sampler.js';
import { runWorkerScenario } from './worker-runner.js';

/** One side of a comparison: a running target (base or head build), kept alive across its trials. */
export interface TrialSide {
  label: string;
  /** e.g. http://127.0.0.1:41234/api/v1 */
  apiUrl: string;
}

/**
 * How the sides' trials share the machine. `concurrent`: each round loads every side at once,
 * each at the scenario's full rate, so whatever else the machine does during a round (another
 * process, a noisy neighbour, the generator's own GC) lands on both sides alike and cancels in
 * their ratio. `alternate`: one side after the other, the order flipping every round (A B, B A, …),
 * so a slow drift weighs on both; a burst of outside load lands on one side only.
 */
export type Interleave = 'concurrent' | 'alternate';

export interface InterleavedTrialsOptions {
  /** Measured trials per side. */
  trials: number;
  /** Default `concurrent`. */
  interleave?: Interleave;
  signal?: AbortSignal;
  /** Called before each trial (each round, when concurrent), e.g. to draw progress. */
  onTrial?: (info: {
    scenario: string;
    side: string;
    trial: number;
    trials: number;
    warmup: boolean;
  }) => void;
}

/**
 * Runs one gate entry's trials on every side, interleaved (see Interleave), with this process's
 * load generator for all of them. Warm-up rounds run first and are dropped (JIT, caches,
 * connection pools). Returns each side's measured results; result i of every side belongs to
 * round i, so the sides can be compared pair by pair.
 */
export async function runInterleavedTrials(
  sides: readonly TrialSide[],
  entry: GateEntry,
  opts: InterleavedTrialsOptions,
): Promise<RunResult[][]> {
  const scenario = await trialScenario(entry);
  const runId = randomUUID().slice(0, 8);
  const users = await Promise.all(
    sides.map((side) => setupUsers(side.apiUrl, Math.max(1, scenario.setup.users), runId)),
  );
  const results: RunResult[][] = sides.map(() => []);
  const rounds = entry.warmupTrials + opts.trials;
  for (let round = 0; round < rounds; round++) {
    if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
    const warmup = round < entry.warmupTrials;
    const info = (side: string) => ({
      scenario: scenario.name,
      side,
      trial: warmup ? round + 1 : round - entry.warmupTrials + 1,
      trials: warmup ? entry.warmupTrials : opts.trials,
      warmup,
    });
    let roundResults: RunResult[];
    if ((opts.interleave ?? 'concurrent') === 'concurrent') {
      opts.onTrial?.(info(sides.map((s) => s.label).join(' + ')));
      roundResults = await Promise.all(
        sides.map((side, i) => runTrial(scenario, side.apiUrl, users[i]!, opts.signal)),
      );
    } else {
      const order = sides.map((_, i) => i);
      if (round % 2 === 1) order.reverse();
      roundResults = new Array(sides.length);
      for (const i of order) {
        opts.onTrial?.(info(sides[i]!.label));
        roundResults[i] = await runTrial(scenario, sides[i]!.apiUrl, users[i]!, opts.signal);
      }
    }
    if (!warmup)
      roundResults.forEach((r, i) => {
        results[i]!.push(r);
      });
  }
  return results;
}

/** Samples the target's /metrics twice a second: a trial of a few seconds needs more than one CPU reading. */
const TRIAL_SAMPLE_INTERVAL_MS = 500;

/** One trial against a running target, with its server samples. */
export async function runTrial(
  scenario: Scenario,
  apiUrl: string,
  users: SetupUser[],
  signal?: AbortSignal,
): Promise<RunResult> {
  const sampler = startServerSampler(`${apiUrl}/metrics`, { intervalMs: TRIAL_SAMPLE_INTERVAL_MS, signal });
  let result: RunResult | undefined;
  try {
    if (scenario.type === 'worker') {
      result = await runWorkerScenario(scenario, { apiUrl, users, signal });
    } else {
      const common = {
        target: apiUrl,
        flow: scenario.flow,
        signal,
        maxRequests: scenario.maxRequests,
        scenario: { name: scenario.name, profile: scenario.profile },
        varNames: ['email', 'password', 'token'],
        varsFor: (k: number) => {
          const u = users[k % users.length]!;
          return { email: u.email, password: u.password, token: u.token };
        },
      };
      const load = scenario.load;
      result =
        load.model === 'open'
          ? await runOpenModel({ ...common, phases: load.phases, maxInFlight: load.maxInFlight })
          : await runClosedModel({ ...common, vus: load.vus, durationMs: load.durationMs });
    }
  } finally {
    const samples = await sampler.stop();
    if (result) result.serverSamples = samples as unknown as RunResult['serverSamples'];
  }
  return result;
}
