import { readFile } from 'node:fs/promises';
import { TelemetryMappingInvalidError, UsageInvalidError } from '../errors.js';
import { compileSchema } from '../json-schema.js';
import { explainSchemaErrors } from '../schema-error.js';
import bullmqPreset from './presets/bullmq.json' with { type: 'json' };
import celeryPreset from './presets/celery.json' with { type: 'json' };
import headroomPreset from './presets/headroom.json' with { type: 'json' };
import schema from './telemetry-mapping.schema.json' with { type: 'json' };

export const TELEMETRY_MAPPING_KIND = 'headroom.telemetry-mapping';

/** Where one stage's figures are: PromQL expressions, `$window` standing for the window. */
export interface StageMapping {
  completed: string;
  secondsPerRow: string;
  slots: string;
  inFlight?: string;
  processes?: string;
  queueWait?: string;
  backlog?: string;
  medianBacklog?: string;
}

/** A pipeline's figures in Prometheus (telemetry-mapping.schema.json); presets are mappings too. */
export interface TelemetryMapping {
  kind: typeof TELEMETRY_MAPPING_KIND;
  version: 1;
  name: string;
  description?: string;
  /** A preset this mapping starts from (merged before validation). */
  extends?: string;
  stages: Partial<Record<'ingest' | 'scrape' | 'ai' | 'write', StageMapping>>;
  rowsDone: string;
  rowsLeft?: string;
  llm?: {
    attempts?: string;
    rateLimited?: string;
    tokensPerMessage?: string;
    promptTokensPerMessage?: string;
  };
  processes?: { cpuSecondsPerSecond?: string; residentBytes?: string; count?: string };
}

const validate = compileSchema<TelemetryMapping>(schema);

/** The mappings shipped with headroom, by the name `--preset` takes. */
export const TELEMETRY_PRESETS: Record<string, unknown> = {
  headroom: headroomPreset,
  celery: celeryPreset,
  bullmq: bullmqPreset,
};

/**
 * Validates parsed JSON as a mapping; each problem names its field. A mapping that `extends` a
 * preset is merged onto it first: a team names only what differs (its queue, its LLM counter).
 */
export function parseTelemetryMapping(input: unknown, source: string): TelemetryMapping {
  const data = withPreset(input, source);
  if (!validate(data)) throw new TelemetryMappingInvalidError(source, explainSchemaErrors(validate.errors!));
  const problems = Object.entries(expressions(data))
    .filter(([, expr]) => /\$(?!window\b)\w+/.test(expr))
    .map(
      ([field, expr]) =>
        `/${field.replace(/\./g, '/')}: unknown placeholder in ${expr}; only $window is replaced`,
    );
  if (problems.length) throw new TelemetryMappingInvalidError(source, problems);
  return data;
}

type Fields = Record<string, unknown>;
const isObject = (v: unknown): v is Fields => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A mapping's own fields over its preset's: stages stage by stage, llm and processes field by field. */
function withPreset(input: unknown, source: string): unknown {
  if (!isObject(input) || input.extends === undefined) return input;
  const name = input.extends;
  const preset = typeof name === 'string' ? TELEMETRY_PRESETS[name] : undefined;
  if (!isObject(preset))
    throw new TelemetryMappingInvalidError(source, [
      `/extends: no preset ${JSON.stringify(name)}; the presets are ${Object.keys(TELEMETRY_PRESETS).join(', ')}`,
    ]);
  const merged: Fields = { ...preset, ...input };
  for (const key of ['llm', 'processes'])
    if (isObject(input[key])) merged[key] = { ...(isObject(preset[key]) ? preset[key] : {}), ...input[key] };
  if (isObject(input.stages)) {
    const stages: Fields = { ...(preset.stages as Fields) };
    for (const [stage, figures] of Object.entries(input.stages))
      stages[stage] =
        isObject(figures) && isObject(stages[stage]) ? { ...stages[stage], ...figures } : figures;
    merged.stages = stages;
  }
  return merged;
}

/** A preset by name, or a mapping file by path. */
export async function loadTelemetryMapping(opts: {
  preset?: string;
  file?: string;
}): Promise<TelemetryMapping> {
  if (opts.preset && opts.file) throw new UsageInvalidError('give --preset or --mapping, not both');
  if (opts.file) {
    let data: unknown;
    try {
      data = JSON.parse(await readFile(opts.file, 'utf8'));
    } catch (err) {
      throw new TelemetryMappingInvalidError(opts.file, [
        `it cannot be read as JSON (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      ]);
    }
    return parseTelemetryMapping(data, opts.file);
  }
  const name = opts.preset ?? 'headroom';
  const preset = TELEMETRY_PRESETS[name];
  if (!preset)
    throw new UsageInvalidError(
      `--preset: no preset "${name}"; the presets are ${Object.keys(TELEMETRY_PRESETS).join(', ')}, or give your own with --mapping FILE`,
    );
  return parseTelemetryMapping(preset, `the ${name} preset`);
}

/** Every expression of a mapping by its field path (`stages.scrape.completed`, `rowsDone`, …). */
export function expressions(mapping: TelemetryMapping): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [stage, m] of Object.entries(mapping.stages))
    for (const [field, expr] of Object.entries(m ?? {})) out[`stages.${stage}.${field}`] = expr as string;
  out.rowsDone = mapping.rowsDone;
  if (mapping.rowsLeft) out.rowsLeft = mapping.rowsLeft;
  for (const [field, expr] of Object.entries(mapping.llm ?? {})) out[`llm.${field}`] = expr;
  for (const [field, expr] of Object.entries(mapping.processes ?? {})) out[`processes.${field}`] = expr;
  return out;
}

const PROMQL_WORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
  'bool',
  'and',
  'or',
  'unless',
  'inf',
  'nan',
]);

/**
 * The metric names an expression reads: identifiers that are not functions (followed by "("),
 * keywords, label names (inside {…} or after by/without), strings or durations. What
 * Prometheus must have for the expression to give a number.
 */
export function metricNamesOf(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '[]')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const names = new Set<string>();
  for (const m of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const after = bare.slice(m.index! + m[0].length).trimStart();
    if (after.startsWith('(') || PROMQL_WORDS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names];
}
