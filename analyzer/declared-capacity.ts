import { readFile } from 'node:fs/promises';
import { DeclaredCapacityInvalidError } from '../errors.js';
import { compileSchema } from '../json-schema.js';
import { explainSchemaErrors } from '../schema-error.js';
import {
  buildCapacityReport,
  type CapacityModelInput,
  type CapacityOptions,
  DEFAULT_USABLE_CPU,
  DEFAULT_USABLE_MEMORY,
  fmt,
  hostSpecFromProfile,
  type ModelStage,
} from './capacity-model.js';
import type { CapacityReport, Traced } from './capacity-report.js';
import schema from './declared-capacity.schema.json' with { type: 'json' };
import { parseRate } from './parse-rate.js';
import type { StageName } from './pipeline-sample.js';

export const DECLARED_CAPACITY_KIND = 'headroom.declared-capacity';
export const DECLARED_CAPACITY_VERSION = 1;

/** One stage as declared: a total rate, a rate per worker, or a time per row. */
export interface DeclaredStage {
  rate?: string;
  ratePerWorker?: string;
  worker?: 'slot' | 'process';
  latencyMs?: number;
  concurrencyPerProcess?: number;
  cpuMsPerRow?: number;
  memoryPerInFlightBytes?: number;
  note?: string;
}

/** Capacity inputs declared instead of measured (e.g. production figures); see declared-capacity.schema.json. */
export interface DeclaredCapacity {
  kind: typeof DECLARED_CAPACITY_KIND;
  version: typeof DECLARED_CAPACITY_VERSION;
  name?: string;
  source?: string;
  rows?: number;
  targetRate?: string;
  host: {
    name?: string;
    cpuModel?: string;
    cores: number;
    memoryBytes: number;
    reservedMemoryBytes?: number;
  };
  workers: {
    processes: number;
    concurrencyPerProcess: number;
    sharedByStages?: boolean;
    rssBytesPerProcess?: number;
    coresPerProcess?: number;
  };
  cpuMsPerRow?: number;
  usableCpuUtilisation?: number;
  memoryPerInFlightBytes?: number;
  /** tokensPerMessage: the completion; promptTokensPerMessage: the prompt. A tpm limit is charged both. */
  llm?: { rpm?: number; tpm?: number; tokensPerMessage?: number; promptTokensPerMessage?: number };
  stages: Partial<Record<StageName, DeclaredStage>>;
}

const validate = compileSchema<DeclaredCapacity>(schema, { useDefaults: true });

const STAGE_ORDER: StageName[] = ['ingest', 'scrape', 'ai', 'write'];

/** Validates parsed JSON as a declared-capacity file; the error names each bad field. */
export function parseDeclaredCapacity(data: unknown, file: string): DeclaredCapacity {
  if (!validate(data)) throw new DeclaredCapacityInvalidError(file, explainSchemaErrors(validate.errors!));
  const problems: string[] = [];
  for (const [name, stage] of Object.entries(data.stages)) {
    if (stage.rate !== undefined && stage.ratePerWorker !== undefined)
      problems.push(`/stages/${name}: give rate or ratePerWorker, not both`);
    if (stage.rate === undefined && stage.ratePerWorker === undefined && stage.latencyMs === undefined)
      problems.push(`/stages/${name}: give rate (e.g. "1000/min"), ratePerWorker, or latencyMs`);
  }
  if (data.host.reservedMemoryBytes !== undefined && data.host.reservedMemoryBytes >= data.host.memoryBytes)
    problems.push('/host/reservedMemoryBytes: must be less than memoryBytes');
  if (problems.length) throw new DeclaredCapacityInvalidError(file, problems);
  return data;
}

/** Reads and validates a declared-capacity file. */
export async function loadDeclaredCapacity(file: string): Promise<DeclaredCapacity> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new DeclaredCapacityInvalidError(
      file,
      [`cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`],
      {
        cause: err,
      },
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new DeclaredCapacityInvalidError(file, [`it is not JSON (${(err as Error).message})`], {
      cause: err,
    });
  }
  return parseDeclaredCapacity(data, file);
}

/** Computes the same CapacityReport as measured mode, from declared figures. */
export function capacityFromDeclared(
  declared: DeclaredCapacity,
  file: string,
  opts: Partial<CapacityOptions> = {},
): CapacityReport {
  return buildCapacityReport(modelInputFromDeclared(declared, file, opts));
}

/** Turns declared figures into model input; every figure's source names the field it came from. */
export function modelInputFromDeclared(
  declared: DeclaredCapacity,
  file: string,
  opts: Partial<CapacityOptions> = {},
): CapacityModelInput {
  const rows = opts.rows ?? declared.rows;
  if (rows === undefined)
    throw new DeclaredCapacityInvalidError(file, ['/rows: missing; put "rows" in the file or pass --rows']);
  const { processes, concurrencyPerProcess } = declared.workers;
  const field = (path: string, note?: string) => `declared ${file} ${path}${note ? ` (${note})` : ''}`;
  const stages: ModelStage[] = [];
  for (const name of STAGE_ORDER) {
    const d = declared.stages[name];
    if (!d) continue;
    const at = `/stages/${name}`;
    const concurrency = d.concurrencyPerProcess ?? concurrencyPerProcess;
    const latencyS = d.latencyMs === undefined ? undefined : d.latencyMs / 1000;
    let ratePerProcess: (n: number) => number;
    let scales: boolean;
    let capacitySource: string;
    let secondsPerRow: Traced | null =
      latencyS === undefined ? null : { value: latencyS, source: field(`${at}/latencyMs`, d.note) };
    if (d.rate !== undefined) {
      const total = parseRate(d.rate)!;
      ratePerProcess = () => total / processes;
      scales = false;
      capacitySource = field(`${at}/rate`, `"${d.rate}" in total${d.note ? `; ${d.note}` : ''}`);
    } else if (d.ratePerWorker !== undefined) {
      const each = parseRate(d.ratePerWorker)!;
      if ((d.worker ?? 'slot') === 'slot') {
        ratePerProcess = (n) => each * n;
        scales = true;
        capacitySource = field(
          `${at}/ratePerWorker`,
          `"${d.ratePerWorker}" per slot × ${fmt(concurrency)} slots × ${fmt(processes)} processes${d.note ? `; ${d.note}` : ''}`,
        );
        // Little's law: a slot that finishes r rows/s holds each row 1/r s.
        secondsPerRow ??= {
          value: 1 / each,
          source: `implied by ${at}/ratePerWorker: 1 ÷ ${d.ratePerWorker} per slot (Little's law)`,
        };
      } else {
        ratePerProcess = () => each;
        scales = false;
        capacitySource = field(
          `${at}/ratePerWorker`,
          `"${d.ratePerWorker}" per process × ${fmt(processes)}${d.note ? `; ${d.note}` : ''}`,
        );
      }
    } else {
      const w = latencyS!;
      ratePerProcess = (n) => n / w;
      scales = true;
      capacitySource = field(
        `${at}/latencyMs`,
        `${fmt(concurrency)} in flight per process ÷ ${fmt(w, 3)} s (Little's law)${d.note ? `; ${d.note}` : ''}`,
      );
    }
    const memory = d.memoryPerInFlightBytes ?? declared.memoryPerInFlightBytes;
    stages.push({
      stage: name,
      points: [],
      fit: null,
      concurrency,
      ratePerProcess,
      scalesWithConcurrency: scales,
      ceilingPerProcessRps: null,
      fitScale: 1,
      capacitySource,
      secondsPerRow,
      cpuSecondsPerRow:
        d.cpuMsPerRow === undefined
          ? null
          : { value: d.cpuMsPerRow / 1000, source: field(`${at}/cpuMsPerRow`) },
      externalCpuSecondsPerRow: null,
      externalLatencyMs: null,
      memoryPerInFlightBytes:
        memory === undefined
          ? null
          : {
              value: memory,
              source: field(
                d.memoryPerInFlightBytes !== undefined
                  ? `${at}/memoryPerInFlightBytes`
                  : '/memoryPerInFlightBytes',
              ),
            },
    });
  }
  const stageCpu = stages.filter((s) => s.cpuSecondsPerRow);
  const cpuSecondsPerRow: Traced | null =
    declared.cpuMsPerRow !== undefined
      ? { value: declared.cpuMsPerRow / 1000, source: field('/cpuMsPerRow') }
      : stageCpu.length
        ? {
            value: stageCpu.reduce((a, s) => a + s.cpuSecondsPerRow!.value, 0),
            source: `sum of ${stageCpu.map((s) => `${s.stage}`).join(', ')} cpuMsPerRow in ${file}`,
          }
        : null;
  const notes: string[] = [];
  if (!cpuSecondsPerRow)
    notes.push('No CPU per row declared: the CPU bound and the cores needed cannot be computed.');
  const fillKnown = stages.filter((s) => s.secondsPerRow);
  const profile = opts.hostProfile ? hostSpecFromProfile(opts.hostProfile) : null;
  const targetRateRps = opts.targetRateRps ?? (declared.targetRate ? parseRate(declared.targetRate)! : null);
  return {
    mode: 'declared',
    source: declared.name ? `${file} (${declared.name})` : file,
    rows,
    targetRateRps,
    host: {
      name: declared.host.name ?? 'declared host',
      simulatorsOnHost: false,
      cpuModel: declared.host.cpuModel,
      cores: declared.host.cores,
      memoryBytes: declared.host.memoryBytes,
      reservedMemoryBytes: declared.host.reservedMemoryBytes ?? 0,
    },
    profile,
    processes,
    stages,
    sharedSlotsPerProcess: declared.workers.sharedByStages ? concurrencyPerProcess : null,
    baseRssBytes:
      declared.workers.rssBytesPerProcess === undefined
        ? null
        : { value: declared.workers.rssBytesPerProcess, source: field('/workers/rssBytesPerProcess') },
    cpuSecondsPerRow,
    externalCpuSecondsPerRow: null,
    colocatedSimulators: false,
    usableCpuUtilisation:
      opts.usableCpuUtilisation !== undefined
        ? { value: opts.usableCpuUtilisation, source: 'given (--usable-cpu)' }
        : declared.usableCpuUtilisation !== undefined
          ? { value: declared.usableCpuUtilisation, source: field('/usableCpuUtilisation') }
          : {
              value: DEFAULT_USABLE_CPU,
              source: `assumed: ${DEFAULT_USABLE_CPU * 100} % of the cores' time`,
            },
    coresPerProcess:
      declared.workers.coresPerProcess === undefined
        ? null
        : { value: declared.workers.coresPerProcess, source: field('/workers/coresPerProcess') },
    usableMemoryFraction: opts.usableMemoryFraction ?? DEFAULT_USABLE_MEMORY,
    llm: declaredLlm(declared, field('/llm'), notes),
    fillS: {
      value: fillKnown.reduce((a, s) => a + s.secondsPerRow!.value, 0),
      source: fillKnown.length
        ? `the first row passes through each stage in turn: ${fillKnown.map((s) => `${s.stage} ${fmt(s.secondsPerRow!.value, 3)} s`).join(' + ')}`
        : 'no time per row declared: fill time unknown, counted as 0',
    },
    measuredRate: null,
    combined: null,
    notes,
  };
}

/**
 * The declared LLM: a message costs prompt + completion tokens against a tokens/min limit, as the
 * provider charges them. Without a declared prompt the completion alone is counted, and a note says so.
 */
function declaredLlm(declared: DeclaredCapacity, source: string, notes: string[]): CapacityModelInput['llm'] {
  const llm = declared.llm ?? {};
  const completion = llm.tokensPerMessage;
  const prompt = llm.promptTokensPerMessage;
  if (llm.tpm && completion !== undefined && prompt === undefined)
    notes.push(
      'llm.promptTokensPerMessage is not declared: the tokens/min limit is divided by the completion alone, but the provider charges the prompt (the scraped page) too; declare it for a tpm forecast.',
    );
  return {
    rpm: llm.rpm ?? null,
    tpm: llm.tpm ?? null,
    tokensPerMessage: completion === undefined ? null : completion + (prompt ?? 0),
    promptTokensPerMessage: prompt ?? null,
    source:
      prompt === undefined
        ? source
        : `${source}: ${fmt(prompt)} prompt + ${fmt(completion ?? 0)} completion tokens per message`,
  };
}
