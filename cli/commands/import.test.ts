import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it, onTestFinished } from 'vitest';
import { readRunResult } from '../../results/run-result.js';
import { main } from '../main.js';
import { capturedIo } from '../test-support/captured-io.js';

const fixture = (p: string) =>
  fileURLToPath(new URL(`../../scenarios/interop/fixtures/${p}`, import.meta.url));

it('writes an imported k6 run as a run result that reads back', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-import-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'run.json');
  const io = capturedIo();
  const code = await main(
    ['import', 'k6', fixture('k6/api-stress.ndjson'), '--out', out, '--scenario', 'api-stress'],
    io,
  );
  expect(io.err).toBe('');
  expect(code).toBe(0);
  const result = readRunResult(readFileSync(out, 'utf8'), out);
  expect(result.engine).toBe('k6');
  expect(result.scenario.name).toBe('api-stress');
  expect(result.host.cpuModel).toBe('unknown (imported)');
  expect(io.out).toMatch(/login\s+147\s/);
});

it('records this host with --measured-here', async () => {
  const io = capturedIo();
  expect(
    await main(
      ['import', 'autocannon', fixture('autocannon/health-c10-d3.json'), '--measured-here', '--json'],
      io,
    ),
  ).toBe(0);
  expect(JSON.parse(io.out).host.cpuModel).not.toBe('unknown (imported)');
});

it("exits 2 naming the file when it is not the named tool's output", async () => {
  const io = capturedIo();
  expect(await main(['import', 'autocannon', fixture('k6/api-stress-summary.json')], io)).toBe(2);
  expect(io.err).toContain('api-stress-summary.json cannot be imported');
  expect(io.err).toContain('HRM_IMPORT_INVALID');
});

it('exits 2 for an unknown tool', async () => {
  const io = capturedIo();
  expect(await main(['import', 'jmeter', 'x.jtl'], io)).toBe(2);
  expect(io.err).toContain('headroom import k6|artillery|locust|autocannon');
});

it('imports Artillery and Locust results through the same command', async () => {
  const artillery = capturedIo();
  expect(
    await main(['import', 'artillery', fixture('artillery/api-stress-quick.json'), '--json'], artillery),
  ).toBe(0);
  expect(JSON.parse(artillery.out).engine).toBe('artillery');
  const locust = capturedIo();
  expect(await main(['import', 'locust', fixture('locust/api-stress-quick'), '--json'], locust)).toBe(0);
  const result = JSON.parse(locust.out);
  expect(result.engine).toBe('locust');
  expect(result.scenario.name).toBe('api-stress-quick');
});

it('feeds the history with --record: an imported k6 run becomes a series of its own scenario', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-import-history-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  const store = `sqlite:${path.join(dir, 'history.db')}`;
  const io = capturedIo();
  expect(
    await main(
      [
        'import',
        'k6',
        fixture('k6/api-stress.ndjson'),
        '--scenario',
        'k6-api',
        '--record',
        '--history-store',
        store,
      ],
      io,
    ),
  ).toBe(0);
  expect(io.err).toMatch(
    /^recorded k6-api in the history as #1 \(commit [0-9a-f]{10}, host host-[0-9a-f]+\)\n$/,
  );
  const show = capturedIo();
  expect(await main(['history', 'show', 'k6-api', '--store', store, '--json'], show)).toBe(0);
  const metrics = (JSON.parse(show.out) as Array<{ metric: string }>).map((m) => m.metric);
  expect(metrics).toContain('latency:login.p50');
});
