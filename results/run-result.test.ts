import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ResultInvalidError } from '../errors.js';
import { ExitCode } from '../exit-code.js';
import { describeHost } from './host-description.js';
import { LatencyHistogram } from './latency-histogram.js';
import { checkRunResult, type RunResult, readRunResult, writeRunResult } from './run-result.js';

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-run-result-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function histogramOf(valuesMs: number[]): string {
  const histogram = LatencyHistogram.create();
  for (const v of valuesMs) histogram.recordUs(v * 1_000);
  return histogram.encode();
}

function sampleResult(): RunResult {
  return {
    kind: 'headroom.run-result',
    version: 1,
    createdAt: '2025-01-02T03:04:05.678Z',
    host: describeHost(),
    scenario: { name: 'auth', profile: 'quick', configHash: 'sha256:0123456789abcdef' },
    target: 'http://127.0.0.1:3000',
    engine: 'open-model',
    durationMs: 10_000,
    steps: [
      {
        name: 'login',
        requests: 2_000,
        errors: { http_5xx: 3, timeout: 1 },
        latencyHistogram: histogramOf([20, 20, 21, 520, 920]),
        serviceHistogram: histogramOf([20, 20, 21, 22, 23]),
      },
    ],
    timeSeries: [{ tSec: 0, requests: 200, errors: 0, p95Ms: 21.5, inFlight: 4 }],
    schedule: {
      intended: 2_000,
      sent: 2_000,
      dropped: 0,
      meanLagMs: 0.2,
      maxLagMs: 3,
      requestedRps: 200,
      achievedRps: 199.99,
      scheduleError: 0.00005,
    },
    serverSamples: [],
  };
}

function problemOf(fn: () => unknown): ResultInvalidError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ResultInvalidError) return err;
    throw err;
  }
  throw new Error('expected a ResultInvalidError');
}

describe('run result files', () => {
  it('reads back exactly what was written', async () => {
    const file = path.join(await tempDir(), 'nested', 'run.json');
    const result = sampleResult();
    await writeRunResult(file, result);
    expect(readRunResult(await readFile(file, 'utf8'), file)).toEqual(result);
  });

  it('keeps the latency percentiles through the file', async () => {
    const file = path.join(await tempDir(), 'run.json');
    await writeRunResult(file, sampleResult());
    const step = readRunResult(await readFile(file, 'utf8'), file).steps[0]!;
    const latency = LatencyHistogram.decode(step.latencyHistogram);
    expect([40, 60, 80, 100].map((p) => Math.round(latency.percentileMs(p)))).toEqual([20, 21, 520, 920]);
  });

  it('leaves no temporary file beside the result', async () => {
    const dir = await tempDir();
    await writeRunResult(path.join(dir, 'run.json'), sampleResult());
    await writeRunResult(path.join(dir, 'run.json'), sampleResult());
    expect(await readdir(dir)).toEqual(['run.json']);
  });

  it('refuses to write an invalid result, naming the file', async () => {
    const file = path.join(await tempDir(), 'run.json');
    const result = { ...sampleResult(), durationMs: -1 };
    await expect(writeRunResult(file, result)).rejects.toThrow(`${file} is not a usable run result`);
    await expect(readdir(path.dirname(file))).resolves.toEqual([]);
  });

  it("says a nullable field's mistake once: the null branch adds nothing to the number branch", () => {
    const wrongType = {
      ...sampleResult(),
      timeSeries: [{ tSec: 0, requests: 1, errors: 0, p95Ms: 'slow', inFlight: 1 }],
    };
    expect(problemOf(() => checkRunResult(wrongType, 'runs/d.json')).problems).toEqual([
      '/timeSeries/0/p95Ms: must be number or null (got "slow")',
    ]);
    const negative = {
      ...sampleResult(),
      timeSeries: [{ tSec: 0, requests: 1, errors: 0, p95Ms: -2, inFlight: 1 }],
    };
    expect(problemOf(() => checkRunResult(negative, 'runs/d.json')).problems).toEqual([
      '/timeSeries/0/p95Ms: must be >= 0 (got -2)',
    ]);
  });

  it('names the file when it is not JSON', () => {
    const err = problemOf(() => readRunResult('{"kind": "headroom.run-result", ', 'runs/a.json'));
    expect(err.message).toMatch(/^runs\/a\.json is not a usable run result: it is not JSON/);
    expect(err.code).toBe('HRM_RESULT_INVALID');
    expect(err.exitCode).toBe(ExitCode.InputError);
    expect(err.file).toBe('runs/a.json');
  });

  it('names the file and the kind when it is another kind of file', () => {
    const text = JSON.stringify({ ...sampleResult(), kind: 'headroom.baseline' });
    expect(() => readRunResult(text, 'runs/b.json')).toThrow(
      'runs/b.json is not a usable run result: it is not a headroom run result (kind is "headroom.baseline"',
    );
  });

  it('asks for an upgrade when the file is a newer version', () => {
    const text = JSON.stringify({ ...sampleResult(), version: 2 });
    expect(() => readRunResult(text, 'runs/c.json')).toThrow(
      'runs/c.json is not a usable run result: it is version 2, newer than this headroom reads (1); upgrade headroom',
    );
  });

  it('lists each invalid field with the file name', () => {
    const bad = sampleResult() as unknown as Record<string, unknown>;
    bad.engine = 'jmeter';
    bad.extra = true;
    (bad.steps as Array<Record<string, unknown>>)[0]!.requests = -5;
    const err = problemOf(() => readRunResult(JSON.stringify(bad), 'runs/d.json'));
    expect(err.message).toMatch(/^runs\/d\.json is not a valid run result:/);
    expect(err.problems).toEqual(
      expect.arrayContaining([
        '/engine: must be one of open-model, closed-model, autocannon, k6, artillery, locust, wrk, pipeline-sampler (got "jmeter")',
        '(top level): unknown field "extra"',
        '/steps/0/requests: must be >= 0 (got -5)',
      ]),
    );
  });

  it('keeps scenario metrics and checks their histograms', async () => {
    const file = path.join(await tempDir(), 'run.json');
    const result = {
      ...sampleResult(),
      metrics: { queue_wait: { histogram: histogramOf([3, 5]) }, pool_efficiency: { value: 0.93 } },
    };
    await writeRunResult(file, result);
    expect(readRunResult(await readFile(file, 'utf8'), file).metrics).toEqual(result.metrics);
    const bad = { ...result, metrics: { queue_wait: { histogram: 'AAAA' } } };
    expect(() => readRunResult(JSON.stringify(bad), 'runs/f.json')).toThrow(
      /\/metrics\/queue_wait\/histogram/,
    );
  });

  it('refuses a histogram that does not decode', () => {
    const bad = sampleResult();
    bad.steps[0]!.latencyHistogram = 'AAAA';
    const err = problemOf(() => readRunResult(JSON.stringify(bad), 'runs/e.json'));
    expect(err.problems[0]).toMatch(/^\/steps\/0\/latencyHistogram: not an encoded histogram/);
  });
});
