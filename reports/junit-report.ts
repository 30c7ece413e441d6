import { formatChange, type GateOutcome, type ScenarioGate } from '../analyzer/regression-gate.js';
import type { GateKind } from '../analyzer/summary.js';
import { pct, type RecentComparison, recentHistoryFailures } from '../history/recent-history.js';
import { formatFigure, formatInterval } from './markdown-report.js';

/** The gates a scenario is tested on, one JUnit test case each. */
const GATES: ReadonlyArray<Exclude<GateKind, 'info'>> = ['latency', 'error-rate', 'throughput', 'resource'];

/**
 * Escapes text for XML content and attribute values, and drops the characters XML 1.0 cannot
 * hold at all (control characters other than tab, newline and carriage return).
 */
export function escapeXml(text: string): string {
  return (
    text
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
  );
}

interface TestCase {
  name: string;
  failure?: { message: string; body: string };
  out: string;
}

function casesOf(s: ScenarioGate): TestCase[] {
  const cases: TestCase[] = [];
  for (const gate of GATES) {
    const figures = s.figures.filter((f) => f.gated && f.gate === gate);
    if (figures.length === 0) continue;
    const describe = (f: (typeof figures)[number]) =>
      `${f.figure}: base ${formatFigure(f.base, f.unit)}, head ${formatFigure(f.head, f.unit)}, change ${formatChange(f)} ` +
      `(95 % interval ${formatInterval(f)}), ${f.verdict}${f.trialsNeeded ? ` (≈${f.trialsNeeded} trials per side would decide)` : ''}`;
    const failed = figures.filter((f) => f.failed);
    const testCase: TestCase = { name: gate, out: figures.map(describe).join('\n') };
    if (failed.length > 0)
      testCase.failure = {
        message: `${gate} regression: ${failed.map((f) => `${f.figure} ${formatChange(f)}`).join(', ')}`,
        body: failed.map(describe).join('\n'),
      };
    cases.push(testCase);
  }
  if (s.leak) {
    const l = s.leak.head;
    const text = `heap slope after GC ${l.slopeMbPerHour.toFixed(1)} MB/h (95 % interval ${l.slopeLowMbPerHour.toFixed(1)} … ${l.slopeHighMbPerHour.toFixed(1)}), limit ${l.maxSlopeMbPerHour} MB/h`;
    const testCase: TestCase = { name: 'memory-leak', out: text };
    if (s.leak.failed) testCase.failure = { message: `memory leak: ${text}`, body: text };
    cases.push(testCase);
  }
  return cases;
}

/**
 * The head against its recent history, one suite per scenario (named `<scenario> recent history`)
 * with one case: CI's test report then fails with the exit code when only the history did.
 */
function recentHistorySuites(h: {
  comparisons: readonly RecentComparison[];
  failOnCreep: boolean;
}): Array<{ scenario: string; cases: TestCase[] }> {
  const scenarios = [...new Set(h.comparisons.map((c) => c.scenario))];
  return scenarios.map((scenario) => {
    const mine = h.comparisons.filter((c) => c.scenario === scenario);
    const out = mine
      .map(
        (c) =>
          `${c.metric.metric}: head ${formatFigure(c.head, c.metric.unit)}, recent median ${formatFigure(c.median, c.metric.unit)} of ${c.points}, ` +
          `bound ${c.bound === null ? 'n/a' : formatFigure(c.bound, c.metric.unit)}, change ${pct(c.change)}, ${c.verdict}${c.creep ? `, creep ${pct(c.creep.change)}` : ''}`,
      )
      .join('\n');
    const failures = recentHistoryFailures(mine, h.failOnCreep);
    const testCase: TestCase = { name: 'recent-history', out };
    if (failures.length > 0)
      testCase.failure = { message: `against the recent history: ${failures.join(', ')}`, body: out };
    return { scenario: `${scenario} recent history`, cases: [testCase] };
  });
}

/**
 * The gate's outcome as JUnit XML for CI test reports: one test suite per scenario and one test
 * case per gate (latency, error-rate, throughput, resource, memory-leak); a failure carries the
 * figures (base, head, change, interval) of each regressed metric.
 */
export function renderJunitReport(
  outcome: GateOutcome,
  opts: { recentHistory?: { comparisons: readonly RecentComparison[]; failOnCreep: boolean } } = {},
): string {
  const suites = outcome.scenarios.map((s) => ({ scenario: s.scenario, cases: casesOf(s) }));
  if (opts.recentHistory) suites.push(...recentHistorySuites(opts.recentHistory));
  const tests = suites.reduce((n, s) => n + s.cases.length, 0);
  const failures = suites.reduce((n, s) => n + s.cases.filter((c) => c.failure).length, 0);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="headroom gate" tests="${tests}" failures="${failures}" errors="0">`,
  ];
  for (const suite of suites) {
    const suiteFailures = suite.cases.filter((c) => c.failure).length;
    lines.push(
      `  <testsuite name="${escapeXml(`headroom gate ${suite.scenario}`)}" tests="${suite.cases.length}" failures="${suiteFailures}" errors="0" timestamp="${escapeXml(outcome.createdAt)}">`,
    );
    if (outcome.hostMismatch)
      lines.push(
        `    <properties><property name="host-mismatch" value="${escapeXml(`base ${outcome.hostMismatch.base}; head ${outcome.hostMismatch.head}`)}"/></properties>`,
      );
    for (const c of suite.cases) {
      lines.push(
        `    <testcase classname="${escapeXml(`headroom.gate.${suite.scenario}`)}" name="${escapeXml(c.name)}">`,
      );
      if (c.failure)
        lines.push(
          `      <failure message="${escapeXml(c.failure.message)}" type="regression">${escapeXml(c.failure.body)}</failure>`,
        );
      lines.push(`      <system-out>${escapeXml(c.out)}</system-out>`, '    </testcase>');
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}
