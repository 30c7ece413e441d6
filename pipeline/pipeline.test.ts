import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { ApiClient } from './api/api-client.js';
import { runDemo } from './demo.js';
import { generateCsv } from './ingest/csv-generator.js';
import { startPipeline } from './pipeline.js';
import { type RunningSimulators, startSimulators } from './sim/simulator-process.js';

/** Short timeouts so the injected "never answers" fault costs seconds, not minutes. */
const QUICK_SCRAPER = {
  headersTimeoutMs: 1_500,
  bodyTimeoutMs: 1_000,
  totalTimeoutMs: 3_000,
  retries: 1,
  retryBaseDelayMs: 50,
};
const QUICK_LLM = { retries: 3, retryBaseDelayMs: 50 };
const FAST_AUTH = { scryptCost: 1024 };

describe('pipeline end to end', () => {
  it('turns every one of 1,000 rows into exactly one message or one failure, with 5% faults', async () => {
    const result = await runDemo({
      rows: 1_000,
      simulators: {
        siteFarm: {
          seed: 7,
          sites: 50,
          latency: { medianMs: 30, sigma: 0.5 },
          faults: { notFound: 0.01, serverError: 0.01, reset: 0.01, timeout: 0.01, slowBody: 0.01 },
        },
        llm: {
          seed: 7,
          timeToFirstTokenMs: 20,
          tokensPerSecond: 2_000,
          errorRate: 0.02,
          rateLimitRate: 0.02,
        },
      },
      pipeline: {
        auth: FAST_AUTH,
        scraper: QUICK_SCRAPER,
        llm: QUICK_LLM,
        retry: { attempts: 2, baseDelayMs: 20 },
      },
      pollMs: 100,
    });
    expect(result.timedOut).toBe(false);
    expect(result.rows).toBe(1_000);
    expect(result.accepted).toBe(1_000);
    expect(result.lost).toBe(0);
    expect(result.duplicated).toBe(0);
    expect(result.messages + result.failed).toBe(1_000);
    // 404s are a property of the URL: ~1% of rows must fail for that reason, whatever the retries.
    expect(result.failed).toBeGreaterThan(0);
    const reasons = Object.keys(result.failuresByReason);
    expect(reasons.some((r) => r.includes('404'))).toBe(true);
    for (const reason of reasons) expect(reason).toMatch(/^(scrape|ai): .+/);
    expect(result.stages.scrape.done + result.stages.scrape.failed).toBe(1_000);
    expect(result.stages.ai.done).toBe(result.messages);
  });
});

describe('pipeline on the embedded defaults', () => {
  let sims: RunningSimulators;
  beforeAll(async () => {
    sims = await startSimulators({
      siteFarm: { sites: 5, latency: { medianMs: 5, sigma: 0.1 } },
      llm: { timeToFirstTokenMs: 5, tokensPerSecond: 5_000 },
    });
  });
  afterAll(() => sims.close());

  const simConfig = () => ({
    scraper: {
      ...QUICK_SCRAPER,
      allowHosts: [`*.${sims.siteFarm.hostSuffix}`, 'redirector.test'],
      resolve: {
        [`*.${sims.siteFarm.hostSuffix}`]: '127.0.0.1',
        'redirector.test': '127.0.0.1',
        'internal.test': '127.0.0.1',
      },
    },
    llm: { baseUrl: sims.llm.baseUrl, ...QUICK_LLM },
    auth: FAST_AUTH,
    logLevel: 'silent' as const,
  });

  async function login(apiUrl: string): Promise<ApiClient> {
    const api = new ApiClient(apiUrl);
    await api.register('e2e@example.com', 'password1').catch(() => {});
    await api.login('e2e@example.com', 'password1');
    onTestFinished(() => api.close());
    return api;
  }

  async function waitCompleted(api: ApiClient, id: number, timeoutMs = 60_000) {
    const start = Date.now();
    for (;;) {
      const upload = await api.getUpload(id);
      if (upload.status === 'completed') return upload;
      if (Date.now() - start > timeoutMs)
        throw new Error(`upload ${id} not completed: ${JSON.stringify(upload)}`);
      await sleep(50);
    }
  }

  it('refuses SSRF targets and records each as a failed row with the reason', async () => {
    // A server of ours, allowlisted, that redirects to loopback and to the metadata address.
    const redirector = http.createServer((req, res) => {
      const to =
        req.url === '/to-metadata'
          ? 'http://169.254.169.254/latest/meta-data/'
          : `http://127.0.0.1:${sims.llm.port}/`;
      res.writeHead(302, { location: to }).end();
    });
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => void redirector.close());
    const port = (redirector.address() as AddressInfo).port;

    const pipeline = await startPipeline({ store: ':memory:', http: { port: 0 }, ...simConfig() });
    onTestFinished(() => pipeline.close());
    const api = await login(pipeline.apiUrl);
    const targets = [
      `http://127.0.0.1:${sims.siteFarm.port}/`,
      'http://10.0.0.1/',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]/',
      `http://internal.test:${sims.siteFarm.port}/`,
      `http://redirector.test:${port}/to-loopback`,
      `http://redirector.test:${port}/to-metadata`,
    ];
    const good = sims.siteUrl(1);
    const receipt = await api.upload(['website', good, ...targets].join('\n'));
    expect(receipt.accepted).toBe(targets.length + 1);
    await waitCompleted(api, receipt.id);
    const tally = await pipeline.store.tallyUpload(receipt.id);
    expect(tally).toMatchObject({ messages: 1, failed: targets.length, lost: 0, duplicated: 0 });
    const ssrf = Object.entries(tally.failuresByReason).filter(([reason]) => /SSRF/i.test(reason));
    expect(ssrf.reduce((n, [, c]) => n + c, 0)).toBe(targets.length);
  });

  it('lists the messages of an upload page by page, each once', async () => {
    const pipeline = await startPipeline({ store: ':memory:', http: { port: 0 }, ...simConfig() });
    onTestFinished(() => pipeline.close());
    const api = await login(pipeline.apiUrl);
    const receipt = await api.upload(generateCsv(120, (i) => sims.siteUrl(i)));
    await waitCompleted(api, receipt.id);
    const ids = new Set<number>();
    let after: number | undefined;
    for (;;) {
      const page = await api.listMessages(receipt.id, 25, after);
      for (const m of page.items) {
        expect(m.content.length).toBeGreaterThan(20);
        expect(m.model).toBe('headroom-sim-1');
        expect(m.completionTokens).toBeGreaterThan(0);
        ids.add(m.websiteId);
      }
      if (page.nextAfterId === null) break;
      after = page.nextAfterId;
    }
    expect(ids.size).toBe(120);
  });

  it('completes an upload after the pipeline is stopped mid-way and started again', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'headroom-restart-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const store = `sqlite:${path.join(dir, 'restart.db')}`;
    // Slow LLM so that the stop catches rows at every stage.
    const slow = { ...simConfig(), concurrency: { scraping: 20, ai_processing: 20 } };
    const first = await startPipeline({ store, http: { port: 0 }, ...slow });
    const api = await login(first.apiUrl);
    const rows = 600;
    const receipt = await api.upload(generateCsv(rows, (i) => sims.siteUrl(i)));
    while ((await api.getUpload(receipt.id)).ai.done < 50) await sleep(20);
    await first.close();
    const stopped = await api.getUpload(receipt.id).catch(() => undefined);
    expect(stopped).toBeUndefined(); // the API is down: the stop was real

    const second = await startPipeline({ store, http: { port: 0 }, ...slow, workers: false });
    const midway = await second.store.getUpload(receipt.id);
    await second.close();
    expect(midway!.ai.done).toBeLessThan(rows);

    const third = await startPipeline({ store, http: { port: 0 }, ...slow });
    onTestFinished(() => third.close());
    expect(third.recoveredUploads).toContain(receipt.id);
    const api2 = await login(third.apiUrl);
    await waitCompleted(api2, receipt.id);
    const tally = await third.store.tallyUpload(receipt.id);
    expect(tally).toMatchObject({ rows, messages: rows, failed: 0, lost: 0, duplicated: 0 });
  });
});
