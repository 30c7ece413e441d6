import { describe, expect, it, onTestFinished } from 'vitest';
import type { DemoResult } from '../pipeline/demo.js';
import { freshPostgres, freshRedis } from '../pipeline/test-support/test-services.js';
import { renderDemo } from './commands/demo.js';
import { main } from './main.js';
import { capturedIo } from './test-support/captured-io.js';

/** Fast simulated world: the point is the command's output, not its speed. */
const FAST_SIM = ['--site-latency-ms', '10', '--llm-ttft-ms', '10', '--llm-tokens-per-second', '5000'];

describe('headroom CLI', () => {
  it('prints usage with --help and exits 0', async () => {
    const io = capturedIo();
    expect(await main(['--help'], io)).toBe(0);
    expect(io.out).toContain('demo --rows N');
  });

  it('exits 2 with the error code for an unknown command', async () => {
    const io = capturedIo();
    expect(await main(['teleport'], io)).toBe(2);
    expect(io.err).toContain('unknown command "teleport"');
    expect(io.err).toContain('HRM_USAGE_INVALID');
  });

  it('exits 2 naming the flag for a bad flag value', async () => {
    const io = capturedIo();
    expect(await main(['demo', '--rows', 'many'], io)).toBe(2);
    expect(io.err).toContain('--rows must be an integer');
  });

  it('exits 2 for an unknown flag', async () => {
    const io = capturedIo();
    expect(await main(['demo', '--rowz', '5'], io)).toBe(2);
    expect(io.err).toMatch(/rowz/);
  });

  it('exits 2 naming the field for a store URL it cannot use', async () => {
    const io = capturedIo();
    expect(await main(['demo', '--rows', '5', '--store', 'mysql://x'], io)).toBe(2);
    expect(io.err).toContain('HRM_CONFIG_INVALID');
  });

  it('runs the demo and prints one JSON object counted from the database', async () => {
    const io = capturedIo();
    expect(await main(['demo', '--rows', '300', '--json', ...FAST_SIM], io)).toBe(0);
    const result = JSON.parse(io.out);
    expect(result).toMatchObject({
      rows: 300,
      messages: 300,
      failed: 0,
      lost: 0,
      store: 'sqlite',
      queue: 'in-process',
    });
    expect(result.durationMs).toBeGreaterThan(0);
    expect(Object.keys(result.stages)).toEqual(['ingest', 'scrape', 'ai']);
  });

  it('calls the rows a time bound cut off unfinished, never lost, says how long the run needs, and exits 1', async () => {
    // Two LLM calls in flight at 2 s each: 200 rows need ~200 s; the bound stops the run at 8 s.
    const slowAi = ['--ai-concurrency', '2', '--llm-ttft-ms', '10', '--llm-tokens-per-second', '60'];
    const args = [
      'demo',
      '--rows',
      '200',
      '--json',
      '--timeout-s',
      '8',
      '--site-latency-ms',
      '10',
      ...slowAi,
    ];
    const io = capturedIo();
    expect(await main(args, io)).toBe(1);
    const result = JSON.parse(io.out) as DemoResult;
    expect(result).toMatchObject({
      rows: 200,
      accepted: 200,
      lost: 0,
      duplicated: 0,
      timedOut: true,
      timeoutMs: 8_000,
    });
    expect(result.unfinished).toBeGreaterThan(0);
    expect(result.messages + result.failed + result.unfinished + result.lost).toBe(200);
    // From the rate seen (~1 row/s), not from the time spent: far beyond the 8 s bound.
    expect(result.estimatedTotalMs).toBeGreaterThan(50_000);
    expect(result.estimatedTotalMs).toBeLessThan(1_000_000);
    const text = renderDemo(result);
    expect(text).toContain(`0 lost`);
    expect(text).toContain(
      `cut by its time bound of 8 s with ${result.unfinished} rows unfinished (still on their way, not lost)`,
    );
    expect(text).toMatch(
      /at the rate seen it would need about [\d,]+ s in all: rerun with --timeout-s [\d,]+/,
    );
  });

  it('gives the same JSON on PostgreSQL + BullMQ as on the embedded defaults', async () => {
    const pg = await freshPostgres();
    onTestFinished(pg.drop);
    const redis = await freshRedis();
    onTestFinished(redis.drop);
    const embedded = capturedIo();
    expect(await main(['demo', '--rows', '200', '--json', ...FAST_SIM], embedded)).toBe(0);
    const distributed = capturedIo();
    const args = ['demo', '--rows', '200', '--json', '--store', pg.url, '--queue', redis.url, ...FAST_SIM];
    expect(await main(args, distributed), distributed.err).toBe(0);
    const a = JSON.parse(embedded.out);
    const b = JSON.parse(distributed.out);
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    expect(b).toMatchObject({
      rows: 200,
      messages: 200,
      failed: 0,
      lost: 0,
      store: 'postgres',
      queue: 'bullmq',
    });
  });
});
