import { parseArgs } from 'node:util';
import { DEFAULT_GATE_TRIALS } from '../../analyzer/regression-gate.js';
import {
  type Baseline,
  DEFAULT_BASELINE_DIR,
  listBaselines,
  loadBaseline,
} from '../../baselines/baseline-store.js';
import { describeFingerprint, hostFingerprint } from '../../baselines/host-fingerprint.js';
import { measureBaselines } from '../../baselines/measure-baseline.js';
import { UsageInvalidError } from '../../errors.js';
import { ExitCode } from '../../exit-code.js';
import { formatFigure } from '../../reports/markdown-report.js';
import type { CliIo } from '../cli-io.js';
import { numberFlag } from '../flag-value.js';

export const baselineHelp = `headroom baseline save <scenario…> | show <scenario> | list [options]

Stored baselines: the gate's trials of a scenario on this host (one file per host fingerprint
and scenario), compared by "headroom gate" when no --against is given.
  save <scenario…>   run each scenario's gate trials (quick suite: auth, api-stress, worker)
                     against the reference pipeline of this build and store them
  show <scenario>    this host's baseline: host, commit, trials, median figures
  list               every stored baseline
  --trials N         trials per scenario (default ${DEFAULT_GATE_TRIALS})
  --suite NAME       whose trial settings to use (default quick; the gate's --suite must match)
  --dir D            baseline folder (default ${DEFAULT_BASELINE_DIR} in the working directory)
  --force            show: use another host's baseline when this host has none
  --json             print JSON
Exit codes: 0 done, 2 usage or input error (e.g. no baseline), 3 internal error.
`;

export async function baselineCommand(argv: string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      trials: { type: 'string' },
      suite: { type: 'string', default: 'quick' },
      dir: { type: 'string' },
      force: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const [action, ...scenarios] = positionals;
  const dir = values.dir ?? DEFAULT_BASELINE_DIR;
  if (action === 'save') {
    if (scenarios.length === 0)
      throw new UsageInvalidError('name the scenarios: headroom baseline save <scenario…>');
    const trials = numberFlag('trials', values.trials, { integer: true, min: 2 });
    const saved = await measureBaselines(scenarios, {
      trials,
      suite: values.suite,
      dir,
      onProgress: (line) => io.progress(`baseline ${line}`),
    });
    io.endProgress();
    if (values.json) io.stdout(`${JSON.stringify(saved.map((s) => s.file))}\n`);
    else
      for (const s of saved)
        io.stdout(`saved ${s.baseline.trials.length} trials of ${s.baseline.scenario.name} to ${s.file}\n`);
    return ExitCode.Pass;
  }
  if (action === 'show') {
    if (scenarios.length !== 1)
      throw new UsageInvalidError('name one scenario: headroom baseline show <scenario>');
    const loaded = await loadBaseline(scenarios[0]!, await hostFingerprint(), {
      dir: values.dir,
      force: values.force,
    });
    if (values.json) io.stdout(`${JSON.stringify(loaded.baseline)}\n`);
    else io.stdout(renderBaseline(loaded.baseline, loaded.file, loaded.hostMismatch !== undefined));
    return ExitCode.Pass;
  }
  if (action === 'list') {
    const all = await listBaselines(dir);
    const here = await hostFingerprint();
    if (values.json) {
      io.stdout(
        `${JSON.stringify(all.map((b) => ({ file: b.file, scenario: b.baseline.scenario.name, host: b.baseline.host.id, trials: b.baseline.trials.length, commit: b.baseline.commit, createdAt: b.baseline.createdAt })))}\n`,
      );
      return ExitCode.Pass;
    }
    if (all.length === 0) {
      io.stdout(`no baselines in ${dir}; create one with: headroom baseline save <scenario>\n`);
      return ExitCode.Pass;
    }
    io.stdout('scenario      host               trials  commit        created                   file\n');
    for (const { file, baseline: b } of all) {
      const mark = b.host.id === here.id ? ' (this host)' : '';
      io.stdout(
        `${b.scenario.name.padEnd(13)} ${`${b.host.id}${mark}`.padEnd(18)} ${String(b.trials.length).padStart(6)}  ${(b.commit ?? '—').slice(0, 12).padEnd(12)}  ${b.createdAt.padEnd(24)}  ${file}\n`,
      );
    }
    return ExitCode.Pass;
  }
  throw new UsageInvalidError(
    `say what to do with baselines: save <scenario…>, show <scenario> or list (got ${action ? `"${action}"` : 'nothing'})`,
  );
}

/** A baseline in a few lines: where and when it was measured, and the median of each gated figure. */
export function renderBaseline(b: Baseline, file: string, otherHost: boolean): string {
  const lines = [
    `baseline of ${b.scenario.name} (${b.scenario.profile}, config ${b.scenario.configHash}) in ${file}`,
    `  host ${describeFingerprint(b.host)}${otherHost ? '  ← another host (forced)' : ''}`,
    `  commit ${b.commit ?? 'unknown'}, created ${b.createdAt}, ${b.trials.length} trials`,
    '',
    '  figure                                   median over trials',
  ];
  const first = b.trials[0]!.summary.figures;
  for (const [name, figure] of Object.entries(first)) {
    if (figure.gate === 'info') continue;
    const values = b.trials
      .map((t) => t.summary.figures[name]?.value)
      .filter((v): v is number => v !== undefined);
    const sorted = values.sort((x, y) => x - y);
    const median =
      sorted.length % 2
        ? sorted[sorted.length >> 1]!
        : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
    lines.push(`  ${name.padEnd(40)} ${formatFigure(median, figure.unit)}`);
  }
  return `${lines.join('\n')}\n`;
}
