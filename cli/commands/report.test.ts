import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { writeRunResult } from '../../results/run-result.js';
import { runOpenModel } from '../../scenarios/open-model-engine.js';
import { answerOk, startTestHttpServer } from '../../scenarios/test-support/test-http-server.js';
import { main } from '../main.js';
import { capturedIo } from '../test-support/captured-io.js';

let dir: string;
let runFile: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'headroom-report-cli-'));
  const target = await startTestHttpServer((_req, res) => answerOk(res));
  try {
    const result = await runOpenModel({
      target: target.url,
      rateRps: 50,
      durationMs: 1_000,
      scenario: { name: 'auth', profile: 'quick' },
    });
    runFile = path.join(dir, 'run.json');
    await writeRunResult(runFile, result);
  } finally {
    await target.close();
  }
  return () => rm(dir, { recursive: true, force: true });
});

describe('headroom report', () => {
  it('writes the HTML report beside the result by default and exits 0', async () => {
    const io = capturedIo();
    expect(await main(['report', runFile], io)).toBe(0);
    const html = await readFile(path.join(dir, 'run.html'), 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<h1>headroom run: auth (quick)</h1>');
    expect(io.out).toMatch(/^wrote .*run\.html \(\d+ KB\)\n$/);
  });

  it('writes to --out and checks the thresholds of --scenario against the result', async () => {
    const io = capturedIo();
    const out = path.join(dir, 'nested', 'auth.html');
    expect(await main(['report', runFile, '--out', out, '--scenario', 'auth'], io)).toBe(0);
    expect(io.out).toMatch(/thresholds: \d+ passed, \d+ failed/);
    expect(await readFile(out, 'utf8')).toContain('<caption>Thresholds</caption>');
  });

  it('serves a saved run as the live page would have shown it, every second and the end, then stops', async () => {
    const io = capturedIo();
    const serving = main(
      [
        'report',
        runFile,
        '--out',
        path.join(dir, 'served.html'),
        '--scenario',
        'auth',
        '--serve',
        '--serve-for',
        '3',
      ],
      io,
    );
    for (let i = 0; i < 100 && !/serving http/.test(io.out); i++) await new Promise((r) => setTimeout(r, 50));
    const url = /serving (http:\/\/127\.0\.0\.1:\d+\/) for 3 s/.exec(io.out)?.[1];
    expect(url, io.out).toBeDefined();
    const [page, report] = await Promise.all([
      fetch(url!).then((r) => r.text()),
      fetch(`${url}report`).then((r) => r.text()),
    ]);
    expect(page).toContain('<title>headroom run auth (saved) — live</title>');
    expect(report).toContain('<h1>headroom run: auth (quick)</h1>');
    // The stream ends when the serving does: every event a page would replay, in order.
    const events = (await fetch(`${url}events`).then((r) => r.text()))
      .split('\n\n')
      .filter((f) => f.startsWith('id: '))
      .map((f) => JSON.parse(f.split('\ndata: ')[1]!) as { type: string });
    const saved = JSON.parse(await readFile(runFile, 'utf8'));
    expect(events.filter((e) => e.type === 'second')).toHaveLength(saved.timeSeries.length);
    expect(events.at(-1)).toMatchObject({ type: 'end', report: true });
    expect(await serving).toBe(0);
  });

  it('exits 2 naming the file when it is not a run result', async () => {
    const bad = path.join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ kind: 'headroom.run-result', version: 1, steps: 'none' }));
    onTestFinished(() => rm(bad));
    const io = capturedIo();
    expect(await main(['report', bad], io)).toBe(2);
    expect(io.err).toContain(`${bad} is not a valid run result`);
    expect(io.err).toContain('HRM_RESULT_INVALID');
  });

  it('exits 2 naming the file when it cannot be read', async () => {
    const io = capturedIo();
    const missing = path.join(dir, 'missing.json');
    expect(await main(['report', missing], io)).toBe(2);
    expect(io.err).toContain(`${missing} is not a usable run result: it cannot be read (ENOENT)`);
  });

  it('exits 2 without a result file', async () => {
    const io = capturedIo();
    expect(await main(['report'], io)).toBe(2);
    expect(io.err).toContain('headroom report <run.json>');
  });
});
