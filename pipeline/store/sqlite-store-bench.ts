import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openSqliteStore } from './sqlite-store.js';
import type { NewWebsite } from './store.js';

/** Figures of one run of the SQLite store benchmark. */
export interface SqliteStoreBenchResult {
  ingest: { rows: number; batchRows: number; durationMs: number; rowsPerSecond: number; cpuUsPerRow: number };
  /** claimPending → saveScrapes → saveMessages for every row, in the batch sizes a write-behind batcher uses. */
  lifecycle: { rows: number; batchRows: number; durationMs: number; cpuUsPerRow: number };
}

/**
 * Measures the SQLite store on a fresh file: insertWebsites throughput during CSV ingest, and the
 * store's CPU cost per row for the rest of a row's life. A measurement to report, never a test.
 */
export async function benchSqliteStore(
  opts: { rows?: number; batchRows?: number; lifecycleRows?: number; lifecycleBatchRows?: number } = {},
): Promise<SqliteStoreBenchResult> {
  const rows = opts.rows ?? 500_000;
  const batchRows = opts.batchRows ?? 1_000;
  const lifecycleRows = opts.lifecycleRows ?? 100_000;
  const lifecycleBatchRows = opts.lifecycleBatchRows ?? 200;
  const dir = mkdtempSync(join(tmpdir(), 'headroom-store-bench-'));
  const store = openSqliteStore(join(dir, 'bench.db'));
  try {
    const user = await store.createUser('bench@example.com', 'hash');
    const uploadId = await store.createUpload(user.id, 'bench.csv');
    const batches: NewWebsite[][] = [];
    for (let start = 0; start < rows; start += batchRows) {
      const batch: NewWebsite[] = [];
      for (let i = start; i < Math.min(rows, start + batchRows); i++) {
        batch.push({
          lineNumber: i + 2,
          url: `https://site-${i}.example.com/`,
          company: `Company ${i}`,
          name: `Person ${i}`,
          email: `person${i}@example.com`,
          notes: null,
        });
      }
      batches.push(batch);
    }
    const ingestCpuStart = process.cpuUsage();
    const ingestStart = performance.now();
    for (const batch of batches) await store.insertWebsites(uploadId, batch);
    const ingestMs = performance.now() - ingestStart;
    const ingestCpu = process.cpuUsage(ingestCpuStart);
    await store.finishIngest(uploadId, { rows, accepted: rows, rejected: 0, rejections: [] });

    const cpuStart = process.cpuUsage();
    const lifecycleStart = performance.now();
    for (let done = 0; done < lifecycleRows; done += lifecycleBatchRows) {
      const jobs = await store.claimPending(uploadId, lifecycleBatchRows);
      await store.saveScrapes(
        jobs.map((j) => ({
          websiteId: j.websiteId,
          uploadId,
          finalUrl: j.url,
          httpStatus: 200,
          title: 'A title of a page',
          description: 'A meta description of about a hundred characters, as real pages tend to have them.',
          excerpt: 'x'.repeat(500),
          scrapeMs: 300,
        })),
      );
      await store.saveMessages(
        jobs.map((j) => ({
          websiteId: j.websiteId,
          uploadId,
          content: 'y'.repeat(600),
          model: 'sim-1',
          promptTokens: 300,
          completionTokens: 150,
          aiMs: 1_700,
        })),
      );
      await store.getUpload(uploadId);
    }
    const lifecycleMs = performance.now() - lifecycleStart;
    const cpu = process.cpuUsage(cpuStart);
    return {
      ingest: {
        rows,
        batchRows,
        durationMs: ingestMs,
        rowsPerSecond: (rows / ingestMs) * 1_000,
        cpuUsPerRow: (ingestCpu.user + ingestCpu.system) / rows,
      },
      lifecycle: {
        rows: lifecycleRows,
        batchRows: lifecycleBatchRows,
        durationMs: lifecycleMs,
        cpuUsPerRow: (cpu.user + cpu.system) / lifecycleRows,
      },
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await benchSqliteStore();
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
