import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { StagePoint } from '../../analyzer/pipeline-sample.js';
import { twoStageSample } from '../../analyzer/test-support/two-stage-sample.js';
import { main } from '../main.js';
import { capturedIo } from '../test-support/captured-io.js';

const seed = fileURLToPath(new URL('../../examples/declared/seed-server-report.json', import.meta.url));
const ioBound = fileURLToPath(new URL('../../examples/declared/seed-server-io-bound.json', import.meta.url));
const tempDir = () => mkdtemp(path.join(tmpdir(), 'headroom-capacity-'));

describe('headroom capacity', () => {
  it("prints the seed report's corrected forecast from its declared figures", async () => {
    const io = capturedIo();
    expect(await main(['capacity', '--declared', seed], io)).toBe(0);
    expect(io.out).toContain('500,000 rows → 4.34 days (104.2 h)');
    expect(io.out).toContain('bottleneck   stage ai (declared-rate)');
    expect(io.out).toContain("adding the stages' times up would say 5.71 days");
  });

  it('prints one versioned JSON report with --json', async () => {
    const io = capturedIo();
    expect(await main(['capacity', '--declared', ioBound, '--rows', '1000000', '--json'], io)).toBe(0);
    const report = JSON.parse(io.out);
    expect(report).toMatchObject({ kind: 'headroom.capacity-report', version: 1, mode: 'declared' });
    // 1,000,000 rows ÷ 16 rows/s = 62,500 s (the fill is inside it: the slots are shared).
    expect(report.forecast.totalS).toBeCloseTo(62_500, 6);
    expect(report.forecast.bottleneck.kind).toBe('slots');
  });

  it('records the forecast in the history with --record, stdout still one JSON object', async () => {
    const dir = await tempDir();
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const store = `sqlite:${path.join(dir, 'history.db')}`;
    const io = capturedIo();
    const args = [
      'capacity',
      '--declared',
      ioBound,
      '--rows',
      '1000000',
      '--json',
      '--record',
      '--history-store',
      store,
    ];
    expect(await main(args, io)).toBe(0);
    expect(JSON.parse(io.out).forecast.totalS).toBeCloseTo(62_500, 6);
    expect(io.err).toMatch(/^recorded capacity in the history as #1 \(commit [0-9a-f]{10}, host host-/);
    const show = capturedIo();
    expect(
      await main(['history', 'show', 'capacity', 'capacity.total_s', '--store', store, '--json'], show),
    ).toBe(0);
    const [series] = JSON.parse(show.out);
    expect(series.points.map((p: { value: number }) => p.value)).toEqual([62_500]);
  });

  it('writes report.json, report.md and report.html to --out', async () => {
    const dir = await tempDir();
    const io = capturedIo();
    expect(
      await main(['capacity', '--declared', ioBound, '--host-profile', 'i5-8500', '--out', dir], io),
    ).toBe(0);
    const json = JSON.parse(await readFile(path.join(dir, 'report.json'), 'utf8'));
    expect(json.projection.name).toBe('i5-8500');
    const markdown = await readFile(path.join(dir, 'report.md'), 'utf8');
    expect(markdown).toContain('# Capacity: 500,000 rows in 8.68 h');
    expect(markdown).toContain('## Projected onto i5-8500');
    const html = await readFile(path.join(dir, 'report.html'), 'utf8');
    expect(html).toContain('<title>Capacity: 500,000 rows in 8.68 h</title>');
  });

  it('lets --llm-rpm model a provider tier that becomes the bottleneck', async () => {
    // 600 requests/min = 10 rows/s, below the 16 rows/s of the slots.
    const io = capturedIo();
    expect(await main(['capacity', '--declared', ioBound, '--llm-rpm', '600', '--json'], io)).toBe(0);
    const report = JSON.parse(io.out);
    expect(report.forecast.bottleneck.kind).toBe('llm-rpm');
    expect(report.forecast.bottleneck.rateRps).toBeCloseTo(10, 12);
    // The sliding minute: 500,000 rows need ⌈500,000 ÷ 600⌉ − 1 = 833 whole minutes, then the last
    // 200 rows pass at the slots' 16 rows/s: 49,980 + 12.5 = 49,992.5 s, 10.0015 rows/s on average.
    expect(report.forecast.rateRps).toBeCloseTo(500_000 / 49_992.5, 9);
    expect(report.target.llm.sufficient).toBe(false);
  });

  it('reads the LLM limit from --sim-config, with the flags laid over the file', async () => {
    const dir = await tempDir();
    const config = path.join(dir, 'sim.json');
    await writeFile(config, JSON.stringify({ llmRpm: 600 }));
    const io = capturedIo();
    expect(await main(['capacity', '--declared', ioBound, '--sim-config', config, '--json'], io)).toBe(0);
    expect(JSON.parse(io.out).forecast.bottleneck).toMatchObject({ kind: 'llm-rpm', rateRps: 10 });
    const over = capturedIo();
    expect(
      await main(
        ['capacity', '--declared', ioBound, '--sim-config', config, '--llm-rpm', '300', '--json'],
        over,
      ),
    ).toBe(0);
    expect(JSON.parse(over.out).forecast.bottleneck).toMatchObject({ kind: 'llm-rpm', rateRps: 5 });
  });

  it('exits 2 naming the field of a bad declared file', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'bad.json');
    const data = JSON.parse(await readFile(seed, 'utf8'));
    data.workers.processes = 'four';
    await writeFile(file, JSON.stringify(data));
    const io = capturedIo();
    expect(await main(['capacity', '--declared', file], io)).toBe(2);
    expect(io.err).toContain('/workers/processes: must be integer (got "four")');
    expect(io.err).toContain('HRM_DECLARED_CAPACITY_INVALID');
  });

  it('exits 2 naming the field of a bad host profile', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'host.json');
    await writeFile(file, JSON.stringify({ kind: 'headroom.host-profile', version: 1, name: 'x', cores: 6 }));
    const io = capturedIo();
    expect(await main(['capacity', '--declared', seed, '--host-profile', file], io)).toBe(2);
    expect(io.err).toContain('missing field "memoryBytes"');
    expect(io.err).toContain('HRM_HOST_PROFILE_INVALID');
  });

  it('exits 2 when measurement flags come with a declared file', async () => {
    const io = capturedIo();
    expect(await main(['capacity', '--declared', seed, '--processes', '8'], io)).toBe(2);
    expect(io.err).toContain('with --declared, set workers and stages in the file');
  });

  it('exits 2 for --dashboard without a measurement, before serving anything', async () => {
    const io = capturedIo();
    expect(await main(['capacity', '--declared', seed, '--dashboard'], io)).toBe(2);
    expect(io.err).toContain('--dashboard shows a measurement: leave out --declared and --sample');
    expect(io.err).not.toContain('dashboard: http');
  });

  it('exits 2 for a target rate it cannot read', async () => {
    const io = capturedIo();
    expect(await main(['capacity', '--declared', seed, '--target-rate', 'lots'], io)).toBe(2);
    expect(io.err).toContain('--target-rate must be a rate such as 1000/min');
  });

  it('computes a report from a saved sample without measuring', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'sample.json');
    const sample = twoStageSample();
    await writeFile(file, JSON.stringify(sample));
    const io = capturedIo();
    expect(await main(['capacity', '--sample', file, '--rows', '100000', '--json'], io)).toBe(0);
    const report = JSON.parse(io.out);
    // Largest measured concurrency by default: ai 800 ÷ 2 s = 400 rows/s; scrape 200 ÷ 0.3 = 667;
    // CPU 2 × 0.9 ÷ (0.6 + 0.2) ms = 2,250; one process 1 ÷ 0.6 ms = 1,667.
    expect(report.forecast.bottleneck.stage).toBe('ai');
    expect(report.forecast.rateRps).toBeCloseTo(400, 6);
  });

  it('samples the reference pipeline, writes the sample, and recomputes the same forecast from it', async () => {
    // A small, fast simulated world: the point is the path from measuring to the report, not speed.
    const dir = await tempDir();
    const fast = ['--site-latency-ms', '20', '--llm-ttft-ms', '20', '--llm-tokens-per-second', '5000'];
    const measuring = ['--sample-seconds', '20', '--scraping-concurrency', '50', '--ai-concurrency', '100'];
    const io = capturedIo();
    expect(
      await main(['capacity', '--rows', '20000', ...measuring, ...fast, '--json', '--out', dir], io),
    ).toBe(0);
    const measured = JSON.parse(io.out);
    expect(measured.mode).toBe('measured');
    // Which stages fit in a 20 s budget depends on the machine's load; the sample says which did.
    // A stage whose levels gave way is read from the combined window, and a note says so.
    const sample = JSON.parse(await readFile(path.join(dir, 'sample.json'), 'utf8'));
    const alone: string[] = sample.stages.map((st: { stage: string }) => st.stage);
    const reported: string[] = measured.stages.map((st: { stage: string }) => st.stage);
    for (const stage of alone) expect(reported).toContain(stage);
    for (const stage of reported.filter((st) => !alone.includes(st)))
      expect(measured.notes.join('\n')).toContain(`${stage}: no window of its own`);
    const again = capturedIo();
    const saved = path.join(dir, 'sample.json');
    expect(await main(['capacity', '--rows', '20000', '--sample', saved, '--json'], again)).toBe(0);
    expect(JSON.parse(again.out).forecast.totalS).toBeCloseTo(measured.forecast.totalS, 9);
  });

  it('exits 2 for a sample file of another kind', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'sample.json');
    await writeFile(file, JSON.stringify({ kind: 'headroom.run-result', version: 1, stages: [] }));
    const io = capturedIo();
    expect(await main(['capacity', '--sample', file, '--rows', '10'], io)).toBe(2);
    expect(io.err).toContain('HRM_SAMPLE_INVALID');
    expect(io.err).toContain('expected "headroom.pipeline-sample"');
  });

  it('exits 2 naming the file and the field of a sample that breaks its schema', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'sample.json');
    const sample = twoStageSample();
    delete (sample.stages[0]!.points[0] as Partial<StagePoint>).items;
    await writeFile(file, JSON.stringify(sample));
    const io = capturedIo();
    expect(await main(['capacity', '--sample', file, '--rows', '10'], io)).toBe(2);
    expect(io.err).toContain('HRM_SAMPLE_INVALID');
    expect(io.err).toContain(file);
    expect(io.err).toContain('/stages/0/points/0: missing field "items"');
  });

  it('exits 2 as unusable for a valid sample whose stage finished no rows', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'sample.json');
    const sample = twoStageSample();
    sample.stages[1]!.points = sample.stages[1]!.points.map((p) => ({ ...p, items: 0, throughputRps: 0 }));
    await writeFile(file, JSON.stringify(sample));
    const io = capturedIo();
    expect(await main(['capacity', '--sample', file, '--rows', '10'], io)).toBe(2);
    expect(io.err).toContain('HRM_SAMPLE_UNUSABLE');
    expect(io.err).toContain('/stages/1 (ai): no point finished any rows');
  });

  it("projects onto the project file's host profile when no flag names one", async () => {
    const dir = await tempDir();
    await writeFile(
      path.join(dir, 'headroom.config.json'),
      JSON.stringify({
        service: { start: 'x', ready: '/health' },
        suite: ['api-stress'],
        hostProfile: 'i5-8500',
      }),
    );
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const io = capturedIo();
      expect(await main(['capacity', '--declared', ioBound, '--json'], io)).toBe(0);
      expect(JSON.parse(io.out).projection).toMatchObject({ cores: 6 });
    } finally {
      process.chdir(cwd);
    }
    const none = capturedIo();
    expect(await main(['capacity', '--declared', ioBound, '--json'], none)).toBe(0);
    expect(JSON.parse(none.out).projection).toBeNull();
  });

  it('beside a project file without telemetry, refuses to sample the reference pipeline in its place', async () => {
    const dir = await tempDir();
    const config = path.join(dir, 'headroom.config.json');
    await writeFile(
      config,
      JSON.stringify({ service: { start: 'x', ready: '/health' }, suite: ['api-stress'] }),
    );
    const io = capturedIo();
    expect(await main(['capacity', '--config', config, '--rows', '1000'], io)).toBe(2);
    expect(io.err).toContain(`${config} describes your service: capacity reads its pipeline from Prometheus`);
    expect(io.err).toContain('"telemetry"');
    const both = capturedIo();
    expect(await main(['capacity', '--reference', '--config', config, '--rows', '10'], both)).toBe(2);
    expect(both.err).toContain('--reference samples the reference pipeline');
    const orphan = capturedIo();
    expect(await main(['capacity', '--declared', ioBound, '--preset', 'celery'], orphan)).toBe(2);
    expect(orphan.err).toContain('--preset, --mapping and --window read Prometheus: add --prometheus URL');
    // A named source still works beside it: the file's rates, the file's host profile.
    const declared = capturedIo();
    expect(await main(['capacity', '--config', config, '--declared', ioBound, '--json'], declared)).toBe(0);
  });
});
