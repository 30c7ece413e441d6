import { describe, expect, it } from 'vitest';
import { capacityFromSample } from '../analyzer/capacity-model.js';
import type { PipelineSample, StagePoint } from '../analyzer/pipeline-sample.js';
import { uslThroughput } from '../analyzer/usl-fit.js';
import { capacityHtmlDocument } from './capacity-html.js';
import { renderHtmlReport } from './html-report.js';

const point = (n: number, x: number): StagePoint => ({
  concurrency: n,
  meanInFlight: n,
  throughputRps: x,
  items: 100,
  windowS: 5,
  cpuSecondsPerItem: 0.0002,
  externalCpuSecondsPerItem: 0,
  rssBytes: 1e8 + n * 1e4,
});

const sample: PipelineSample = {
  kind: 'headroom.pipeline-sample',
  version: 1,
  createdAt: '2026-11-23T00:00:00.000Z',
  host: { cpuModel: 'test', cores: 2, memoryBytes: 8e9, os: 'Linux', node: 'v20' },
  world: { colocatedSimulators: false },
  baseRssBytes: 1e8,
  stages: [
    {
      stage: 'ai',
      points: [10, 40, 160, 640].map((n) =>
        point(n, uslThroughput({ lambda: 0.5, sigma: 0.01, kappa: 1e-5 }, n)),
      ),
    },
  ],
  durationMs: 30_000,
};

describe('capacity HTML', () => {
  it("draws each fitted stage's measured points under its USL curve, and the time per stage", () => {
    const doc = capacityHtmlDocument(capacityFromSample(sample, { rows: 100_000 }));
    const charts = doc.sections.flatMap((s) => s.charts ?? []);
    const throughput = charts.find((c) => c.title.startsWith('ai: throughput against concurrency'))!;
    expect(throughput.type).toBe('scatter');
    const [measured, curve] = throughput.type === 'scatter' ? throughput.series : [];
    expect(measured!.points).toHaveLength(4);
    expect(curve!.draw).toBe('line');
    // The curve passes through the generated points: the fit recovered the law.
    const at40 = curve!.points.reduce((a, b) => (Math.abs(b.x - 40) < Math.abs(a.x - 40) ? b : a));
    expect(at40.y!).toBeCloseTo(uslThroughput({ lambda: 0.5, sigma: 0.01, kappa: 1e-5 }, at40.x), 3);
    const times = charts.find((c) => c.type === 'bar')!;
    expect(times.type === 'bar' && times.x.categories).toEqual(['ai', 'pipeline']);
  });

  it('renders as one self-contained HTML page', () => {
    const html = renderHtmlReport(capacityHtmlDocument(capacityFromSample(sample, { rows: 100_000 })));
    expect(html).toContain('<title>Capacity: 100,000 rows in');
    expect(html).toContain('Throughput against concurrency');
  });
});
