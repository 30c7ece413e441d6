import type { ThresholdOutcome } from '../results/threshold-outcome.js';

/**
 * Thresholds in k6's grammar: `aggregation operator value`, e.g. `p(95)<500`, `rate<0.01`,
 * `rps>500`. Parsed once, when the scenario is loaded; evaluated against a run's figures.
 */
export type Aggregation = 'avg' | 'min' | 'max' | 'med' | 'p' | 'rate' | 'count' | 'rps' | 'value';
export type Operator = '<' | '<=' | '>' | '>=' | '==' | '!=';

export interface Threshold {
  /** The text as written, for reports. */
  source: string;
  aggregation: Aggregation;
  /** For `p(N)`: N, 0 < N ≤ 100. */
  percentile?: number;
  operator: Operator;
  value: number;
}

const AGGREGATIONS = 'avg, min, max, med, p(N), rate, count, rps, value';
const GRAMMAR =
  /^\s*(avg|min|max|med|rate|count|rps|value|p\(\s*(\d+(?:\.\d+)?)\s*\))\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*$/i;

/** Parses one threshold; the error says what a right one looks like. */
export function parseThreshold(text: string): Threshold {
  const m = GRAMMAR.exec(text);
  if (!m) {
    const hint = /^\s*p(\d+)\s*([<>=!]+)\s*(.+)$/i.exec(text);
    const fix = hint ? `; write p(${hint[1]})${hint[2]}${hint[3]}` : '';
    throw new Error(
      `"${text}" is not a threshold${fix} (${AGGREGATIONS}, then <, <=, >, >=, == or !=, then a number)`,
    );
  }
  const name = m[1]!.toLowerCase();
  const percentile = m[2] === undefined ? undefined : Number(m[2]);
  if (percentile !== undefined && !(percentile > 0 && percentile <= 100)) {
    throw new Error(`"${text}": the percentile must be above 0 and at most 100`);
  }
  return {
    source: text.trim(),
    aggregation: (percentile === undefined ? name : 'p') as Aggregation,
    ...(percentile === undefined ? {} : { percentile }),
    operator: m[3] as Operator,
    value: Number(m[4]),
  };
}

/** What a metric offers to thresholds. Missing aggregations cannot be checked on it. */
export interface MetricFigures {
  avg?: number;
  min?: number;
  max?: number;
  med?: number;
  percentile?: (p: number) => number;
  rate?: number;
  count?: number;
  rps?: number;
  value?: number;
}

/** Reads the aggregation a threshold names from a metric's figures. */
export function aggregate(t: Threshold, figures: MetricFigures): number | null {
  if (t.aggregation === 'p') return figures.percentile ? figures.percentile(t.percentile!) : null;
  const v = figures[t.aggregation];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function compare(actual: number, op: Operator, expected: number): boolean {
  switch (op) {
    case '<':
      return actual < expected;
    case '<=':
      return actual <= expected;
    case '>':
      return actual > expected;
    case '>=':
      return actual >= expected;
    case '==':
      return actual === expected;
    case '!=':
      return actual !== expected;
  }
}

/** Checks every threshold of every metric; a metric the run did not produce fails its thresholds. */
export function evaluateThresholds(
  thresholds: Record<string, Threshold[]>,
  metrics: Record<string, MetricFigures>,
): ThresholdOutcome[] {
  const outcomes: ThresholdOutcome[] = [];
  for (const [metric, list] of Object.entries(thresholds)) {
    const figures = metrics[metric];
    for (const t of list) {
      const actual = figures ? aggregate(t, figures) : null;
      outcomes.push({
        metric,
        threshold: t.source,
        actual,
        passed: actual !== null && compare(actual, t.operator, t.value),
      });
    }
  }
  return outcomes;
}
