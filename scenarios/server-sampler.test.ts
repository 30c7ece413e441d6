import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startPipeline } from '../pipeline/pipeline.js';
import { parsePrometheusText, startServerSampler } from './server-sampler.js';

describe('server sampler', () => {
  it('parses names, labels with escapes and values of the text format', () => {
    const lines = parsePrometheusText(
      [
        '# HELP x y',
        '# TYPE x counter',
        'process_cpu_seconds_total 12.5',
        'headroom_queue_jobs{queue="scraping",state="waiting"} 7',
        'odd{msg="a \\"quoted\\" value",k="v"} 1e3',
      ].join('\n'),
    );
    expect(lines).toEqual([
      { name: 'process_cpu_seconds_total', labels: {}, value: 12.5 },
      { name: 'headroom_queue_jobs', labels: { queue: 'scraping', state: 'waiting' }, value: 7 },
      { name: 'odd', labels: { msg: 'a "quoted" value', k: 'v' }, value: 1000 },
    ]);
  });

  it('samples CPU, heap, event loop and queues of a running pipeline every interval', async () => {
    const pipeline = await startPipeline({
      store: ':memory:',
      http: { port: 0 },
      logLevel: 'silent',
      workers: false,
    });
    onTestFinished(() => pipeline.close());
    const sampler = startServerSampler(`${pipeline.apiUrl}/metrics`, { intervalMs: 200 });
    await sleep(1_100);
    const samples = await sampler.stop();
    expect(samples.length).toBeGreaterThanOrEqual(3);
    const last = samples.at(-1)!;
    expect(last.heapUsedBytes).toBeGreaterThan(1_000_000);
    expect(last.rssBytes).toBeGreaterThan(last.heapUsedBytes!);
    expect(last.cpuPercent).not.toBeNull();
    expect(last.eventLoopUtilization).toBeGreaterThanOrEqual(0);
    expect(last.queueWaiting).toBe(0);
    expect(last.poolInUse).toBeNull(); // SQLite has no pool
    expect(samples.map((s) => s.tSec)).toEqual([...samples.map((s) => s.tSec)].sort((a, b) => a - b));
  });

  it('skips samples while the target does not answer', async () => {
    const sampler = startServerSampler('http://127.0.0.1:1/metrics', { intervalMs: 100 });
    await sleep(350);
    expect(await sampler.stop()).toEqual([]);
  });
});
