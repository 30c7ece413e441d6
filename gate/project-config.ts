import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { GateOptions } from '../analyzer/regression-gate.js';
import { ProjectConfigInvalidError } from '../errors.js';
import { compileSchema } from '../json-schema.js';
import { explainSchemaErrors } from '../schema-error.js';
import schema from './project-config.schema.json' with { type: 'json' };

/** The project file's name, looked for at the repository root. */
export const PROJECT_CONFIG_FILE = 'headroom.config.json';

/** How to build, start and tell the readiness of a team's own service. */
export interface ServiceConfig {
  build?: string;
  start: string;
  env: Record<string, string>;
  ready: string;
  /** With `${port}` where the port goes, e.g. http://127.0.0.1:${port}/api. */
  baseUrl: string;
  readyTimeoutS: number;
}

/** A team's project file: their service, their suite and their gates. */
export interface ProjectConfig {
  /** The file it was read from; paths in `suite` are relative to its folder. */
  file: string;
  /** The folder of the file (the repository root, usually). */
  rootDir: string;
  service: ServiceConfig;
  /** Scenario files (relative to rootDir) and library scenario names. */
  suite: string[];
  gate: {
    trials?: number;
    trialS: number;
    warmupTrials: number;
    latency?: number;
    throughput?: number;
    errorRatePp?: number;
    resource?: number;
    gatedLatency?: string[];
    seed?: number;
  };
  hostProfile?: string;
  /** Where `capacity` reads the service's pipeline; `mapping` is resolved against rootDir. */
  telemetry?: ProjectTelemetry;
}

/** A Prometheus that scrapes the team's pipeline, and which metric names to read there. */
export interface ProjectTelemetry {
  prometheus: string;
  preset?: string;
  mapping?: string;
  window: string;
}

const validate = compileSchema<Omit<ProjectConfig, 'file' | 'rootDir'>>(schema, { useDefaults: true });

/** Validates parsed JSON as a project file; a ProjectConfigInvalidError names each bad field and the fix. */
export function parseProjectConfig(data: unknown, file: string): ProjectConfig {
  if (!validate(data))
    throw new ProjectConfigInvalidError(file, explainSchemaErrors(validate.errors!).map(hint));
  const problems: string[] = [];
  const rootDir = path.dirname(path.resolve(file));
  data.suite.forEach((entry, i) => {
    if (isScenarioFile(entry) && !existsSync(path.resolve(rootDir, entry)))
      problems.push(`/suite/${i}: no file ${entry} (paths are relative to ${rootDir})`);
  });
  const mapping = (data as { telemetry?: ProjectTelemetry }).telemetry?.mapping;
  if (mapping !== undefined && !existsSync(path.resolve(rootDir, mapping)))
    problems.push(`/telemetry/mapping: no file ${mapping} (paths are relative to ${rootDir})`);
  if (problems.length) throw new ProjectConfigInvalidError(file, problems);
  const {
    $schema: _s,
    $comment: _c,
    ...rest
  } = data as typeof data & { $schema?: string; $comment?: string[] };
  return { ...rest, file, rootDir } as ProjectConfig;
}

/** A suite entry naming a file rather than a library scenario. */
export function isScenarioFile(entry: string): boolean {
  return entry.includes('/') || entry.includes(path.sep) || entry.endsWith('.json');
}

/** Reads and validates a project file. */
export async function loadProjectConfig(file: string): Promise<ProjectConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ProjectConfigInvalidError(file, [
      `cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); write one with "headroom init"`,
    ]);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ProjectConfigInvalidError(file, [`it is not JSON (${(err as Error).message})`]);
  }
  return parseProjectConfig(data, file);
}

/**
 * The project file to use: `explicit` when given, else `headroom.config.json` in `dir` when there
 * is one, else none (headroom then runs against its reference pipeline, as without a project).
 */
export async function findProjectConfig(dir: string, explicit?: string): Promise<ProjectConfig | undefined> {
  if (explicit) return loadProjectConfig(explicit);
  const file = path.join(dir, PROJECT_CONFIG_FILE);
  return existsSync(file) ? loadProjectConfig(file) : undefined;
}

/** The gate options a project file sets (thresholds over the guide's defaults, gated latency). */
export function projectGateOptions(config: ProjectConfig): Partial<GateOptions> {
  const g = config.gate;
  const thresholds = {
    ...(g.latency !== undefined ? { latency: g.latency } : {}),
    ...(g.throughput !== undefined ? { throughput: g.throughput } : {}),
    ...(g.errorRatePp !== undefined ? { errorRatePp: g.errorRatePp } : {}),
    ...(g.resource !== undefined ? { resource: g.resource } : {}),
  };
  return {
    thresholds: thresholds as GateOptions['thresholds'],
    ...(g.gatedLatency ? { gatedLatency: g.gatedLatency } : {}),
  };
}

/** The fix for the mistakes people make most, added to the schema's line. */
function hint(line: string): string {
  if (line.startsWith('/service/baseUrl:'))
    return `${line}; write it like http://127.0.0.1:\${port}/api (loopback, with \${port} where the port goes)`;
  if (line.startsWith('/service/ready:')) return `${line}; write a path such as /health`;
  if (line.startsWith('/telemetry: must NOT be valid'))
    return '/telemetry: give "preset" or "mapping", not both (a mapping file may extend a preset)';
  return line;
}
