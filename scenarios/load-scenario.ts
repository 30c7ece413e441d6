import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ScenarioInvalidError, ScenarioNotFoundError } from '../errors.js';
import { compileSchema } from '../json-schema.js';
import { explainSchemaErrors } from '../schema-error.js';
import type { LoadPhase } from './arrival-schedule.js';
import type { FlowStep } from './flow-step.js';
import schema from './schema.json' with { type: 'json' };
import { parseThreshold, type Threshold } from './threshold.js';

export type Profile = 'quick' | 'full';
export type ScenarioType = 'http' | 'worker' | 'database' | 'memory-leak' | 'pipeline';

/** The pipeline scenario's sampling: budget, window lengths and concurrency levels per stage. */
export interface ScenarioSampler {
  sampleSeconds: number;
  windowS?: number;
  combinedWindowS?: number;
  combined: boolean;
  levels?: Partial<Record<'ingest' | 'scrape' | 'ai' | 'write', number[]>>;
}

export type ScenarioLoad =
  | { model: 'open'; phases: LoadPhase[]; maxInFlight?: number }
  | { model: 'closed'; vus: number; durationMs: number };

/** A scenario with one profile chosen: validated, defaults filled, thresholds parsed. */
export interface Scenario {
  name: string;
  description: string;
  type: ScenarioType;
  /** The file it came from (for messages). */
  file: string;
  profile: Profile;
  setup: { users: number };
  flow: FlowStep[];
  task: { type: 'sleep' | 'cpu' | 'fail'; workMs: number };
  database: { readRatio: number; rows: number };
  leak: { warmupS: number; sampleEveryS: number; maxSlopeMbPerHour: number };
  load: ScenarioLoad;
  /** The profile's thresholds over the scenario's, parsed. */
  thresholds: Record<string, Threshold[]>;
  maxRequests?: number;
  /** Planned length of the load, from the profile. */
  durationMs: number;
  /** The profile's sampling settings (pipeline scenarios). */
  sampler?: ScenarioSampler;
}

interface PhaseFile {
  durationS: number;
  rate?: number;
  from?: number;
  to?: number;
}
interface ProfileFile {
  sampler?: ScenarioSampler;
  /** Absent only in a pipeline scenario's profiles (the schema says which). */
  load?:
    | { model: 'open'; phases: PhaseFile[]; maxInFlight?: number }
    | { model: 'closed'; vus: number; durationS: number };
  thresholds?: Record<string, string[]>;
  maxRequests?: number;
}
interface ScenarioFile {
  name: string;
  description?: string;
  type: ScenarioType;
  setup: { users: number };
  flow?: FlowStep[];
  task?: Scenario['task'];
  database?: Scenario['database'];
  leak?: Scenario['leak'];
  thresholds?: Record<string, string[]>;
  profiles: Record<Profile, ProfileFile>;
}

const validate = compileSchema<ScenarioFile>(schema, { useDefaults: true });

/** The folder of the scenario library, from the sources or from the compiled output. */
export function libraryDir(): string {
  const beside = fileURLToPath(new URL('./library/', import.meta.url));
  if (existsSync(beside)) return beside;
  return fileURLToPath(new URL('../../scenarios/library/', import.meta.url));
}

/** Names of the scenarios in the library. */
export async function libraryScenarios(): Promise<string[]> {
  const files = await readdir(libraryDir());
  return files
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -5))
    .sort();
}

/** Loads a library scenario by name, or a scenario file by path, with one profile chosen. */
export async function loadScenario(nameOrFile: string, opts: { profile?: Profile } = {}): Promise<Scenario> {
  const isPath = nameOrFile.includes('/') || nameOrFile.includes(path.sep) || nameOrFile.endsWith('.json');
  const file = isPath ? nameOrFile : path.join(libraryDir(), `${nameOrFile}.json`);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new ScenarioNotFoundError(nameOrFile, await libraryScenarios());
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ScenarioInvalidError(file, [`not JSON: ${(err as Error).message}`]);
  }
  return parseScenario(data, file, opts.profile ?? 'quick');
}

/** Validates a scenario object (once, at the edge) and resolves the chosen profile. */
export function parseScenario(data: unknown, file: string, profile: Profile): Scenario {
  if (!validate(data)) throw new ScenarioInvalidError(file, explainSchemaErrors(validate.errors!));
  const s = data as ScenarioFile;
  const problems: string[] = [];
  if ((s.type === 'http' || s.type === 'memory-leak') && !s.flow)
    problems.push(`/flow: a ${s.type} scenario needs a flow`);
  const thresholds: Record<string, Threshold[]> = {};
  const addThresholds = (source: Record<string, string[]> | undefined, at: string) => {
    for (const [metric, list] of Object.entries(source ?? {})) {
      const parsed: Threshold[] = [];
      thresholds[metric] = parsed;
      list.forEach((text, i) => {
        try {
          parsed.push(parseThreshold(text));
        } catch (err) {
          problems.push(`${at}/${metric}/${i}: ${(err as Error).message}`);
        }
      });
    }
  };
  const chosen = s.profiles[profile];
  // A profile's thresholds for a metric replace the scenario's for that metric.
  const merged = { ...s.thresholds, ...chosen.thresholds };
  addThresholds(merged, `/profiles/${profile}/thresholds`);
  if (problems.length) throw new ScenarioInvalidError(file, problems);

  // A pipeline scenario drives its own load (the sampler); its `load` only carries the planned
  // length, so code that reads every scenario's load sees a bounded run.
  const load: ScenarioLoad = !chosen.load
    ? { model: 'closed', vus: 1, durationMs: (chosen.sampler?.sampleSeconds ?? 0) * 1000 }
    : chosen.load.model === 'open'
      ? {
          model: 'open',
          phases: chosen.load.phases.map((p) =>
            p.rate !== undefined
              ? { durationMs: p.durationS * 1000, rateRps: p.rate }
              : { durationMs: p.durationS * 1000, fromRps: p.from!, toRps: p.to! },
          ),
          ...(chosen.load.maxInFlight ? { maxInFlight: chosen.load.maxInFlight } : {}),
        }
      : { model: 'closed', vus: chosen.load.vus, durationMs: chosen.load.durationS * 1000 };
  const durationMs =
    load.model === 'open' ? load.phases.reduce((t, p) => t + p.durationMs, 0) : load.durationMs;
  return {
    name: s.name,
    description: s.description ?? '',
    type: s.type,
    file,
    profile,
    setup: s.setup,
    flow: s.flow ?? [],
    task: { type: 'sleep', workMs: 200, ...s.task },
    database: { readRatio: 0.7, rows: 10_000, ...s.database },
    leak: { warmupS: 10, sampleEveryS: 2, maxSlopeMbPerHour: 50, ...s.leak },
    load,
    thresholds,
    ...(chosen.maxRequests ? { maxRequests: chosen.maxRequests } : {}),
    durationMs,
    ...(chosen.sampler ? { sampler: chosen.sampler } : {}),
  };
}
