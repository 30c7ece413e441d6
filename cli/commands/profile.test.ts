import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect, it, onTestFinished } from 'vitest';
import { main } from '../main.js';
import { capturedIo } from '../test-support/captured-io.js';

/** Two seconds of health checks: the point is clinic's report, not the load. */
const SHORT_SCENARIO = {
  name: 'short-health',
  description: 'Health checks for two seconds.',
  type: 'http',
  setup: { users: 1 },
  flow: [{ name: 'health', method: 'GET', path: '/health' }],
  thresholds: { errors: ['rate<0.01'] },
  profiles: {
    quick: { load: { model: 'open', phases: [{ durationS: 2, rate: 50 }] } },
    full: { load: { model: 'open', phases: [{ durationS: 2, rate: 50 }] } },
  },
};

// Installs clinic on first use (about 30 s here), then ~25 s of start, load and analysis.
it('profiles a short scenario with clinic doctor and prints the path of its HTML report', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-profile-test-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  const scenarioFile = path.join(dir, 'short-health.json');
  await writeFile(scenarioFile, JSON.stringify(SHORT_SCENARIO));
  const io = capturedIo();
  const code = await main(
    ['profile', scenarioFile, '--with', 'doctor', '--dest', path.join(dir, 'clinic')],
    io,
  );
  expect(io.err).toBe('');
  expect(code).toBe(0);
  const html = /clinic doctor report: (\S+)/.exec(io.out)?.[1];
  expect(html).toMatch(/\.clinic-doctor\.html$/);
  expect(existsSync(html!)).toBe(true);
  expect(readFileSync(html!, 'utf8')).toContain('<html');
  expect(io.out).toMatch(/health\s+100\s+0/);
}, 300_000);

it('refuses a profile without a clinic tool, naming the choices', async () => {
  const io = capturedIo();
  expect(await main(['profile', 'api-stress'], io)).toBe(2);
  expect(io.err).toContain('--with must be one of doctor, flame, heapprofiler');
});
