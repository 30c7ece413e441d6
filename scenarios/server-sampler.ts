import { request } from 'undici';
import type { ServerSample } from '../results/server-sample.js';

/** One metric line of the Prometheus text format: name, labels, value. */
interface MetricLine {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Parses the Prometheus text exposition format (comments skipped, labels with escaped quotes).
 * Only what the sampler reads; not a general parser of every exposition detail (no timestamps).
 */
export function parsePrometheusText(text: string): MetricLine[] {
  const lines: MetricLine[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const space = line.lastIndexOf(' ');
    if (space < 0) continue;
    const value = Number(line.slice(space + 1));
    if (brace < 0 || brace > space) {
      lines.push({ name: line.slice(0, space).trim(), labels: {}, value });
      continue;
    }
    const close = line.lastIndexOf('}');
    const labels: Record<string, string> = {};
    for (const m of line.slice(brace + 1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    lines.push({ name: line.slice(0, brace), labels, value });
  }
  return lines;
}

function sum(
  lines: MetricLine[],
  name: string,
  where?: (l: Record<string, string>) => boolean,
): number | null {
  let total: number | null = null;
  for (const l of lines) if (l.name === name && (!where || where(l.labels))) total = (total ?? 0) + l.value;
  return total;
}

/**
 * Scrapes a target's /metrics every `intervalMs` while a scenario runs. A failed scrape is skipped,
 * not fatal: the load run matters more than one missing sample.
 */
export function startServerSampler(
  metricsUrl: string,
  opts: { intervalMs?: number; signal?: AbortSignal; onSample?: (sample: ServerSample) => void } = {},
): { stop(): Promise<ServerSample[]> } {
  const intervalMs = opts.intervalMs ?? 1_000;
  const samples: ServerSample[] = [];
  const startMs = performance.now();
  let previousCpu: { seconds: number; atMs: number } | undefined;
  let running = true;
  const scrape = async (): Promise<void> => {
    let text: string;
    try {
      const res = await request(metricsUrl, { headersTimeout: intervalMs * 2, bodyTimeout: intervalMs * 2 });
      text = await res.body.text();
      if (res.statusCode !== 200) return;
    } catch {
      return;
    }
    const atMs = performance.now();
    const lines = parsePrometheusText(text);
    const cpuSeconds = sum(lines, 'process_cpu_seconds_total');
    let cpuPercent: number | null = null;
    if (cpuSeconds !== null && previousCpu) {
      cpuPercent = ((cpuSeconds - previousCpu.seconds) / ((atMs - previousCpu.atMs) / 1000)) * 100;
    }
    if (cpuSeconds !== null) previousCpu = { seconds: cpuSeconds, atMs };
    const poolTotal = sum(lines, 'headroom_db_pool_connections', (l) => l.state === 'total');
    const poolIdle = sum(lines, 'headroom_db_pool_connections', (l) => l.state === 'idle');
    const sample: ServerSample = {
      tSec: Math.round((atMs - startMs) / 100) / 10,
      cpuPercent,
      heapUsedBytes: sum(lines, 'nodejs_heap_size_used_bytes'),
      rssBytes: sum(lines, 'process_resident_memory_bytes'),
      eventLoopUtilization: sum(lines, 'headroom_event_loop_utilization_ratio'),
      queueWaiting: sum(lines, 'headroom_queue_jobs', (l) => l.state === 'waiting'),
      queueActive: sum(lines, 'headroom_queue_jobs', (l) => l.state === 'active'),
      poolInUse: poolTotal === null || poolIdle === null ? null : poolTotal - poolIdle,
      poolWaiting: sum(lines, 'headroom_db_pool_connections', (l) => l.state === 'waiting'),
    };
    samples.push(sample);
    opts.onSample?.(sample);
  };
  const loop = (async () => {
    while (running && !opts.signal?.aborted) {
      const next = performance.now() + intervalMs;
      await scrape();
      const waitMs = next - performance.now();
      if (waitMs > 0 && running) await new Promise((r) => setTimeout(r, waitMs));
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
