import { LatencyHistogram } from '../results/latency-histogram.js';
import type { RunResult } from '../results/run-result.js';
import type { MetricFigures } from './threshold.js';

/** Figures of a latency histogram, in milliseconds, as thresholds read them. */
export function histogramFigures(h: LatencyHistogram, durationS: number): MetricFigures {
  if (h.count === 0) return { count: 0, rps: 0 };
  return {
    count: h.count,
    rps: durationS > 0 ? h.count / durationS : 0,
    avg: h.meanMs,
    min: h.minMs,
    max: h.maxMs,
    med: h.percentileMs(50),
    percentile: (p) => h.percentileMs(p),
  };
}

/**
 * The metrics a run offers to thresholds: `latency` (every step, from the intended send time),
 * `latency:<step>`, `service_time`, `errors` and `errors:<step>` (rate = failed ÷ sent), `requests`
 * (count, rps), `dropped` (arrivals not started) and any scenario-specific figures of the run.
 */
export function runMetrics(result: RunResult): Record<string, MetricFigures> {
  const durationS = result.durationMs / 1000;
  const metrics: Record<string, MetricFigures> = {};
  const all = LatencyHistogram.create();
  const service = LatencyHistogram.create();
  let requests = 0;
  let errors = 0;
  for (const step of result.steps) {
    const h = LatencyHistogram.decode(step.latencyHistogram);
    all.merge(h);
    service.merge(LatencyHistogram.decode(step.serviceHistogram));
    const stepErrors = Object.values(step.errors).reduce((a, b) => a + b, 0);
    requests += step.requests;
    errors += stepErrors;
    metrics[`latency:${step.name}`] = histogramFigures(h, durationS);
    metrics[`errors:${step.name}`] = {
      count: stepErrors,
      rate: step.requests ? stepErrors / step.requests : 0,
    };
  }
  if (result.steps.length) {
    metrics.latency = histogramFigures(all, durationS);
    metrics.service_time = histogramFigures(service, durationS);
    metrics.errors = { count: errors, rate: requests ? errors / requests : 0 };
    metrics.requests = { count: requests, rps: durationS > 0 ? requests / durationS : 0 };
  }
  if (result.schedule)
    metrics.dropped = {
      count: result.schedule.dropped,
      rate: result.schedule.intended ? result.schedule.dropped / result.schedule.intended : 0,
    };
  for (const [name, m] of Object.entries(result.metrics ?? {})) {
    const figures: MetricFigures = { ...m };
    delete (figures as { histogram?: string }).histogram;
    if (m.histogram)
      Object.assign(
        figures,
        histogramFigures(LatencyHistogram.decode(m.histogram), durationS),
        m.count === undefined ? {} : { count: m.count },
      );
    metrics[name] = figures;
  }
  return metrics;
}
