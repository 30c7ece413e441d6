import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SampleInvalidError } from '../errors.js';
import type { PipelineSample } from './pipeline-sample.js';
import { readPipelineSample, readPipelineSampleFile, writePipelineSample } from './pipeline-sample-file.js';

function sample(): PipelineSample {
  return {
    kind: 'headroom.pipeline-sample',
    version: 1,
    createdAt: '2026-11-23T07:00:00.000Z',
    host: { cpuModel: 'Test CPU', cores: 2, memoryBytes: 8 * 2 ** 30, os: 'Linux 6 x64', node: 'v20.20.2' },
    world: { colocatedSimulators: true, siteLatencyMedianMs: 300, llmTtftMs: 200, llmRpm: 6000 },
    baseRssBytes: 150e6,
    stages: [
      {
        stage: 'scrape',
        points: [
          {
            concurrency: 50,
            meanInFlight: 49.5,
            throughputRps: 140.2,
            items: 420,
            windowS: 3,
            cpuSecondsPerItem: 0.0009,
            externalCpuSecondsPerItem: 0.0004,
            rssBytes: 220e6,
            externalLatencyMs: { p50: 330, p95: 880, mean: 352 },
            failedItems: 0,
          },
        ],
      },
    ],
    combined: {
      concurrency: { ingest: 1, scrape: 1500, ai: 4000, write: 5500 },
      throughputRps: 1500,
      fillS: 2.4,
      windowS: 8,
      cpuSecondsPerRow: 0.0005,
      externalCpuSecondsPerRow: 0.00015,
      rssBytes: 480e6,
      uploadRows: 40_000,
      items: 12_000,
    },
    durationMs: 85_000,
    hostLoad: { loadAverage1mStart: 1.2, loadAverage1mEnd: 2.1 },
  };
}

async function tempFile(name: string): Promise<string> {
  return path.join(await mkdtemp(path.join(os.tmpdir(), 'headroom-sample-')), name);
}

function problemOf(run: () => unknown): SampleInvalidError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(SampleInvalidError);
    return err as SampleInvalidError;
  }
  throw new Error('expected the sample to be refused');
}

describe('pipeline sample files', () => {
  it('reads back exactly what was written', async () => {
    const file = await tempFile('sample.json');
    await writePipelineSample(file, sample());
    expect(await readPipelineSampleFile(file)).toEqual(sample());
  });

  it('writes through a temporary file, leaving only the sample in the folder', async () => {
    const file = await tempFile('sample.json');
    await writePipelineSample(file, sample());
    expect(await readdir(path.dirname(file))).toEqual(['sample.json']);
  });

  it('names the file when its content is not JSON', async () => {
    const file = await tempFile('broken.json');
    await writeFile(file, '{"kind": "headroom.pipeline-sample", "version": 1, "stages": [');
    const err = await readPipelineSampleFile(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SampleInvalidError);
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toContain('not JSON');
  });

  it('names the file and the field of a corrupt figure', async () => {
    const file = await tempFile('corrupt.json');
    const data = JSON.parse(JSON.stringify(sample()));
    data.stages[0].points[0].throughputRps = 'fast';
    await writeFile(file, JSON.stringify(data));
    const err = await readPipelineSampleFile(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SampleInvalidError);
    expect((err as Error).message).toContain(file);
    expect((err as SampleInvalidError).problems).toEqual([
      '/stages/0/points/0/throughputRps: must be number (got "fast")',
    ]);
  });

  it('refuses a file of another kind, saying what it is', () => {
    const err = problemOf(() => readPipelineSample('{"kind":"headroom.run-result","version":1}', 'run.json'));
    expect(err.message).toMatch(/run\.json.*not a headroom pipeline sample/);
  });

  it('refuses a newer version, asking for an upgrade', () => {
    const text = JSON.stringify({ ...sample(), version: 3 });
    expect(problemOf(() => readPipelineSample(text, 'next.json')).message).toMatch(
      /version 3, newer .* upgrade/,
    );
  });

  it('reads a version 1 file (no configured concurrency, no tokens) and a version 2 file with them', () => {
    expect(readPipelineSample(JSON.stringify(sample()), 'v1.json').version).toBe(1);
    const v2 = {
      ...sample(),
      version: 2,
      configured: { ingest: 1, scrape: 1500, ai: 4000, write: 5500 },
      combined: { ...sample().combined!, tokens: { prompt: 290, completion: 120, messages: 9000 } },
    };
    expect(readPipelineSample(JSON.stringify(v2), 'v2.json').combined?.tokens?.prompt).toBe(290);
  });

  it('names a missing field', () => {
    const { stages: _stages, ...rest } = sample();
    const err = problemOf(() => readPipelineSample(JSON.stringify(rest), 's.json'));
    expect(err.problems).toContain('(top level): missing field "stages"');
  });

  it('refuses to write an invalid sample, leaving no file behind', async () => {
    const file = await tempFile('bad.json');
    const bad = { ...sample(), baseRssBytes: -1 };
    await expect(writePipelineSample(file, bad)).rejects.toBeInstanceOf(SampleInvalidError);
    await expect(readFile(file)).rejects.toThrow(/ENOENT/);
  });
});
