import { describe, expect, it } from 'vitest';
import { benchmarkCsvIngest } from './benchmark-csv-ingest.js';

describe('benchmarkCsvIngest', () => {
  it('reports both stages over every row of the generated CSV', async () => {
    const result = await benchmarkCsvIngest({ rows: 2_000, trials: 1 });
    expect(result).toMatchObject({ rows: 2_000, trials: 1 });
    expect(result.bytes).toBeGreaterThan(2_000 * 80);
    for (const stage of [result.parseOnly, result.ingest]) {
      expect(stage.wallMs).toBeGreaterThan(0);
      expect(stage.rowsPerS).toBeCloseTo((2_000 * 1000) / stage.wallMs);
    }
  });

  it('refuses a row count that is not a positive integer', async () => {
    await expect(benchmarkCsvIngest({ rows: 0 })).rejects.toThrow(
      /rows and trials must be positive integers/,
    );
  });
});
