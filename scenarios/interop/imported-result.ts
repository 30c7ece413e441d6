import path from 'node:path';
import { configHash } from '../../results/config-hash.js';
import { type HostDescription, UNKNOWN_HOST } from '../../results/host-description.js';
import {
  RUN_RESULT_KIND,
  RUN_RESULT_VERSION,
  type RunEngine,
  type RunResult,
} from '../../results/run-result.js';
import { percentileRank } from './percentile-histogram.js';

/** Options of an import: what the other tool's file does not say. */
export interface ImportOptions {
  /** Scenario name recorded in the result; default: the file's name without its extension(s). */
  scenario?: string;
  /** Profile recorded in the result; default `quick`. */
  profile?: 'quick' | 'full';
  /**
   * The machine the tool ran on. Default: UNKNOWN_HOST, because a report file does not say;
   * pass `describeHost()` when the tool ran on this machine (CLI `--measured-here`).
   */
  host?: HostDescription;
  /** Target recorded in the result when the file does not name one. */
  target?: string;
}

/**
 * The header of an imported result. Its config hash covers the tool and the scenario name: the
 * settings that shaped the load live in the other tool's script, which the report does not carry.
 */
export function importedHeader(
  engine: RunEngine,
  file: string,
  options: ImportOptions,
): Pick<RunResult, 'kind' | 'version' | 'createdAt' | 'host' | 'scenario' | 'engine'> {
  const name =
    options.scenario ??
    path
      .basename(file)
      .replace(/\.gz$/, '')
      .replace(/\.[^.]*$/, '');
  return {
    kind: RUN_RESULT_KIND,
    version: RUN_RESULT_VERSION,
    createdAt: new Date().toISOString(),
    host: options.host ?? UNKNOWN_HOST,
    scenario: {
      name: name || engine,
      profile: options.profile ?? 'quick',
      configHash: configHash({ importedFrom: engine, scenario: name || engine }),
    },
    engine,
  };
}

/** p95 of a list of latencies (ms) read as HdrHistogram does: the ⌈0.95 × N⌉-th smallest. */
export function p95Ms(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[percentileRank(95, sorted.length)]!;
}
