import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { BASELINE_KIND, checkHost, loadBaseline, parseBaseline } from '../baselines/baseline-store.js';
import {
  fingerprintFromDescription,
  type HostFingerprint,
  hostFingerprint,
} from '../baselines/host-fingerprint.js';
import { UsageInvalidError } from '../errors.js';
import { readRunResult } from '../results/run-result.js';
import { compareScenarioTrials, type GateOptions, type GateOutcome, gateOutcome } from './regression-gate.js';
import { type RunSummary, summarizeRun } from './summary.js';

/** One side of a comparison read from disk: trials by scenario, and the host they were measured on. */
export interface TrialSet {
  /** What the user named (a folder, a file, a scenario). */
  label: string;
  byScenario: Map<string, RunSummary[]>;
  host: HostFingerprint;
  /** True when the host comes from run results (node:os figures), so hosts compare coarsely. */
  fromRunResults: boolean;
}

/**
 * Reads one side: a folder of run results and/or baseline files, a single such file, or the name
 * of a scenario whose stored baseline (this host's; another's with `force`) is used.
 */
export async function loadTrialSet(
  spec: string,
  opts: { dir?: string; force?: boolean } = {},
): Promise<TrialSet> {
  const info = await stat(spec).catch(() => undefined);
  if (!info) {
    if (spec.includes('/') || spec.endsWith('.json'))
      throw new UsageInvalidError(`${spec}: no such file or folder`);
    const loaded = await loadBaseline(spec, await hostFingerprint(), opts);
    return {
      label: `baseline ${loaded.file}`,
      byScenario: new Map([[spec, loaded.baseline.trials.map((t) => t.summary)]]),
      host: loaded.baseline.host,
      fromRunResults: false,
    };
  }
  const files = info.isDirectory()
    ? (await readdir(spec))
        .filter((f) => f.endsWith('.json'))
        .sort()
        .map((f) => path.join(spec, f))
    : [spec];
  if (files.length === 0) throw new UsageInvalidError(`${spec}: the folder holds no .json run results`);
  const byScenario = new Map<string, RunSummary[]>();
  let host: HostFingerprint | undefined;
  let fromRunResults = false;
  const add = (summary: RunSummary) =>
    byScenario.set(summary.scenario.name, [...(byScenario.get(summary.scenario.name) ?? []), summary]);
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    if (peekKind(text) === BASELINE_KIND) {
      const baseline = parseBaseline(text, file);
      host ??= baseline.host;
      for (const t of baseline.trials) add(t.summary);
    } else {
      const result = readRunResult(text, file);
      host ??= fingerprintFromDescription(result.host);
      fromRunResults = true;
      add(summarizeRun(result));
    }
  }
  return { label: spec, byScenario, host: host!, fromRunResults };
}

/**
 * Compares two trial sets scenario by scenario (those both hold), refusing different hosts unless
 * `force` (then the outcome carries the mismatch, and every report flags it).
 */
export function compareTrialSets(
  base: TrialSet,
  head: TrialSet,
  opts: { force?: boolean; gate?: Partial<GateOptions> } = {},
): GateOutcome {
  const { hostMismatch } = checkHost(
    base.host,
    head.host,
    opts.force ?? false,
    base.fromRunResults || head.fromRunResults,
  );
  const common = [...head.byScenario.keys()].filter((s) => base.byScenario.has(s));
  if (common.length === 0)
    throw new UsageInvalidError(
      `${base.label} (${[...base.byScenario.keys()].join(', ')}) and ${head.label} (${[...head.byScenario.keys()].join(', ')}) have no scenario in common`,
    );
  const scenarios = common.map((name) => {
    const b = base.byScenario.get(name)!;
    const h = head.byScenario.get(name)!;
    if (b.length < 2 || h.length < 2)
      throw new UsageInvalidError(
        `${name}: ${b.length} trial(s) in ${base.label} and ${h.length} in ${head.label}; a comparison needs at least 2 per side ` +
          '(one run against one run flakes): save several runs with "headroom run --out dir/trial-N.json", or use "headroom baseline save"',
      );
    const hashes = new Set([...b, ...h].map((s) => s.scenario.configHash));
    if (hashes.size > 1)
      throw new UsageInvalidError(
        `${name}: the trials were run with different load settings (config hashes ${[...hashes].join(', ')}); compare runs of one configuration`,
      );
    return compareScenarioTrials(b, h, opts.gate);
  });
  return gateOutcome(scenarios, {
    base: base.label,
    head: head.label,
    ...(hostMismatch ? { hostMismatch } : {}),
    options: opts.gate,
  });
}

function peekKind(text: string): unknown {
  try {
    return (JSON.parse(text) as { kind?: unknown })?.kind;
  } catch {
    return undefined;
  }
}
