import type { PipelineSample } from '../analyzer/pipeline-sample.js';

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/**
 * A pipeline sample as text: one line per stage and concurrency, then the combined window. Rows/s
 * ≈ in flight ÷ s per row at low concurrency (Little's law); where it falls short, the CPU is the
 * limit (pipeline and simulators share this host's cores).
 */
export function renderSampleTable(sample: PipelineSample): string[] {
  const lines = [
    `  pipeline sample: ${sample.host.cores} cores (${sample.host.cpuModel}), pipeline and simulators on the same cores; ` +
      `${fmt(sample.durationMs / 1000, 1)} s` +
      (sample.hostLoad
        ? `; load average ${fmt(sample.hostLoad.loadAverage1mStart, 1)} → ${fmt(sample.hostLoad.loadAverage1mEnd, 1)}`
        : ''),
    '',
    '  stage    in flight  mean in flight     rows/s  s/row (Little)  ext. latency p50/p95 ms  CPU µs/row  sims µs/row  RSS MB  failed',
  ];
  for (const { stage, points } of sample.stages) {
    for (const p of points) {
      const perRow = p.throughputRps > 0 ? p.meanInFlight / p.throughputRps : 0;
      const latency = p.externalLatencyMs
        ? `${fmt(p.externalLatencyMs.p50)} / ${fmt(p.externalLatencyMs.p95)}`
        : '–';
      lines.push(
        `  ${stage.padEnd(7)} ${fmt(p.concurrency).padStart(10)} ${fmt(p.meanInFlight, 1).padStart(15)} ${fmt(p.throughputRps, 1).padStart(10)} ` +
          `${fmt(perRow, 3).padStart(15)} ${latency.padStart(24)} ${fmt(p.cpuSecondsPerItem * 1e6).padStart(11)} ` +
          `${fmt(p.externalCpuSecondsPerItem * 1e6).padStart(12)} ${fmt(p.rssBytes / 2 ** 20).padStart(7)} ${fmt(p.failedItems ?? 0).padStart(7)}`,
      );
    }
  }
  const c = sample.combined;
  if (c) {
    lines.push(
      '',
      `  combined (scrape ${fmt(c.concurrency.scrape)}, AI ${fmt(c.concurrency.ai)} in flight): ${fmt(c.throughputRps, 1)} rows/s over ` +
        `${fmt(c.windowS, 1)} s after a fill of ${fmt(c.fillS, 1)} s; CPU ${fmt(c.cpuSecondsPerRow * 1e6)} µs/row pipeline + ` +
        `${fmt(c.externalCpuSecondsPerRow * 1e6)} µs/row simulators; RSS ${fmt(c.rssBytes / 2 ** 20)} MB`,
    );
    const one = c.oneCore;
    if (one)
      lines.push(
        'skipped' in one
          ? `  pinned to one core: not measured (${one.skipped})`
          : `  pinned to core ${one.core}: ${fmt(one.throughputRps, 1)} rows/s over ${fmt(one.windowS, 1)} s; CPU ${fmt(one.cpuSecondsPerRow * 1e6)} µs/row pipeline + ` +
              `${fmt(one.externalCpuSecondsPerRow * 1e6)} µs/row simulators`,
      );
  } else lines.push('', '  combined window: not measured');
  return lines;
}
