import { describe, expect, it } from 'vitest';
import { compareScenarioTrials, gateOutcome } from '../analyzer/regression-gate.js';
import type { RunSummary, SummaryFigure } from '../analyzer/summary.js';
import { formatFigure, renderMarkdownReport } from './markdown-report.js';

function trial(values: Record<string, [number, SummaryFigure['gate'], SummaryFigure['unit']]>): RunSummary {
  return {
    kind: 'headroom.run-summary',
    version: 1,
    scenario: { name: 'auth', profile: 'quick', configHash: 'sha256:0' },
    createdAt: '2026-01-01T00:00:00.000Z',
    durationMs: 4000,
    requests: 100,
    errors: 0,
    figures: Object.fromEntries(
      Object.entries(values).map(([k, [value, gate, unit]]) => [
        k,
        { value, gate, unit, direction: 'lower-is-better' },
      ]),
    ),
  };
}

const base = [35, 35.2, 34.8, 35.1].map((v) =>
  trial({
    'latency:login.p50': [v, 'latency', 'ms'],
    'latency.p95': [v * 2, 'info', 'ms'],
    error_rate: [0, 'error-rate', 'ratio'],
  }),
);
const slow = [45.5, 45.6, 45.4, 45.5].map((v) =>
  trial({
    'latency:login.p50': [v, 'latency', 'ms'],
    'latency.p95': [v * 2, 'info', 'ms'],
    error_rate: [0, 'error-rate', 'ratio'],
  }),
);

describe('Markdown report', () => {
  it('opens with the overall verdict on one line', () => {
    const md = renderMarkdownReport(
      gateOutcome([compareScenarioTrials(base, slow)], { base: 'origin/main', head: 'HEAD' }),
    );
    const lines = md.split('\n');
    expect(lines[0]).toBe('### headroom gate: FAIL ❌');
    expect(lines[2]).toMatch(/^FAIL: auth latency:login\.p50 \+29\.8 %/);
  });

  it('fails the headline with a check that failed elsewhere, and says the base comparison passed', () => {
    const md = renderMarkdownReport(
      gateOutcome([compareScenarioTrials(base, base)], { base: 'a', head: 'b' }),
      {
        failedElsewhere: ['against the recent history (below): auth latency.p99 +17.2 %'],
      },
    );
    const lines = md.split('\n');
    expect(lines[0]).toBe('### headroom gate: FAIL ❌');
    expect(lines[2]).toBe('FAIL: against the recent history (below): auth latency.p99 +17.2 %');
    expect(lines[4]).toMatch(/^Against the base: PASS: no regression in 1 scenario/);
    const alone = renderMarkdownReport(
      gateOutcome([compareScenarioTrials(base, base)], { base: 'a', head: 'b' }),
    );
    expect(alone.split('\n')[0]).toBe('### headroom gate: PASS ✅');
  });

  it('puts each gated figure in a table row: scenario, metric, base, head, change, interval, verdict', () => {
    const md = renderMarkdownReport(
      gateOutcome([compareScenarioTrials(base, slow)], { base: 'a', head: 'b' }),
    );
    expect(md).toContain('| scenario | metric | base | head | change | interval (95 %) | verdict |');
    const row = md.split('\n').find((l) => l.startsWith('| auth | latency:login.p50 |'))!;
    const cells = row.split('|').map((c) => c.trim());
    expect(cells.slice(1, 6)).toEqual(['auth', 'latency:login.p50', '35.05 ms', '45.50 ms', '+29.8 %']);
    expect(cells[6]).toMatch(/^\+\d+\.\d % … \+\d+\.\d %$/);
    expect(cells[7]).toBe('**regression** ❌');
    expect(md).toContain(
      '| auth | error_rate | 0.00 % | 0.00 % | +0.00 pp | +0.00 pp … +0.00 pp | unchanged |',
    );
  });

  it('keeps figures outside the gates in a collapsed section', () => {
    const md = renderMarkdownReport(
      gateOutcome([compareScenarioTrials(base, slow)], { base: 'a', head: 'b' }),
    );
    const details = md.slice(md.indexOf('<details>'));
    expect(details).toContain('| auth | latency.p95 |');
    expect(details).toContain('worse (not gated)');
    expect(md.slice(0, md.indexOf('<details>'))).not.toContain('latency.p95');
  });

  it('passes with a PASS line and flags a forced comparison across hosts', () => {
    const md = renderMarkdownReport(
      gateOutcome([compareScenarioTrials(base, base)], {
        base: 'a',
        head: 'b',
        hostMismatch: { base: 'i5-8500 (host-a)', head: 'Xeon (host-b)' },
      }),
    );
    expect(md).toContain('### headroom gate: PASS ✅');
    expect(md).toContain('PASS: no regression in 1 scenario (hosts differ: comparison forced)');
    expect(md).toContain(
      '**Hosts differ — comparison forced.** Base: i5-8500 (host-a); head: Xeon (host-b).',
    );
  });

  it('escapes table separators in names', () => {
    const odd = base.map((t) => ({ ...t, scenario: { ...t.scenario, name: 'a|b' } }));
    const md = renderMarkdownReport(gateOutcome([compareScenarioTrials(odd, odd)], { base: 'a', head: 'b' }));
    expect(md).toContain('| a\\|b | latency:login.p50 |');
  });

  it('formats each unit for reading', () => {
    expect(formatFigure(0.0012, 'ratio')).toBe('0.12 %');
    expect(formatFigure(3 * 1024 ** 2, 'bytes')).toBe('3.0 MiB');
    expect(formatFigure(210, 'rps')).toBe('210.0 req/s');
    expect(formatFigure(1.5, 'ms')).toBe('1.500 ms');
  });

  it("says once which gated figures this runner cannot resolve, and records the sides' order", () => {
    // Trials spread ±40 %: the interval of the ratio is far wider than the 10 % gate.
    const wide = [20, 50, 28, 44].map((v) => trial({ 'latency:login.p50': [v, 'latency', 'ms'] }));
    const wider = [47, 21, 40, 30].map((v) => trial({ 'latency:login.p50': [v, 'latency', 'ms'] }));
    const outcome = gateOutcome([compareScenarioTrials(wide, wider, { paired: true })], {
      base: 'b',
      head: 'h',
      design: {
        interleave: 'concurrent',
        orderSeed: 7,
        startOrder: ['head', 'base main'],
        rounds: {
          auth: [
            ['head', 'base main'],
            ['base main', 'head'],
          ],
        },
        aa: false,
      },
    });
    const figure = outcome.scenarios[0]!.figures[0]!;
    expect(figure.unresolved).toBe(true);
    const md = renderMarkdownReport(outcome);
    expect(md).toContain('unresolved (see below)');
    expect(md).not.toContain('inconclusive');
    expect(md).toMatch(
      /Beyond this runner's resolution with these trials .*auth latency:login\.p50 \(.*≈\d+ trials per side\)/,
    );
    expect(md).toContain('started head, then base main');
    expect(md).toContain('auth: head→base, base→head');
    expect(md.split('\n')[2]).toMatch(
      /^PASS: .*1 gated figure beyond this runner's resolution .*≈\d+ trials per side would resolve/,
    );
  });
});
