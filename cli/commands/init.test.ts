import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProjectConfig } from '../../gate/project-config.js';
import {
  NOT_READY_LINE,
  nodeService,
  SUITE,
  serviceRepo,
  suiteFiles,
} from '../../gate/test-support/service-repo.js';
import { main } from '../main.js';
import { capturedIo } from '../test-support/captured-io.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-init-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('headroom init', () => {
  it('writes a valid project file and a starting scenario from flags, and refuses to overwrite it', async () => {
    const io = capturedIo();
    const code = await main(
      ['init', '--dir', dir, '--start', 'node dist/server.js', '--build', 'npm ci', '--ready', '/healthz'],
      io,
    );
    expect(code, io.err).toBe(0);
    const config = await loadProjectConfig(path.join(dir, 'headroom.config.json'));
    expect(config.service).toMatchObject({
      start: 'node dist/server.js',
      build: 'npm ci',
      ready: '/healthz',
    });
    expect(config.suite).toEqual(['perf/smoke.json']);
    const scenario = JSON.parse(await readFile(path.join(dir, 'perf', 'smoke.json'), 'utf8'));
    expect(scenario.flow).toEqual([{ name: 'ready', method: 'GET', path: '/healthz' }]);
    const again = capturedIo();
    expect(await main(['init', '--dir', dir, '--start', 'x'], again)).toBe(2);
    expect(again.err).toContain('exists already; edit it, or pass --force');
  });

  it('writes the telemetry capacity reads when given a Prometheus, and names a bad preset', async () => {
    const io = capturedIo();
    const args = ['init', '--dir', dir, '--force', '--start', 'x', '--suite', 'api-stress'];
    expect(
      await main([...args, '--prometheus', 'http://127.0.0.1:9090', '--preset', 'celery'], io),
      io.err,
    ).toBe(0);
    const config = await loadProjectConfig(path.join(dir, 'headroom.config.json'));
    expect(config.telemetry).toEqual({
      prometheus: 'http://127.0.0.1:9090',
      preset: 'celery',
      window: '15m',
    });
    const bad = capturedIo();
    expect(await main([...args, '--prometheus', 'http://127.0.0.1:9090', '--preset', 'sidekiq'], bad)).toBe(
      2,
    );
    expect(bad.err).toContain('/telemetry/preset: must be one of headroom, celery, bullmq');
    const alone = capturedIo();
    expect(await main([...args, '--preset', 'celery'], alone)).toBe(2);
    expect(alone.err).toContain('--preset names the metrics of --prometheus URL');
  });

  it('asks for the start command by flag when stdin is not a terminal', async () => {
    const io = capturedIo();
    expect(await main(['init', '--dir', dir, '--force'], io)).toBe(2);
    expect(io.err).toContain('init needs --start CMD');
  });
});

describe('headroom gate with a project file', () => {
  it('exits 2 naming the field of a bad project file', async () => {
    const file = path.join(dir, 'bad.config.json');
    await writeFile(
      file,
      JSON.stringify({ service: { start: 'x', ready: 'health' }, suite: ['api-stress'] }),
    );
    const io = capturedIo();
    expect(await main(['gate', '--config', file, '--against', 'HEAD'], io)).toBe(2);
    expect(io.err).toContain('HRM_PROJECT_CONFIG_INVALID');
    expect(io.err).toContain('/service/ready: must match pattern');
  });

  it('exits 2 with the readiness path and the last output lines when the head never becomes ready', async () => {
    const config = {
      service: { start: 'node src/server.js', ready: '/health', readyTimeoutS: 5 },
      suite: SUITE,
      gate: { trials: 2, trialS: 1, warmupTrials: 0 },
    };
    const repo = await serviceRepo(
      { 'headroom.config.json': JSON.stringify(config), ...suiteFiles(10) },
      nodeService('same'),
      nodeService('never-ready'),
    );
    try {
      const io = capturedIo();
      const code = await main(
        ['gate', '--config', path.join(repo.dir, 'headroom.config.json'), '--against', 'base'],
        io,
      );
      expect(code).toBe(2);
      expect(io.err).toMatch(
        /the head service never became ready: http:\/\/127\.0\.0\.1:\d+\/health answered 503 for 5 s/,
      );
      expect(io.err).toContain(NOT_READY_LINE);
      expect(io.err).toContain('HRM_SERVICE_NOT_READY');
    } finally {
      await repo.close();
    }
  });
});

describe('headroom run with a project file', () => {
  it('starts the service of the project file, loads it and reads its process tree from /proc', async () => {
    const config = {
      service: { build: 'node build.js', start: 'node src/server.js', ready: '/health', readyTimeoutS: 10 },
      suite: SUITE,
    };
    const repo = await serviceRepo(
      { 'headroom.config.json': JSON.stringify(config), ...suiteFiles(10) },
      nodeService('same'),
      nodeService('same'),
    );
    try {
      const out = path.join(dir, 'run.json');
      const io = capturedIo();
      const code = await main(
        [
          'run',
          path.join(repo.dir, 'perf/shop.json'),
          '--config',
          path.join(repo.dir, 'headroom.config.json'),
          '--out',
          out,
        ],
        io,
      );
      expect(code, io.err).toBe(0);
      const result = JSON.parse(await readFile(out, 'utf8'));
      expect(result.target).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(result.steps.map((s: { name: string; requests: number }) => [s.name, s.requests > 0])).toEqual([
        ['items', true],
        ['compute', true],
      ]);
      expect(result.processSamples.length).toBeGreaterThan(5);
      expect(result.processSamples[0].rssBytes).toBeGreaterThan(10 << 20);
    } finally {
      await repo.close();
    }
  });
});
