import { UsageInvalidError } from '../errors.js';
import { loadScenario, type Scenario } from './load-scenario.js';

/**
 * How the gate runs one scenario: short trials at the scenario's steady load. A library
 * scenario's quick profile lasts up to 60 s; the gate needs several trials per side within a
 * few minutes, so a trial is a slice of the quick profile at its steady rate (the last phase's
 * rate, without the ramp), a few seconds long.
 */
export interface GateEntry {
  scenario: string;
  /** Length of one trial. */
  trialS: number;
  /** Arrival rate of an open-model trial; default the quick profile's last rate. */
  rateRps?: number;
  /** Setup users per target; enough that the login rate limit (30 a minute per account) is never hit. */
  setupUsers?: number;
  /** Trials run on each side before the measured ones and thrown away: JIT and caches warm up. */
  warmupTrials: number;
}

/** A named list of gate entries. */
export interface GateSuite {
  name: string;
  entries: GateEntry[];
}

/**
 * The suites `headroom gate --suite` knows. `quick`: the HTTP scenarios whose cost is the
 * pipeline's own code: logins (scrypt and JWT, CPU-bound), the API's read paths at 200 req/s,
 * and task submission through the worker queue. The database scenario drives a store in the
 * generator's own process (nothing of the pipeline process to compare), and the memory-leak
 * scenario needs a 50 s run for its heap fit; `headroom compare` gates their saved runs.
 */
export const GATE_SUITES: Record<string, GateSuite> = {
  quick: {
    name: 'quick',
    entries: [
      { scenario: 'auth', trialS: 4, rateRps: 10, setupUsers: 40, warmupTrials: 1 },
      { scenario: 'api-stress', trialS: 4, setupUsers: 20, warmupTrials: 1 },
      { scenario: 'worker', trialS: 4, setupUsers: 50, warmupTrials: 1 },
    ],
  },
  /** Two-second trials of the API's read paths: checks the gate's wiring in seconds, decides little. */
  smoke: {
    name: 'smoke',
    entries: [{ scenario: 'api-stress', trialS: 2, rateRps: 50, setupUsers: 4, warmupTrials: 0 }],
  },
};

/** The suite of that name; a usage error listing the names otherwise. */
export function gateSuite(name: string): GateSuite {
  const suite = GATE_SUITES[name];
  if (!suite)
    throw new UsageInvalidError(`no gate suite "${name}": use one of ${Object.keys(GATE_SUITES).join(', ')}`);
  return suite;
}

/**
 * The scenario of one trial: the quick profile held at its steady load for `trialS`. The profile
 * name stays `quick` and the config hash comes from the trial's own load settings, so trials of a
 * different length or rate never compare with these.
 */
export async function trialScenario(entry: GateEntry): Promise<Scenario> {
  const base = await loadScenario(entry.scenario, { profile: 'quick' });
  if (base.type === 'database' || base.type === 'memory-leak')
    throw new UsageInvalidError(
      `the ${base.type} scenario cannot run as short gate trials; run it with "headroom run --out" and gate the saved runs with "headroom compare"`,
    );
  const durationMs = entry.trialS * 1000;
  const scenario: Scenario = { ...base, durationMs, setup: { users: entry.setupUsers ?? base.setup.users } };
  if (base.load.model === 'open') {
    const last = base.load.phases[base.load.phases.length - 1]!;
    const steady = 'rateRps' in last ? last.rateRps : last.toRps;
    scenario.load = { ...base.load, phases: [{ rateRps: entry.rateRps ?? steady, durationMs }] };
  } else {
    scenario.load = { ...base.load, durationMs };
  }
  return scenario;
}
