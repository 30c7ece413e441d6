import { randomUUID } from 'node:crypto';
import { SeededRandom } from '../pipeline/sim/seeded-random.js';
import type { RunResult } from '../results/run-result.js';
import { runClosedModel } from './closed-model-engine.js';
import type { GateEntry } from './gate-suite.js';
import { trialScenario } from './gate-suite.js';
import type { Scenario } from './load-scenario.js';
import { runOpenModel } from './open-model-engine.js';
import { startProcessTreeSampler } from './process-tree-sampler.js';
import { type SetupUser, setupUsers } from './scenario-setup.js';
import { startServerSampler } from './server-sampler.js';
import { runWorkerScenario } from './worker-runner.js';

/** One side of a comparison: a running target (base or head build), kept alive across its trials. */
export interface TrialSide {
  label: string;
  /** e.g. http://127.0.0.1:41234/api/v1 */
  apiUrl: string;
  /** The root of the target's process tree: CPU and RSS are read from /proc (any language). */
  pid?: number;
  /** The target's Prometheus endpoint; default `${apiUrl}/metrics`, null for none. */
  metricsUrl?: string | null;
  /** Register and log in users through the reference pipeline's auth API first (default true). */
  setupUsers?: boolean;
}

/**
 * The order of the sides in each round. Rounds come in pairs: a seeded coin picks the order of
 * the first round of a pair and the second runs the reverse, so every side is first (started
 * first, measured first) in exactly half of the rounds, and the pattern cannot line up with a
 * periodic disturbance. `seed` makes it reproducible; the report records the orders used.
 */
export function roundOrders(sides: number, rounds: number, seed: number): number[][] {
  const random = new SeededRandom(seed);
  const orders: number[][] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 1) {
      orders.push([...orders[r - 1]!].reverse());
      continue;
    }
    const order = Array.from({ length: sides }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = random.int(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    orders.push(order);
  }
  return orders;
}

/** Seed of the side order when none is given. */
export const DEFAULT_ORDER_SEED = 1;

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
  /** Seed of each round's side order (see roundOrders); default DEFAULT_ORDER_SEED. */
  orderSeed?: number;
  /** Called with each round's side order (labels, first first), warm-up rounds included. */
  onRound?: (info: { round: number; warmup: boolean; order: string[] }) => void;
  /** Called after each measured round with each side's result of it, in the order of `sides`. */
  onRoundResults?: (info: { round: number; results: RunResult[] }) => void;
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
    sides.map((side) =>
      side.setupUsers === false ? [] : setupUsers(side.apiUrl, Math.max(1, scenario.setup.users), runId),
    ),
  );
  const results: RunResult[][] = sides.map(() => []);
  const rounds = entry.warmupTrials + opts.trials;
  const orders = roundOrders(sides.length, rounds, opts.orderSeed ?? DEFAULT_ORDER_SEED);
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
    const order = orders[round]!;
    opts.onRound?.({ round, warmup, order: order.map((i) => sides[i]!.label) });
    const roundResults: RunResult[] = new Array(sides.length);
    if ((opts.interleave ?? 'concurrent') === 'concurrent') {
      opts.onTrial?.(info(order.map((i) => sides[i]!.label).join(' + ')));
      // Started in the round's order: the first one's first requests and samplers go out first.
      await Promise.all(
        order.map(async (i) => {
          roundResults[i] = await runTrial(scenario, sides[i]!, users[i]!, opts.signal);
        }),
      );
    } else {
      for (const i of order) {
        opts.onTrial?.(info(sides[i]!.label));
        roundResults[i] = await runTrial(scenario, sides[i]!, users[i]!, opts.signal);
      }
    }
    if (!warmup) {
      roundResults.forEach((r, i) => {
        results[i]!.push(r);
      });
      opts.onRoundResults?.({ round: round - entry.warmupTrials + 1, results: roundResults });
    }
  }
  return results;
}

/** Samples the target's /metrics twice a second: a trial of a few seconds needs more than one CPU reading. */
const TRIAL_SAMPLE_INTERVAL_MS = 500;

/** One trial against a running target, with its server samples. */
export async function runTrial(
  scenario: Scenario,
  side: string | TrialSide,
  users: SetupUser[],
  signal?: AbortSignal,
): Promise<RunResult> {
  const target: TrialSide = typeof side === 'string' ? { label: side, apiUrl: side } : side;
  const apiUrl = target.apiUrl;
  const metricsUrl = target.metricsUrl === undefined ? `${apiUrl}/metrics` : target.metricsUrl;
  const sampler = metricsUrl
    ? startServerSampler(metricsUrl, { intervalMs: TRIAL_SAMPLE_INTERVAL_MS, signal })
    : undefined;
  const treeSampler = target.pid !== undefined ? startProcessTreeSampler(target.pid) : undefined;
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
        varsFor: (k: number): Record<string, string> => {
          const u = users[k % users.length];
          return u ? { email: u.email, password: u.password, token: u.token } : {};
        },
      };
      const load = scenario.load;
      result =
        load.model === 'open'
          ? await runOpenModel({ ...common, phases: load.phases, maxInFlight: load.maxInFlight })
          : await runClosedModel({ ...common, vus: load.vus, durationMs: load.durationMs });
    }
  } finally {
    const samples = (await sampler?.stop()) ?? [];
    const tree = await treeSampler?.stop();
    if (result) {
      result.serverSamples = samples as unknown as RunResult['serverSamples'];
      if (tree) result.processSamples = tree;
    }
  }
  return result;
}
