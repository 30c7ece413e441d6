import {
  type FigureVerdict,
  formatChange,
  type GateDesign,
  type GateOutcome,
  overallVerdictLine,
} from '../analyzer/regression-gate.js';

/** Formats a figure's value in its unit: `35.20 ms`, `0.12 %`, `210.0 req/s`, `182.3 MiB`. */
export function formatFigure(value: number, unit: FigureVerdict['unit']): string {
  switch (unit) {
    case 'ms':
      return `${value.toFixed(value < 10 ? 3 : value < 100 ? 2 : 1)} ms`;
    case 'ratio':
      return `${(value * 100).toFixed(2)} %`;
    case 'rps':
      return `${value.toFixed(1)} req/s`;
    case 'percent':
      return `${value.toFixed(1)} %`;
    case 'bytes':
      return `${(value / 1024 ** 2).toFixed(1)} MiB`;
    default:
      return value.toPrecision(4);
  }
}

/** The interval of a change: `+2.1 % … +12.3 %`, or `+0.00 pp … +0.10 pp` for rates. */
export function formatInterval(f: Pick<FigureVerdict, 'changeKind' | 'low' | 'high' | 'unit'>): string {
  return `${formatChange({ ...f, change: f.low })} … ${formatChange({ ...f, change: f.high })}`;
}

function verdictCell(f: FigureVerdict): string {
  if (f.failed) return '**regression** ❌';
  if (f.unresolved) return f.gated ? 'unresolved (see below)' : 'unresolved';
  if (f.verdict === 'inconclusive') return `inconclusive (≈${f.trialsNeeded} trials per side)`;
  if (f.verdict === 'regression') return f.note ? `worse (${f.note})` : 'worse (not gated)';
  if (f.verdict === 'improvement' && f.note) return `better (${f.note})`;
  return f.verdict;
}

/** Markdown has no escape for `|` inside a table cell but `\|`; names come from scenario files. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/**
 * The gate's outcome as Markdown for a pull-request comment or `$GITHUB_STEP_SUMMARY`: the
 * overall verdict on one line, a table of the gated figures (scenario, metric, base, head,
 * change, interval, verdict), then every other compared figure in a collapsed section.
 * `failedElsewhere` names checks outside this comparison that failed the same gate (the recent
 * history): the headline is the build's verdict, so it fails with them.
 */
export function renderMarkdownReport(
  outcome: GateOutcome,
  opts: { failedElsewhere?: string[] } = {},
): string {
  const elsewhere = opts.failedElsewhere ?? [];
  const lines: string[] = [];
  lines.push(`### headroom gate: ${outcome.passed && elsewhere.length === 0 ? 'PASS ✅' : 'FAIL ❌'}`, '');
  for (const check of elsewhere) lines.push(`FAIL: ${cell(check)}`, '');
  lines.push(cell(`${elsewhere.length > 0 ? 'Against the base: ' : ''}${overallVerdictLine(outcome)}`), '');
  if (outcome.hostMismatch) {
    lines.push(
      `> ⚠️ **Hosts differ — comparison forced.** Base: ${cell(outcome.hostMismatch.base)}; head: ${cell(outcome.hostMismatch.head)}. Timings from different machines are not comparable.`,
      '',
    );
  }
  lines.push(`Base: ${cell(outcome.base)}. Head: ${cell(outcome.head)}.`, '');
  const header = [
    '| scenario | metric | base | head | change | interval (95 %) | verdict |',
    '|---|---|---:|---:|---:|---|---|',
  ];
  const row = (scenario: string, f: FigureVerdict) =>
    `| ${cell(scenario)} | ${cell(f.figure)} | ${formatFigure(f.base, f.unit)} | ${formatFigure(f.head, f.unit)} | ${formatChange(f)} | ${formatInterval(f)} | ${verdictCell(f)} |`;
  lines.push(...header);
  for (const s of outcome.scenarios) {
    for (const f of s.figures) if (f.gated) lines.push(row(s.scenario, f));
    if (s.leak) {
      const l = s.leak;
      const base = l.base ? `${l.base.slopeMbPerHour.toFixed(1)} MB/h` : '—';
      lines.push(
        `| ${cell(s.scenario)} | heap slope after GC | ${base} | ${l.head.slopeMbPerHour.toFixed(1)} MB/h | | ${l.head.slopeLowMbPerHour.toFixed(1)} … ${l.head.slopeHighMbPerHour.toFixed(1)} MB/h (limit ${l.head.maxSlopeMbPerHour}) | ${l.failed ? '**leak** ❌' : 'no leak'} |`,
      );
    }
  }
  const t = outcome.thresholds;
  lines.push(
    '',
    `Trials per side: ${outcome.scenarios.map((s) => `${s.scenario} ${s.baseTrials}/${s.headTrials}`).join(', ')}. ` +
      `Gates: latency (${outcome.gatedLatency.join(', ')} of each step) +${t.latency * 100} %, error rate +${t.errorRatePp} pp, ` +
      `throughput −${t.throughput * 100} %, resources +${t.resource * 100} %, no leak. A regression is called when the change is ` +
      'clearly past half the threshold (see the README, "CI regression gate").',
  );
  const unresolved = outcome.scenarios.flatMap((s) =>
    s.figures
      .filter((f) => f.gated && f.unresolved && !f.failed)
      .map((f) => `${s.scenario} ${f.figure} (${formatInterval(f)}: ≈${f.trialsNeeded} trials per side)`),
  );
  if (unresolved.length > 0)
    lines.push(
      '',
      `Beyond this runner's resolution with these trials (the 95 % interval is wider than the gate, so no change of the gate's size can be told from none): ${cell(unresolved.join('; '))}. ` +
        'Raise gate.trials (or the trial length), run on a quieter runner, or gate these figures elsewhere; `headroom gate --aa` measures the noise floor.',
    );
  if (outcome.design) lines.push('', cell(describeDesign(outcome.design)));
  const others = outcome.scenarios.flatMap((s) =>
    s.figures.filter((f) => !f.gated).map((f) => row(s.scenario, f)),
  );
  if (others.length > 0) {
    lines.push(
      '',
      '<details><summary>Every other figure compared (shown, never failing the gate)</summary>',
      '',
    );
    lines.push(...header, ...others, '', '</details>');
  }
  return `${lines.join('\n')}\n`;
}

/** The measurement design in one paragraph: start order (and so port order) and each round's side order. */
function describeDesign(d: GateDesign): string {
  const initials = (labels: string[]) => labels.map((l) => l.split(' ')[0]).join('→');
  const rounds = Object.entries(d.rounds)
    .map(([scenario, orders]) => `${scenario}: ${orders.map(initials).join(', ')}`)
    .join('; ');
  return (
    `${d.aa ? 'A/A run: both sides are one build (every call above is a false one). ' : ''}` +
    `Order (seed ${d.orderSeed}, balanced: each side first in half the rounds): started ${d.startOrder.join(', then ')}; ` +
    `${d.interleave === 'concurrent' ? 'both loaded at once, first-started first' : 'one after the other'} in rounds (warm-up first) ${rounds}.`
  );
}
