import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { runDemo } from './demo.js';
import { generateCsv } from './ingest/csv-generator.js';
import { startPipeline } from './pipeline.js';
import { type RunningSimulators, startSimulators } from './sim/simulator-process.js';
import { loggedInClient, waitCompleted } from './test-support/pipeline-test-kit.js';
import { FAST_AUTH, QUICK_LLM, QUICK_SCRAPER, simPipelineConfig } from './test-support/quick-config.js';
import { freshPostgres, freshRedis } from './test-support/test-services.js';
import { spawnWorker, workerStarted } from './test-support/worker-process.js';

/** Stalled jobs of a killed worker are noticed within seconds instead of BullMQ's default 30 s. */
const FAST_STALL = '&stalledIntervalMs=1000&lockDurationMs=2000';

type Backend = 'sqlite' | 'postgres';
type Queue = 'in-process' | 'bullmq';

async function backends(store: Backend, queue: Queue): Promise<{ store?: string; queue?: string }> {
  const out: { store?: string; queue?: string } = {};
  if (store === 'postgres') {
    const pg = await freshPostgres();
    onTestFinished(pg.drop);
    out.store = pg.url;
  }
  if (queue === 'bullmq') {
    const redis = await freshRedis(FAST_STALL);
    onTestFinished(redis.drop);
    out.queue = redis.url;
  }
  return out;
}

describe.each([
  ['sqlite', 'in-process'],
  ['sqlite', 'bullmq'],
  ['postgres', 'in-process'],
  ['postgres', 'bullmq'],
] as Array<[Backend, Queue]>)('pipeline end to end on %s + %s', (store, queue) => {
  it('turns every one of 1,000 rows into exactly one message or one failure, with 5% faults', async () => {
    const result = await runDemo({
      rows: 1_000,
      ...(await backends(store, queue)),
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
        concurrency: { scraping: 200, ai_processing: 400 },
      },
      pollMs: 100,
    });
    expect(result.store).toBe(store);
    expect(result.queue).toBe(queue);
    expect(result.timedOut).toBe(false);
    expect(result).toMatchObject({ rows: 1_000, accepted: 1_000, lost: 0, duplicated: 0 });
    expect(result.messages + result.failed).toBe(1_000);
    // 404s are a property of the URL: ~1% of rows fail for that reason whatever the retries.
    const reasons = Object.keys(result.failuresByReason);
    expect(reasons.some((r) => r.includes('404'))).toBe(true);
    for (const reason of reasons) expect(reason).toMatch(/^(scrape|ai): .+/);
    expect(result.stages.scrape.done + result.stages.scrape.failed).toBe(1_000);
    expect(result.stages.ai.done).toBe(result.messages);
  });
});

describe('distributed pipeline on PostgreSQL + BullMQ', () => {
  let sims: RunningSimulators;
  beforeAll(async () => {
    // Slow enough that rows are in flight at every stage when a process is stopped.
    sims = await startSimulators({
      siteFarm: { sites: 20, latency: { medianMs: 40, sigma: 0.3 } },
      llm: { timeToFirstTokenMs: 150, tokensPerSecond: 2_000 },
    });
  });
  afterAll(() => sims.close());

  const simFlags = () => [
    '--llm-base-url',
    sims.llm.baseUrl,
    '--allow-host',
    `*.${sims.siteFarm.hostSuffix}`,
    '--resolve',
    `*.${sims.siteFarm.hostSuffix}=127.0.0.1`,
  ];
  const simConfig = () => simPipelineConfig(sims);
  const login = (apiUrl: string) => loggedInClient(apiUrl, 'dist@example.com');

  it('loses and duplicates nothing when a worker process is killed with jobs in flight', async () => {
    const { store, queue } = await backends('postgres', 'bullmq');
    const api = await startPipeline({ store, queue, workers: false, http: { port: 0 }, ...simConfig() });
    onTestFinished(() => api.close());
    const args = ['--store', store!, '--queue', queue!, '--concurrency', '40', ...simFlags()];
    const doomed = spawnWorker(args, onTestFinished);
    const survivor = spawnWorker(args, onTestFinished);
    await Promise.all([workerStarted(doomed), workerStarted(survivor)]);

    const client = await login(api.apiUrl);
    const rows = 1_500;
    const receipt = await client.upload(generateCsv(rows, (i) => sims.siteUrl(i)));
    while ((await client.getUpload(receipt.id)).ai.done < 200) await sleep(50);
    doomed.kill('SIGKILL');
    const killedAt = await client.getUpload(receipt.id);
    expect(killedAt.ai.done + killedAt.ai.failed + killedAt.scrape.failed).toBeLessThan(rows);

    await waitCompleted(client, receipt.id, 120_000);
    const tally = await api.store.tallyUpload(receipt.id);
    expect(tally).toMatchObject({ rows, messages: rows, failed: 0, lost: 0, duplicated: 0 });

    survivor.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => survivor.once('exit', resolve));
    expect(code, survivor.output()).toBe(0);
  });

  it('exposes pool, queue and stall figures on /metrics', async () => {
    const { store, queue } = await backends('postgres', 'bullmq');
    const pipeline = await startPipeline({ store, queue, http: { port: 0 }, ...simConfig() });
    onTestFinished(() => pipeline.close());
    const client = await login(pipeline.apiUrl);
    const receipt = await client.upload(generateCsv(50, (i) => sims.siteUrl(i)));
    await waitCompleted(client, receipt.id);
    const text = await client.call<string>('GET', '/metrics');
    expect(text).toMatch(/headroom_db_pool_connections\{state="total"\} [1-9]/);
    expect(text).toMatch(/headroom_db_pool_acquires_total [1-9]/);
    expect(text).toContain('headroom_db_pool_acquire_wait_seconds_total');
    expect(text).toMatch(/headroom_queue_stalled_jobs_total\{queue="scraping"\} 0/);
    expect(text).toMatch(/headroom_queue_wait_seconds_count\{queue="ai_processing"\} 50/);
    expect(text).toMatch(/headroom_queue_jobs\{queue="scraping",state="active"\} 0/);
  });

  it('completes an upload after the whole pipeline is stopped mid-way and started again', async () => {
    const { store, queue } = await backends('postgres', 'bullmq');
    const config = {
      store,
      queue,
      http: { port: 0 },
      ...simConfig(),
      concurrency: { scraping: 30, ai_processing: 30 },
    };
    const first = await startPipeline(config);
    const client = await login(first.apiUrl);
    const rows = 800;
    const receipt = await client.upload(generateCsv(rows, (i) => sims.siteUrl(i)));
    while ((await client.getUpload(receipt.id)).ai.done < 100) await sleep(50);
    await first.close();

    const second = await startPipeline(config);
    onTestFinished(() => second.close());
    const midway = await second.store.getUpload(receipt.id);
    expect(midway!.ai.done).toBeLessThan(rows);
    const client2 = await login(second.apiUrl);
    await waitCompleted(client2, receipt.id, 120_000);
    const tally = await second.store.tallyUpload(receipt.id);
    expect(tally).toMatchObject({ rows, messages: rows, failed: 0, lost: 0, duplicated: 0 });
  });
});
