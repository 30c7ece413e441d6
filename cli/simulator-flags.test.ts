import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigInvalidError } from '../errors.js';
import schema from './simulator-config.schema.json' with { type: 'json' };
import { loadSimulatorOptions, readSimulatorConfig, simulatorFlags } from './simulator-flags.js';

async function configFile(content: unknown): Promise<string> {
  const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'headroom-sim-config-')), 'world.json');
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

async function problemsOf(content: unknown): Promise<{ file: string; err: ConfigInvalidError }> {
  const file = await configFile(content);
  const err = await readSimulatorConfig(file).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConfigInvalidError);
  return { file, err: err as ConfigInvalidError };
}

describe('--sim-config', () => {
  it('turns a file into the same simulator options as the flags', async () => {
    const file = await configFile({
      siteLatencyMs: 1500,
      siteLatencySigma: 0.4,
      pageBytes: 30000,
      fault404: 0.01,
      llmTtftMs: 400,
      llmTokensPerSecond: 60,
      llmTokensPerMessage: 150,
      llmRpm: 6000,
      llmTpm: 900000,
    });
    expect(await loadSimulatorOptions({ 'sim-config': file })).toEqual({
      siteFarm: {
        latency: { medianMs: 1500, sigma: 0.4 },
        pageBytes: { medianBytes: 30000, sigma: 0.3 },
        faults: { notFound: 0.01 },
      },
      llm: {
        timeToFirstTokenMs: 400,
        tokensPerSecond: 60,
        tokensPerMessage: 150,
        rateLimit: { requestsPerMinute: 6000, tokensPerMinute: 900000 },
      },
    });
  });

  it('lets a flag on the command line override the same setting in the file', async () => {
    const file = await configFile({ llmRpm: 6000, siteLatencyMs: 1500 });
    const options = await loadSimulatorOptions({ 'sim-config': file, 'llm-rpm': '1200' });
    expect(options.llm?.rateLimit).toEqual({ requestsPerMinute: 1200 });
    expect(options.siteFarm?.latency).toEqual({ medianMs: 1500, sigma: 0.5 });
  });

  it('names the file and the field of a value out of range', async () => {
    const { file, err } = await problemsOf({ llmRpm: 0 });
    expect(err.message).toContain(file);
    expect(err.problems).toEqual(['/llmRpm: must be >= 1 (got 0)']);
  });

  it('names an unknown field, so a misspelt setting is not silently ignored', async () => {
    const { err } = await problemsOf({ siteLatency: 300 });
    expect(err.problems).toEqual(['(top level): unknown field "siteLatency"']);
  });

  it('names the file when it is not JSON', async () => {
    const { file, err } = await problemsOf('{ "llmRpm": ');
    expect(err.message).toContain(file);
    expect(err.problems[0]).toMatch(/cannot read it as JSON/);
  });

  it('has a flag for every setting of the file', async () => {
    const fields = Object.keys(schema.properties).filter((f) => f !== '$schema');
    const file = await configFile(Object.fromEntries(fields.map((f) => [f, 1])));
    const values = await readSimulatorConfig(file);
    const settingFlags = Object.keys(simulatorFlags).filter((f) => f !== 'sim-config');
    expect(Object.keys(values).sort()).toEqual(settingFlags.sort());
  });
});
