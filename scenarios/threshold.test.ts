import { describe, expect, it } from 'vitest';
import { evaluateThresholds, parseThreshold } from './threshold.js';

describe('thresholds', () => {
  it('parses the k6 grammar with percentiles, rates and spaces', () => {
    expect(parseThreshold('p(95)<500')).toEqual({
      source: 'p(95)<500',
      aggregation: 'p',
      percentile: 95,
      operator: '<',
      value: 500,
    });
    expect(parseThreshold(' rate <= 0.01 ')).toMatchObject({
      aggregation: 'rate',
      operator: '<=',
      value: 0.01,
    });
    expect(parseThreshold('rps>500')).toMatchObject({ aggregation: 'rps', operator: '>', value: 500 });
    expect(parseThreshold('p(99.9)<1e3')).toMatchObject({ percentile: 99.9, value: 1000 });
  });

  it('says how to write p95<500 the right way', () => {
    expect(() => parseThreshold('p95<500')).toThrow(/write p\(95\)<500/);
  });

  it('refuses unknown aggregations, operators and percentiles out of range', () => {
    expect(() => parseThreshold('mean<5')).toThrow(/not a threshold/);
    expect(() => parseThreshold('avg=<5')).toThrow(/not a threshold/);
    expect(() => parseThreshold('p(0)<5')).toThrow(/percentile/);
    expect(() => parseThreshold('p(101)<5')).toThrow(/percentile/);
  });

  it('passes and fails on the measured figures, and fails a metric that is missing', () => {
    const outcomes = evaluateThresholds(
      {
        latency: [parseThreshold('p(95)<500'), parseThreshold('avg<100')],
        errors: [parseThreshold('rate<0.01')],
        requests: [parseThreshold('rps>500')],
        nothing: [parseThreshold('count>0')],
      },
      {
        latency: { avg: 120, percentile: (p) => (p === 95 ? 480 : 0) },
        errors: { rate: 0.02 },
        requests: { rps: 510 },
      },
    );
    expect(outcomes.map((o) => [o.metric, o.threshold, o.actual, o.passed])).toEqual([
      ['latency', 'p(95)<500', 480, true],
      ['latency', 'avg<100', 120, false],
      ['errors', 'rate<0.01', 0.02, false],
      ['requests', 'rps>500', 510, true],
      ['nothing', 'count>0', null, false],
    ]);
  });
});
