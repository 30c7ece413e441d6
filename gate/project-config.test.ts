import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProjectConfigInvalidError } from '../errors.js';
import { TELEMETRY_PRESETS } from '../telemetry/telemetry-mapping.js';
import {
  findProjectConfig,
  loadProjectConfig,
  parseProjectConfig,
  projectGateOptions,
} from './project-config.js';
import schema from './project-config.schema.json' with { type: 'json' };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-project-config-'));
  await mkdir(path.join(dir, 'perf'));
  await writeFile(path.join(dir, 'perf', 'checkout.json'), '{}');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const valid = () => ({
  service: {
    build: 'npm ci && npm run build',
    start: 'node dist/server.js',
    env: { LOG_LEVEL: 'warn' },
    ready: '/health',
    baseUrl: 'http://127.0.0.1:${port}/api',
  },
  suite: ['perf/checkout.json', 'api-stress'],
  gate: { trials: 8 },
});

function problemsOf(data: unknown): string[] {
  try {
    parseProjectConfig(data, path.join(dir, 'headroom.config.json'));
  } catch (err) {
    expect(err).toBeInstanceOf(ProjectConfigInvalidError);
    return (err as ProjectConfigInvalidError).problems;
  }
  throw new Error('expected the file to be refused');
}

describe('project file', () => {
  it('reads the example of the guide, filling the defaults', () => {
    const config = parseProjectConfig(valid(), path.join(dir, 'headroom.config.json'));
    expect(config.rootDir).toBe(dir);
    expect(config.gate).toEqual({ trials: 8, trialS: 4, warmupTrials: 1 });
    expect(config.service.readyTimeoutS).toBe(60);
    expect(projectGateOptions(config)).toEqual({ thresholds: {} });
  });

  it('defaults the base URL to the loopback root with the chosen port', () => {
    const data = valid() as { service: Record<string, unknown> };
    delete data.service.baseUrl;
    expect(parseProjectConfig(data, path.join(dir, 'x.json')).service.baseUrl).toBe(
      'http://127.0.0.1:${port}',
    );
  });

  it('names each bad field and the fix', () => {
    const data = valid() as Record<string, unknown> & { service: Record<string, unknown> };
    data.service.ready = 'health';
    data.service.baseUrl = 'http://example.com/api';
    delete data.service.start;
    data.suite = ['perf/missing.json'];
    data.gate = { trials: 1, latnecy: 0.1 };
    const problems = problemsOf(data);
    expect(problems).toEqual(
      expect.arrayContaining([
        '/service: missing field "start"',
        expect.stringMatching(/^\/service\/ready: .*write a path such as \/health$/),
        expect.stringMatching(/^\/service\/baseUrl: .*http:\/\/127\.0\.0\.1:\$\{port\}\/api/),
        '/gate: unknown field "latnecy"',
        '/gate/trials: must be >= 2 (got 1)',
      ]),
    );
  });

  it('names a suite file that does not exist, relative to the project folder', () => {
    const data = { ...valid(), suite: ['perf/missing.json'] };
    expect(problemsOf(data)).toEqual([`/suite/0: no file perf/missing.json (paths are relative to ${dir})`]);
  });

  it('reads where capacity finds the telemetry, and names a bad telemetry section', () => {
    const config = parseProjectConfig(
      { ...valid(), telemetry: { prometheus: 'http://127.0.0.1:9090', mapping: 'perf/checkout.json' } },
      path.join(dir, 'x.json'),
    );
    expect(config.telemetry).toEqual({
      prometheus: 'http://127.0.0.1:9090',
      mapping: 'perf/checkout.json',
      window: '15m',
    });
    expect(
      problemsOf({
        ...valid(),
        telemetry: { prometheus: 'http://127.0.0.1:9090', preset: 'celery', mapping: 'perf/checkout.json' },
      }),
    ).toEqual(['/telemetry: give "preset" or "mapping", not both (a mapping file may extend a preset)']);
    expect(
      problemsOf({
        ...valid(),
        telemetry: { prometheus: '127.0.0.1:9090', preset: 'sidekiq', window: '15 min' },
      }),
    ).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^\/telemetry\/prometheus: must match pattern/),
        expect.stringMatching(/^\/telemetry\/preset: must be one of headroom, celery, bullmq/),
        expect.stringMatching(/^\/telemetry\/window: must match pattern/),
      ]),
    );
    expect(
      problemsOf({ ...valid(), telemetry: { prometheus: 'http://127.0.0.1:9090', mapping: 'perf/m.json' } }),
    ).toEqual([`/telemetry/mapping: no file perf/m.json (paths are relative to ${dir})`]);
    // The schema's presets are the ones capacity knows.
    expect(schema.properties.telemetry.properties.preset.enum).toEqual(Object.keys(TELEMETRY_PRESETS));
  });

  it('turns thresholds into gate options', () => {
    const config = parseProjectConfig(
      { ...valid(), gate: { latency: 0.05, resource: 0.3, gatedLatency: ['p50', 'p95'] } },
      path.join(dir, 'x.json'),
    );
    expect(projectGateOptions(config)).toEqual({
      thresholds: { latency: 0.05, resource: 0.3 },
      gatedLatency: ['p50', 'p95'],
    });
  });

  it('is found at the folder root, is absent without one, and a named one must exist', async () => {
    expect(await findProjectConfig(path.join(dir, 'perf'))).toBeUndefined();
    await writeFile(path.join(dir, 'headroom.config.json'), JSON.stringify(valid()));
    expect((await findProjectConfig(dir))?.suite).toEqual(['perf/checkout.json', 'api-stress']);
    await expect(loadProjectConfig(path.join(dir, 'nope.json'))).rejects.toThrow(
      /cannot read it \(ENOENT\); write one with "headroom init"/,
    );
    await writeFile(path.join(dir, 'bad.json'), '{ "service": ');
    await expect(loadProjectConfig(path.join(dir, 'bad.json'))).rejects.toThrow(/it is not JSON/);
  });
});
