import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  BaselineCorruptError,
  BaselineHostMismatchError,
  BaselineNotFoundError,
  ErrorCode,
} from '../errors.js';
import { describeHost } from '../results/host-description.js';
import { LatencyHistogram } from '../results/latency-histogram.js';
import type { RunResult } from '../results/run-result.js';
import {
  type Baseline,
  baselineFile,
  baselineFromRuns,
  checkHost,
  listBaselines,
  loadBaseline,
  parseBaseline,
  saveBaseline,
} from './baseline-store.js';
import { fingerprintOf, type HostFingerprint } from './host-fingerprint.js';

const HERE = fingerprintOf({
  cpuModel: 'Test CPU',
  cores: 2,
  memoryGiB: 8,
  os: 'linux Debian 12 x64',
  nodeMajor: 20,
});
const THERE = fingerprintOf({
  cpuModel: 'Other CPU',
  cores: 6,
  memoryGiB: 15,
  os: 'linux Ubuntu 24.04 x64',
  nodeMajor: 20,
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-baselines-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function run(p50Ms: number): RunResult {
  const h = LatencyHistogram.create();
  for (let i = 0; i < 100; i++) h.recordUs((p50Ms + (i - 50) / 50) * 1000);
  return {
    kind: 'headroom.run-result',
    version: 1,
    createdAt: '2026-01-02T03:04:05.000Z',
    host: describeHost(),
    scenario: { name: 'auth', profile: 'quick', configHash: 'sha256:00112233aabbccdd' },
    target: 'http://127.0.0.1:1/api/v1',
    engine: 'open-model',
    durationMs: 4_000,
    steps: [
      {
        name: 'login',
        requests: 100,
        errors: {},
        latencyHistogram: h.encode(),
        serviceHistogram: h.encode(),
      },
    ],
    timeSeries: [],
    serverSamples: [],
  };
}

function baseline(host: HostFingerprint = HERE, createdAt?: string): Baseline {
  const b = baselineFromRuns([run(35), run(36), run(34)], host, 'abc123');
  if (createdAt) b.createdAt = createdAt;
  return b;
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

describe('baseline store', () => {
  it('writes one file per scenario and host and reads it back unchanged', async () => {
    const dir = await tempDir();
    const b = baseline();
    const file = await saveBaseline(b, dir);
    expect(file).toBe(baselineFile(dir, 'auth', HERE.id));
    expect(path.basename(file)).toMatch(/^auth\.host-[0-9a-f]{12}\.json$/);
    const loaded = await loadBaseline('auth', HERE, { dir });
    expect(loaded.baseline).toEqual(b);
    expect(loaded.hostMismatch).toBeUndefined();
    // The histograms are kept, so trials can be merged later.
    expect(LatencyHistogram.decode(loaded.baseline.trials[0]!.latencyHistograms.login!).count).toBe(100);
  });

  it('leaves no temporary file behind after a write', async () => {
    const dir = await tempDir();
    await saveBaseline(baseline(), dir);
    await saveBaseline(baseline(), dir);
    expect(await readdir(dir)).toEqual([`auth.${HERE.id}.json`]);
  });

  it('names the file when it is not JSON', () => {
    const err = thrown(() => parseBaseline('{"kind": "headroom.base', '/tmp/x/auth.json'));
    expect(err).toBeInstanceOf(BaselineCorruptError);
    expect((err as BaselineCorruptError).code).toBe(ErrorCode.BaselineCorrupt);
    expect(err.message).toContain('/tmp/x/auth.json: it is not JSON');
  });

  it('refuses a file of another kind', () => {
    const err = thrown(() => parseBaseline('{"kind":"headroom.run-result","version":1}', 'r.json'));
    expect(err.message).toContain('r.json: it is not a headroom baseline (kind is "headroom.run-result"');
  });

  it('refuses a newer version and says to upgrade', () => {
    const err = thrown(() => parseBaseline(JSON.stringify({ ...baseline(), version: 2 }), 'b.json'));
    expect(err).toBeInstanceOf(BaselineCorruptError);
    expect(err.message).toContain('it is version 2, newer than this headroom reads (1); upgrade headroom');
  });

  it('names the field that fails the schema', () => {
    const b = baseline() as unknown as {
      trials: Array<{ summary: { figures: Record<string, { unit: string }> } }>;
    };
    b.trials[1]!.summary.figures['latency:login.p50']!.unit = 'parsecs';
    const err = thrown(() => parseBaseline(JSON.stringify(b), 'b.json'));
    expect(err.message).toContain('/trials/1/summary/figures/latency:login.p50/unit: must be one of ms');
    const missing = { ...baseline() } as Partial<Baseline>;
    delete missing.commit;
    expect(thrown(() => parseBaseline(JSON.stringify(missing), 'b.json')).message).toContain(
      '(top level): missing field "commit"',
    );
  });

  it('reports a corrupt file on disk with its path when loading', async () => {
    const dir = await tempDir();
    const file = baselineFile(dir, 'auth', HERE.id);
    await writeFile(file, 'not json at all');
    await expect(loadBaseline('auth', HERE, { dir })).rejects.toThrow(`${file}: it is not JSON`);
  });

  it('says how to create a baseline when there is none', async () => {
    const dir = await tempDir();
    const err = await loadBaseline('auth', HERE, { dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BaselineNotFoundError);
    expect((err as BaselineNotFoundError).code).toBe('HRM_BASELINE_NOT_FOUND');
    expect((err as Error).message).toContain(`create one with: headroom baseline save auth --dir ${dir}`);
  });

  it("refuses another host's baseline, naming both hosts", async () => {
    const dir = await tempDir();
    await saveBaseline(baseline(THERE), dir);
    const err = await loadBaseline('auth', HERE, { dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BaselineHostMismatchError);
    expect((err as BaselineHostMismatchError).code).toBe('HRM_BASELINE_HOST_MISMATCH');
    expect((err as Error).message).toContain('Other CPU, 6 cores, 15 GiB');
    expect((err as Error).message).toContain('Test CPU, 2 cores, 8 GiB');
  });

  it("uses the newest of another host's baselines with force, and flags it", async () => {
    const dir = await tempDir();
    await saveBaseline(baseline(THERE, '2026-01-01T00:00:00.000Z'), dir);
    const loaded = await loadBaseline('auth', HERE, { dir, force: true });
    expect(loaded.baseline.host.id).toBe(THERE.id);
    expect(loaded.hostMismatch).toEqual({
      base: expect.stringContaining(THERE.id),
      head: expect.stringContaining(HERE.id),
    });
  });

  it('compares a run result host with a baseline host on the fields both record', () => {
    const described = fingerprintOf({
      cpuModel: 'Intel(R) Xeon(R) Processor',
      cores: 2,
      memoryGiB: 24,
      os: 'Linux 6.1.0 x64',
      nodeMajor: 20,
    });
    const fromSi = fingerprintOf({
      cpuModel: 'Intel Xeon® Processor',
      cores: 2,
      memoryGiB: 24,
      os: 'linux Debian GNU/Linux 12 x64',
      nodeMajor: 20,
    });
    expect(checkHost(described, fromSi, false, true)).toEqual({});
    expect(() => checkHost(described, fromSi, false, false)).toThrow(BaselineHostMismatchError);
  });

  it('lists every baseline in the folder, newest first', async () => {
    const dir = await tempDir();
    await saveBaseline(baseline(HERE, '2026-01-01T00:00:00.000Z'), dir);
    await saveBaseline(baseline(THERE, '2026-02-01T00:00:00.000Z'), dir);
    const all = await listBaselines(dir);
    expect(all.map((b) => b.baseline.host.id)).toEqual([THERE.id, HERE.id]);
    expect(await listBaselines(path.join(dir, 'missing'))).toEqual([]);
  });

  it('writes files that carry their kind and version', async () => {
    const dir = await tempDir();
    const file = await saveBaseline(baseline(), dir);
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ kind: 'headroom.baseline', version: 1 });
  });
});
