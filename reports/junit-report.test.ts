import { Parser } from 'htmlparser2';
import { describe, expect, it } from 'vitest';
import { compareScenarioTrials, gateOutcome } from '../analyzer/regression-gate.js';
import type { RunSummary, SummaryFigure } from '../analyzer/summary.js';
import type { RecentComparison } from '../history/recent-history.js';
import { escapeXml, renderJunitReport } from './junit-report.js';

function trial(
  scenario: string,
  values: Record<string, [number, SummaryFigure['gate'], SummaryFigure['unit']]>,
): RunSummary {
  return {
    kind: 'headroom.run-summary',
    version: 1,
    scenario: { name: scenario, profile: 'quick', configHash: 'sha256:0' },
    createdAt: '2026-01-01T00:00:00.000Z',
    durationMs: 4000,
    requests: 100,
    errors: 0,
    figures: Object.fromEntries(
      Object.entries(values).map(([k, [value, gate, unit]]) => [
        k,
        { value, gate, unit, direction: unit === 'rps' ? 'higher-is-better' : 'lower-is-better' },
      ]),
    ),
  };
}

/** One regressed scenario (login latency +30 %) with a name that needs escaping, one clean. */
function outcome() {
  const slowName = 'auth<&"\'>';
  const base = [35, 35.2, 34.8, 35.1].map((v) =>
    trial(slowName, { 'latency:login.p50': [v, 'latency', 'ms'], error_rate: [0, 'error-rate', 'ratio'] }),
  );
  const head = [45.5, 45.6, 45.4, 45.5].map((v) =>
    trial(slowName, { 'latency:login.p50': [v, 'latency', 'ms'], error_rate: [0, 'error-rate', 'ratio'] }),
  );
  const clean = [100, 101, 99, 100].map((v) =>
    trial('worker', {
      throughput_rps: [v, 'throughput', 'rps'],
      'server.cpu_ms_per_request': [2, 'resource', 'ms'],
    }),
  );
  return gateOutcome([compareScenarioTrials(base, head), compareScenarioTrials(clean, clean)], {
    base: 'origin/main',
    head: 'working tree',
  });
}

/** Parses the XML back: elements with attributes and text, entities decoded. */
function parse(xml: string) {
  const elements: Array<{ name: string; attribs: Record<string, string>; text: string }> = [];
  const open: Array<(typeof elements)[number]> = [];
  const parser = new Parser(
    {
      onopentag(name, attribs) {
        const el = { name, attribs, text: '' };
        elements.push(el);
        open.push(el);
      },
      ontext(text) {
        const top = open[open.length - 1];
        if (top) top.text += text;
      },
      onclosetag() {
        open.pop();
      },
      onerror(err) {
        throw err;
      },
    },
    { xmlMode: true, decodeEntities: true },
  );
  parser.write(xml);
  parser.end();
  return elements;
}

describe('JUnit report', () => {
  it('has one test case per scenario and gate, and counts them', () => {
    const elements = parse(renderJunitReport(outcome()));
    const root = elements.find((e) => e.name === 'testsuites')!;
    const cases = elements.filter((e) => e.name === 'testcase');
    const failures = elements.filter((e) => e.name === 'failure');
    // auth: latency and error-rate; worker: throughput and resource.
    expect(cases.map((c) => `${c.attribs.classname} ${c.attribs.name}`)).toEqual([
      'headroom.gate.auth<&"\'> latency',
      'headroom.gate.auth<&"\'> error-rate',
      'headroom.gate.worker throughput',
      'headroom.gate.worker resource',
    ]);
    expect(root.attribs).toMatchObject({ tests: '4', failures: '1' });
    expect(failures).toHaveLength(1);
    expect(elements.filter((e) => e.name === 'testsuite').map((s) => s.attribs.failures)).toEqual(['1', '0']);
  });

  it('carries the figures of the regression in its failure', () => {
    const failure = parse(renderJunitReport(outcome())).find((e) => e.name === 'failure')!;
    expect(failure.attribs.message).toBe('latency regression: latency:login.p50 +29.8 %');
    expect(failure.text).toContain('base 35.05 ms, head 45.50 ms, change +29.8 %');
    expect(failure.text).toContain('regression');
  });

  it('escapes every XML special character and drops the ones XML cannot hold', () => {
    expect(escapeXml(`a<b>&"c'\u0001d`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;d');
    const xml = renderJunitReport(outcome());
    expect(xml).toContain('name="headroom gate auth&lt;&amp;&quot;&apos;&gt;"');
  });

  it('marks the suites when the hosts differed and the comparison was forced', () => {
    const o = { ...outcome(), hostMismatch: { base: 'i5-8500 (host-a)', head: 'Xeon (host-b)' } };
    const props = parse(renderJunitReport(o)).filter((e) => e.name === 'property');
    expect(props[0]!.attribs).toEqual({
      name: 'host-mismatch',
      value: 'base i5-8500 (host-a); head Xeon (host-b)',
    });
  });

  it('adds a recent-history suite per scenario that fails with the history, creep only when asked', () => {
    const metric = {
      metric: 'server.cpu_ms_per_request',
      unit: 'ms',
      direction: 'lower-is-better',
      gate: 'resource',
    } as const;
    const comparisons: RecentComparison[] = [
      {
        scenario: 'worker',
        metric,
        head: 2.6,
        points: 8,
        median: 2,
        bound: 2.1,
        change: 0.3,
        threshold: 0.1,
        verdict: 'regression',
        creep: null,
      },
      {
        scenario: 'auth',
        metric: { ...metric, metric: 'latency.p99', gate: 'latency' },
        head: 11,
        points: 8,
        median: 10.9,
        bound: 12,
        change: 0.01,
        threshold: 0.1,
        verdict: 'within',
        creep: { fromIndex: 0, fromMedian: 9.5, toMedian: 10.9, change: 0.147, steps: [3, 6] },
      },
    ];
    const render = (failOnCreep: boolean) =>
      parse(renderJunitReport(outcome(), { recentHistory: { comparisons, failOnCreep } }));
    const elements = render(false);
    const suites = elements.filter((e) => e.name === 'testsuite');
    expect(suites.map((s) => [s.attribs.name, s.attribs.failures])).toEqual([
      ['headroom gate auth<&"\'>', '1'],
      ['headroom gate worker', '0'],
      ['headroom gate worker recent history', '1'],
      ['headroom gate auth recent history', '0'],
    ]);
    expect(elements.find((e) => e.name === 'testsuites')!.attribs).toMatchObject({
      tests: '6',
      failures: '2',
    });
    const failures = elements.filter((e) => e.name === 'failure');
    expect(failures[1]!.attribs.message).toBe(
      'against the recent history: worker server.cpu_ms_per_request +30.0 %',
    );
    expect(failures[1]!.text).toContain(
      'head 2.600 ms, recent median 2.000 ms of 8, bound 2.100 ms, change +30.0 %, regression',
    );
    const withCreep = render(true).filter((e) => e.name === 'failure');
    expect(withCreep.map((f) => f.attribs.message)).toContain(
      'against the recent history: auth latency.p99 creep +14.7 %',
    );
  });
});
