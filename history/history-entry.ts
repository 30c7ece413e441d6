import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import {
  CAPACITY_REPORT_KIND,
  type CapacityReport,
  capacityReportProblems,
} from '../analyzer/capacity-report.js';
import { medianOf } from '../analyzer/comparison.js';
import { type SummaryFigure, summarizeRun } from '../analyzer/summary.js';
import { fingerprintFromDescription } from '../baselines/host-fingerprint.js';
import { ResultInvalidError } from '../errors.js';
import { describeHost, UNKNOWN_HOST } from '../results/host-description.js';
import { checkRunResult, RUN_RESULT_KIND, type RunResult } from '../results/run-result.js';
import type { HistoryEntry } from './history-store.js';

/** The commit and branch a result belongs to; by default those of the git checkout in `cwd`. */
export interface Provenance {
  commit?: string | null;
  branch?: string | null;
  cwd?: string;
}

/** What `git` says of the checkout in `cwd`: HEAD's commit and branch, or nulls outside a checkout. */
export function gitProvenance(cwd = process.cwd()): { commit: string | null; branch: string | null } {
  const git = (...args: string[]) => {
    try {
      return (
        execFileSync('git', args, { cwd, stdio: ['ignore', 'pipe', 'ignore'] })
          .toString()
          .trim() || null
      );
    } catch {
      return null;
    }
  };
  const branch = git('rev-parse', '--abbrev-ref', 'HEAD');
  return { commit: git('rev-parse', 'HEAD'), branch: branch === 'HEAD' ? null : branch };
}

function provenanceOf(p: Provenance): { commit: string | null; branch: string | null } {
  const fromGit = p.commit === undefined || p.branch === undefined ? gitProvenance(p.cwd) : null;
  return { commit: p.commit ?? fromGit?.commit ?? null, branch: p.branch ?? fromGit?.branch ?? null };
}

const IMPORTED_ENGINES = new Set(['k6', 'artillery', 'locust', 'wrk']);

/** An imported result: another tool's engine, or one with the unknown host an import records. */
function isImported(result: RunResult): boolean {
  return IMPORTED_ENGINES.has(result.engine) || result.host.cpuModel === UNKNOWN_HOST.cpuModel;
}

/** A run result (headroom's own or imported from k6, Artillery, Locust, autocannon) as a history entry. */
export function entryFromRun(result: RunResult, provenance: Provenance = {}): HistoryEntry {
  return {
    measuredAt: result.createdAt,
    ...provenanceOf(provenance),
    host: fingerprintFromDescription(result.host),
    scenario: result.scenario.name,
    source: isImported(result) ? 'import' : 'run',
    engine: result.engine,
    figures: summarizeRun(result).figures,
  };
}

/**
 * A gate's trials of one scenario as one history entry (source `gate`): each figure the median of
 * the trials, so a gate run is one point of its series however many trials it took.
 */
export function entryFromTrials(runs: readonly RunResult[], provenance: Provenance = {}): HistoryEntry {
  if (runs.length === 0) throw new Error('a gate entry needs at least one trial');
  const summaries = runs.map((r) => summarizeRun(r).figures);
  const figures: Record<string, SummaryFigure> = {};
  for (const [name, first] of Object.entries(summaries[0]!)) {
    const values = summaries.map((f) => f[name]?.value).filter((v): v is number => Number.isFinite(v));
    if (values.length > 0) figures[name] = { ...first, value: medianOf(values) };
  }
  const last = runs.at(-1)!;
  return {
    measuredAt: last.createdAt,
    ...provenanceOf(provenance),
    host: fingerprintFromDescription(last.host),
    scenario: last.scenario.name,
    source: 'gate',
    engine: last.engine,
    figures,
  };
}

/**
 * A capacity report as a history entry (scenario `capacity`): the forecast's rate, time and fill,
 * measured on this machine (the report names no fingerprint; it is recorded where it was made).
 */
export function entryFromCapacity(report: CapacityReport, provenance: Provenance = {}): HistoryEntry {
  const figure = (value: number, unit: SummaryFigure['unit'], higherIsBetter: boolean): SummaryFigure => ({
    value,
    unit,
    direction: higherIsBetter ? 'higher-is-better' : 'lower-is-better',
    gate: higherIsBetter ? 'throughput' : 'latency',
  });
  return {
    measuredAt: report.createdAt,
    ...provenanceOf(provenance),
    host: fingerprintFromDescription(describeHost()),
    scenario: 'capacity',
    source: 'capacity',
    engine: `capacity-model (${report.mode})`,
    figures: {
      'capacity.rate_rps': figure(report.forecast.rateRps, 'rps', true),
      'capacity.total_s': figure(report.forecast.totalS, 'value', false),
      'capacity.fill_s': { ...figure(report.forecast.fillS.value, 'value', false), gate: 'info' },
    },
  };
}

/** Reads a run result or a capacity report and makes its history entry; anything else is refused by name. */
export async function entryFromFile(file: string, provenance: Provenance = {}): Promise<HistoryEntry> {
  let data: unknown;
  try {
    data = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new ResultInvalidError(file, [`it cannot be read as JSON (${(err as Error).message})`], {
      cause: err,
    });
  }
  const kind = (data as { kind?: unknown } | null)?.kind;
  if (kind === CAPACITY_REPORT_KIND) {
    const problems = capacityReportProblems(data);
    if (problems.length > 0) throw new ResultInvalidError(file, problems);
    return entryFromCapacity(data as CapacityReport, provenance);
  }
  if (kind !== RUN_RESULT_KIND) {
    throw new ResultInvalidError(file, [
      `it is a ${JSON.stringify(kind)} file; history records run results (headroom run --out, headroom import --out) and capacity reports (report.json)`,
    ]);
  }
  return entryFromRun(checkRunResult(data, file), provenance);
}
