import { request } from 'undici';
import { fitLinearTrend, type LinearTrend } from '../analyzer/linear-trend.js';
import type { HeapSample, HeapTrend } from '../results/heap-trend.js';

const MB = 1024 * 1024;

/**
 * Reads the target's heap after a full GC (GET /admin/heap, `--admin`) every `everyMs`: the
 * figure that moves only when memory is retained, where heap-before-GC mostly tracks when the
 * collector last ran.
 */
export function startHeapSampler(apiUrl: string, everyMs: number): { stop(): Promise<HeapSample[]> } {
  const samples: HeapSample[] = [];
  const startMs = performance.now();
  let running = true;
  const loop = (async () => {
    while (running) {
      const next = performance.now() + everyMs;
      try {
        const res = await request(`${apiUrl}/admin/heap`, { headersTimeout: 30_000, bodyTimeout: 30_000 });
        const body = (await res.body.json()) as { heapUsedBytes?: number; rssBytes?: number };
        if (res.statusCode === 200 && typeof body.heapUsedBytes === 'number') {
          samples.push({
            tSec: (performance.now() - startMs) / 1000,
            heapUsedBytes: body.heapUsedBytes,
            rssBytes: body.rssBytes ?? 0,
          });
        }
      } catch {
        // A missed sample only widens the interval.
      }
      const waitMs = next - performance.now();
      if (running && waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return samples;
    },
  };
}

/** Fits the heap after warm-up; a leak when the slope's whole interval is above `maxSlopeMbPerHour`. */
export function heapTrend(samples: HeapSample[], warmupS: number, maxSlopeMbPerHour: number): HeapTrend {
  const after = samples.filter((s) => s.tSec >= warmupS);
  if (after.length < 3) {
    throw new Error(
      `only ${after.length} heap samples after the ${warmupS} s warm-up: run longer or sample more often (leak.sampleEveryS)`,
    );
  }
  const fit: LinearTrend = fitLinearTrend(
    after.map((s) => s.tSec / 3600),
    after.map((s) => s.heapUsedBytes / MB),
  );
  return {
    samples,
    warmupS,
    fitted: after.length,
    slopeMbPerHour: fit.slope,
    slopeLowMbPerHour: fit.slopeLow,
    slopeHighMbPerHour: fit.slopeHigh,
    rSquared: fit.rSquared,
    interceptMb: fit.intercept,
    maxSlopeMbPerHour,
    leak: fit.slopeLow > maxSlopeMbPerHour,
  };
}
