import { request } from 'undici';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ConfigInvalidError } from '../../errors.js';
import {
  type RunningSimulators,
  type SimulatorsOptions,
  spawnSimulators,
  startSimulators,
} from './simulator-process.js';

const FAST: SimulatorsOptions = {
  siteFarm: { sites: 50, latency: { medianMs: 1, sigma: 0 } },
  llm: { timeToFirstTokenMs: 1, tokensPerSecond: 10_000 },
};

async function fetchPage(sims: RunningSimulators, row: number): Promise<number> {
  const url = new URL(sims.siteUrl(row));
  const response = await request(`${sims.siteFarm.url}${url.pathname}`, { headers: { host: url.host } });
  await response.body.text();
  return response.statusCode;
}

async function complete(sims: RunningSimulators): Promise<number> {
  const response = await request(`${sims.llm.baseUrl}/chat/completions`, {
    method: 'POST',
    body: JSON.stringify({ messages: [{ role: 'user', content: 'Company: Acme' }] }),
  });
  await response.body.text();
  return response.statusCode;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('spawnSimulators', () => {
  it('runs both simulators in a child process that answers, reports usage and closes', async () => {
    const sims = await spawnSimulators(FAST);
    onTestFinished(() => sims.close());
    expect(sims.pid).not.toBe(process.pid);
    expect(sims.siteUrl(123)).toBe(`http://site-23.sites.test:${sims.siteFarm.port}/company/123`);
    expect(sims.llm.baseUrl).toBe(`http://127.0.0.1:${sims.llm.port}/v1`);
    for (let row = 0; row < 5; row++) expect(await fetchPage(sims, row)).toBe(200);
    expect(await complete(sims)).toBe(200);

    const usage = await sims.usage();
    expect(usage.cpuUserUs + usage.cpuSystemUs).toBeGreaterThan(0);
    expect(usage.rssBytes).toBeGreaterThan(10_000_000);
    expect(usage.maxRssBytes).toBeGreaterThanOrEqual(usage.rssBytes);
    expect(usage.siteFarm).toMatchObject({ requests: 5, ok: 5 });
    expect(usage.llm).toMatchObject({ requests: 1, completed: 1 });

    await sims.close();
    expect(isAlive(sims.pid)).toBe(false);
    await expect(sims.usage()).rejects.toThrow(/exited/);
  });

  it('rejects with ConfigInvalidError when the child refuses the options', async () => {
    const error = await spawnSimulators({ llm: { errorRate: 3 } }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ConfigInvalidError);
    expect((error as ConfigInvalidError).problems).toEqual(['errorRate: must be in 0..1 (got 3)']);
  });
});

describe('startSimulators', () => {
  it('runs both simulators in this process with the same interface', async () => {
    const sims = await startSimulators(FAST);
    onTestFinished(() => sims.close());
    expect(sims.pid).toBe(process.pid);
    expect(sims.siteFarm.sites).toBe(50);
    expect(await fetchPage(sims, 7)).toBe(200);
    expect(await complete(sims)).toBe(200);
    const usage = await sims.usage();
    expect(usage.siteFarm.ok).toBe(1);
    expect(usage.llm.completed).toBe(1);
  });
});
