import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { RunSummary } from '../analyzer/summary.js';
import { summarizeRun } from '../analyzer/summary.js';
import { BaselineCorruptError, BaselineHostMismatchError, BaselineNotFoundError } from '../errors.js';
import type { RunResult } from '../results/run-result.js';
import { VersionedFile } from '../versioned-json.js';
import schema from './baseline.schema.v1.json' with { type: 'json' };
import { describeFingerprint, type HostFingerprint, sameHost } from './host-fingerprint.js';

export const BASELINE_KIND = 'headroom.baseline';
export const BASELINE_VERSION = 1;
/** Where baselines live unless `--dir` says otherwise, relative to the working directory. */
export const DEFAULT_BASELINE_DIR = path.join('.headroom', 'baselines');

/** One trial of a baseline: its summary, and its per-step latency histograms so trials can be merged. */
export interface BaselineTrial {
  summary: RunSummary;
  /** Step name → HDR histogram (µs, compressed base64) of latency from the intended send time. */
  latencyHistograms: Record<string, string>;
}

/** The trials of one scenario on one host, as stored in one file. */
export interface Baseline {
  kind: typeof BASELINE_KIND;
  version: typeof BASELINE_VERSION;
  /** ISO 8601, UTC. */
  createdAt: string;
  scenario: RunSummary['scenario'];
  host: HostFingerprint;
  /** The measured tree's commit, or null outside a git checkout. */
  commit: string | null;
  trials: BaselineTrial[];
}

/** A baseline from the results of its trials (all of one scenario and one config hash). */
export function baselineFromRuns(
  results: RunResult[],
  host: HostFingerprint,
  commit: string | null,
): Baseline {
  if (results.length === 0) throw new Error('a baseline needs at least one trial');
  const first = results[0]!.scenario;
  const other = results.find(
    (r) => r.scenario.name !== first.name || r.scenario.configHash !== first.configHash,
  );
  if (other)
    throw new Error(
      `every trial of a baseline must be of one scenario and config (${first.name} ${first.configHash}, got ${other.scenario.name} ${other.scenario.configHash})`,
    );
  return {
    kind: BASELINE_KIND,
    version: BASELINE_VERSION,
    createdAt: new Date().toISOString(),
    scenario: { ...first },
    host,
    commit,
    trials: results.map((r) => ({
      summary: summarizeRun(r),
      latencyHistograms: Object.fromEntries(r.steps.map((s) => [s.name, s.latencyHistogram])),
    })),
  };
}

/** The file of a scenario's baseline for a host: `<dir>/<scenario>.<host id>.json`. */
export function baselineFile(dir: string, scenario: string, hostId: string): string {
  return path.join(dir, `${scenario}.${hostId}.json`);
}

const baselineFileKind = new VersionedFile<Baseline>({
  kind: BASELINE_KIND,
  version: BASELINE_VERSION,
  noun: 'baseline',
  schema,
  invalid: (file, problems, options) => new BaselineCorruptError(file, problems.join('; '), options),
});

/** Writes a baseline atomically (temporary file in the same folder, then rename); returns the file. */
export async function saveBaseline(baseline: Baseline, dir: string = DEFAULT_BASELINE_DIR): Promise<string> {
  const file = baselineFile(dir, baseline.scenario.name, baseline.host.id);
  await baselineFileKind.write(file, baseline);
  return file;
}

/**
 * Reads a baseline file's text. Not JSON, another kind, a newer version or content that fails
 * the schema → a BaselineCorruptError naming the file and what is wrong (the field, for the schema).
 */
export const parseBaseline = (text: string, file: string): Baseline => baselineFileKind.parse(text, file);
/** Validates a baseline against its schema; throws a BaselineCorruptError naming each bad field. */
export const checkBaseline = (data: unknown, file: string): Baseline => baselineFileKind.check(data, file);
/** Reads and validates a baseline file. */
export const readBaselineFile = (file: string): Promise<Baseline> => baselineFileKind.read(file);

/** A loaded baseline, with the host mismatch when one was forced. */
export interface LoadedBaseline {
  baseline: Baseline;
  file: string;
  hostMismatch?: { base: string; head: string };
}

/**
 * The stored baseline of `scenario` for `host`. When there is none for this host but `force` is
 * set, the newest one of another host is used and the mismatch returned (reports flag it); without
 * `force`, another host's baseline is a BaselineHostMismatchError naming both hosts, and no
 * baseline at all a BaselineNotFoundError with the command that creates one.
 */
export async function loadBaseline(
  scenario: string,
  host: HostFingerprint,
  opts: { dir?: string; force?: boolean } = {},
): Promise<LoadedBaseline> {
  const dir = opts.dir ?? DEFAULT_BASELINE_DIR;
  const file = baselineFile(dir, scenario, host.id);
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text !== undefined) return { baseline: parseBaseline(text, file), file };
  const others = (await listBaselines(dir)).filter((b) => b.baseline.scenario.name === scenario);
  if (others.length === 0) throw new BaselineNotFoundError(scenario, file, saveCommand(scenario, opts.dir));
  const newest = others.sort((a, b) => b.baseline.createdAt.localeCompare(a.baseline.createdAt))[0]!;
  return { ...newest, ...checkHost(newest.baseline.host, host, opts.force ?? false) };
}

/**
 * Checks that two sides were measured on the same host (`coarse` when a side comes from run
 * results: see `sameHost`). Different hosts throw a BaselineHostMismatchError unless `force`;
 * forced, the mismatch is returned for the reports.
 */
export function checkHost(
  base: HostFingerprint,
  head: HostFingerprint,
  force: boolean,
  coarse = false,
): { hostMismatch?: { base: string; head: string } } {
  if (sameHost(base, head, coarse)) return {};
  const mismatch = { base: describeFingerprint(base), head: describeFingerprint(head) };
  if (!force) throw new BaselineHostMismatchError(mismatch.base, mismatch.head);
  return { hostMismatch: mismatch };
}

/** Every baseline in `dir`, newest first; a corrupt file throws (it names itself). */
export async function listBaselines(
  dir: string = DEFAULT_BASELINE_DIR,
): Promise<Array<{ file: string; baseline: Baseline }>> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const files = names.filter((n) => n.endsWith('.json')).map((n) => path.join(dir, n));
  const baselines = await Promise.all(
    files.map(async (file) => ({ file, baseline: await readBaselineFile(file) })),
  );
  return baselines.sort((a, b) => b.baseline.createdAt.localeCompare(a.baseline.createdAt));
}

/** The commit of the working tree (`git rev-parse HEAD`), or null outside a git checkout. */
export async function currentCommit(cwd: string = process.cwd()): Promise<string | null> {
  try {
    const { stdout } = await promisify(execFile)('git', ['rev-parse', 'HEAD'], { cwd });
    return stdout.trim() || null;
  } catch {
    return null;
  }
}

function saveCommand(scenario: string, dir: string | undefined): string {
  return `headroom baseline save ${scenario}${dir ? ` --dir ${dir}` : ''}`;
}
