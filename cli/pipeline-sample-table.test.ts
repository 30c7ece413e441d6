import { describe, expect, it } from 'vitest';
import type { CombinedWindow } from '../analyzer/pipeline-sample.js';
import { twoStageSample } from '../analyzer/test-support/two-stage-sample.js';
import { renderSampleTable } from './pipeline-sample-table.js';

const combined = (oneCore?: CombinedWindow['oneCore']): CombinedWindow => ({
  concurrency: { ingest: 1, scrape: 200, ai: 800, write: 1000 },
  throughputRps: 400,
  fillS: 2.5,
  windowS: 15,
  cpuSecondsPerRow: 0.0008,
  externalCpuSecondsPerRow: 0.0002,
  rssBytes: 300 * 2 ** 20,
  ...(oneCore ? { oneCore } : {}),
});

describe('the sample table', () => {
  it('prints the combined window and its part pinned to one core', () => {
    const sample = {
      ...twoStageSample(),
      combined: combined({
        core: 0,
        settleS: 1.4,
        windowS: 4.8,
        items: 4403,
        throughputRps: 915,
        cpuSecondsPerRow: 0.00075,
        externalCpuSecondsPerRow: 0.00029,
      }),
    };
    const text = renderSampleTable(sample).join('\n');
    expect(text).toContain('combined (scrape 200, AI 800 in flight): 400.0 rows/s over 15.0 s');
    expect(text).toContain(
      'pinned to core 0: 915.0 rows/s over 4.8 s; CPU 750 µs/row pipeline + 290 µs/row simulators',
    );
  });

  it('says why the one-core part was not measured', () => {
    const sample = {
      ...twoStageSample(),
      combined: combined({ skipped: 'taskset (util-linux) is not installed' }),
    };
    expect(renderSampleTable(sample).join('\n')).toContain(
      'pinned to one core: not measured (taskset (util-linux) is not installed)',
    );
  });
});
