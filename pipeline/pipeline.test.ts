import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { generateCsv } from './ingest/csv-generator.js';
import { startPipeline } from './pipeline.js';
import { type RunningSimulators, startSimulators } from './sim/simulator-process.js';
import { loggedInClient, waitCompleted } from './test-support/pipeline-test-kit.js';
import { simPipelineConfig } from './test-support/quick-config.js';

describe('pipeline on the embedded defaults', () => {
  let sims: RunningSimulators;
  beforeAll(async () => {
    sims = await startSimulators({
      siteFarm: { sites: 5, latency: { medianMs: 5, sigma: 0.1 } },
      llm: { timeToFirstTokenMs: 5, tokensPerSecond: 5_000 },
    });
  });
  afterAll(() => sims.close());

  const simConfig = () =>
    simPipelineConfig(sims, {
      allowHosts: ['redirector.test'],
      resolve: { 'redirector.test': '127.0.0.1', 'internal.test': '127.0.0.1' },
    });
  const login = (apiUrl: string) => loggedInClient(apiUrl);

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

  it('serves a site scraped for an earlier upload from the scrape cache', async () => {
    const pipeline = await startPipeline({
      store: ':memory:',
      http: { port: 0 },
      ...simConfig(),
      scrapeCache: { url: 'memory', ttlSeconds: 3_600 },
    });
    onTestFinished(() => pipeline.close());
    const api = await login(pipeline.apiUrl);
    const before = (await sims.usage()).siteFarm.requests;
    for (let i = 0; i < 2; i++) {
      const receipt = await api.upload(generateCsv(20, (row) => sims.siteUrl(row)));
      await waitCompleted(api, receipt.id);
      expect((await pipeline.store.tallyUpload(receipt.id)).messages).toBe(20);
    }
    expect((await sims.usage()).siteFarm.requests - before).toBe(20);
    const metrics = await pipeline.metrics.registry.getSingleMetricAsString('headroom_scrape_cache_total');
    expect(metrics).toContain('headroom_scrape_cache_total{result="hit"} 20');
    expect(metrics).toContain('headroom_scrape_cache_total{result="miss"} 20');
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
