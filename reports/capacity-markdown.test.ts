import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { capacityFromDeclared, loadDeclaredCapacity } from '../analyzer/declared-capacity.js';
import { loadHostProfile } from '../analyzer/host-profile.js';
import { formatDuration, formatRate, renderCapacityMarkdown } from './capacity-markdown.js';

const ioBound = fileURLToPath(new URL('../examples/declared/seed-server-io-bound.json', import.meta.url));

describe('capacity Markdown', () => {
  it('leads with the time for the rows, the bottleneck in words and the advice', async () => {
    const report = capacityFromDeclared(await loadDeclaredCapacity(ioBound), ioBound, {
      hostProfile: await loadHostProfile('i5-8500'),
    });
    const md = renderCapacityMarkdown(report);
    expect(md.split('\n')[0]).toBe('# Capacity: 500,000 rows in 8.68 h');
    expect(md).toContain('- **Rate:** 16.0 rows/s (960/min)');
    expect(md).toContain('- **Bottleneck:** shared worker slots, latency-bound.');
    expect(md).toContain('- **Advice:** raise concurrency');
    expect(md).toContain('## Target: 16.7 rows/s (1,000/min)');
    expect(md).toContain('- Shared worker slots: **34**');
    expect(md).toContain('## Projected onto i5-8500');
    expect(md).toContain('## Where the figures come from');
  });

  it('writes durations and rates people can read', () => {
    expect(formatDuration(90)).toBe('90.0 s');
    expect(formatDuration(31_252)).toBe('8.68 h');
    expect(formatDuration(375_007.5)).toBe('4.34 days (104.2 h)');
    expect(formatRate(16)).toBe('16.0 rows/s (960/min)');
    expect(formatRate(80 / 60)).toBe('1.33 rows/s (80.0/min)');
  });

  it('prints how sure the forecast is and a stage run outside what was measured', async () => {
    const report = capacityFromDeclared(await loadDeclaredCapacity(ioBound), ioBound);
    report.forecast.interval = { lowS: 30_000, highS: 33_000, level: 0.9, source: 'combined window' };
    report.stages[0]!.measuredConcurrency = { min: 8, max: 64, outside: true };
    const md = renderCapacityMarkdown(report);
    expect(md).toContain('- **How sure:** 90 % interval 8.33 h – 9.17 h (combined window)');
    expect(md).toContain(
      `- **Outside what was measured:** ${report.stages[0]!.stage} runs at N=${report.stages[0]!.concurrency}, measured at N=8…64`,
    );
  });
});
