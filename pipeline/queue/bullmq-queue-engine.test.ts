import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { type AddressInfo, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { ConfigInvalidError, ErrorCode, StoreUnavailableError } from '../../errors.js';
import { forkModule } from '../child-module.js';
import type { ScrapeResult } from '../scraper/scrape-result.js';
import { freshRedis, TEST_REDIS_URL } from '../test-support/test-services.js';
import { BullMqQueueEngine, START_REDIS_COMMAND } from './bullmq-queue-engine.js';
import { openQueueEngine } from './open-queue-engine.js';
import type { JobPayload } from './queue-engine.js';
import { queueEngineContract, waitUntil } from './queue-engine-contract.js';

/** A killed worker's locks expire within seconds instead of BullMQ's default 30 s. */
const FAST_STALL = '&stalledIntervalMs=1000&lockDurationMs=2000';
const task = (taskId: number): JobPayload['tasks'] => ({ taskId, type: 'sleep', workMs: 0 });
const tasks = (count: number): JobPayload['tasks'][] => Array.from({ length: count }, (_, i) => task(i));
const ignoreExhausted = async (): Promise<void> => {};
const page = (): ScrapeResult => ({
  finalUrl: 'https://a.example/',
  httpStatus: 200,
  title: 'A',
  description: 'a site',
  excerpt: 'text',
  bytesRead: 100,
  truncated: false,
  attempts: 1,
  durationMs: 5,
});

/** A key prefix of its own for the running test; its keys are deleted once every engine on it closed. */
async function freshQueue(
  extra = '',
): Promise<{ url: string; prefix: string; open: () => Promise<BullMqQueueEngine> }> {
  const redis = await freshRedis(extra);
  const engines: BullMqQueueEngine[] = [];
  onTestFinished(async () => {
    await Promise.all(engines.map((e) => e.close()));
    await redis.drop();
  });
  return {
    url: redis.url,
    prefix: redis.prefix,
    open: async () => {
      const engine = await BullMqQueueEngine.connect(redis.url);
      engines.push(engine);
      return engine;
    },
  };
}

/** A Redis server of the test's own on a free loopback port, for tests that stop it. */
async function privateRedisServer(): Promise<{ url: string; kill: () => Promise<void> }> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const server = spawn('redis-server', args, { stdio: 'ignore' });
  const exited = once(server, 'exit');
  server.on('error', () => {});
  const kill = async (): Promise<void> => {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    await exited;
  };
  onTestFinished(kill);
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { lazyConnect: true, retryStrategy: () => null });
  client.on('error', () => {}); // refusals until the server listens are expected
  await waitUntil(
    () =>
      client.connect().then(
        () => true,
        () => {
          if (server.exitCode !== null || server.signalCode !== null)
            throw new Error(
              `redis-server did not start on port ${port}; is it installed (${START_REDIS_COMMAND})?`,
            );
          return false;
        },
      ),
    'a private redis-server answers',
    10_000,
  );
  client.disconnect();
  return { url, kill };
}

/** A plain client for what the tests check behind the engine's back. */
function rawRedis(): Redis {
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  onTestFinished(() => redis.disconnect());
  return redis;
}

beforeAll(async () => {
  // A missing server is a red test that says how to start it, never a skip.
  const probe = await BullMqQueueEngine.connect(TEST_REDIS_URL);
  await probe.close();
});

describe('BullMqQueueEngine', () => {
  queueEngineContract(async () => (await freshQueue()).open());

  it('keeps jobs enqueued by one engine for another engine on the same prefix', async () => {
    const q = await freshQueue();
    const producer = await q.open();
    await producer.enqueueMany('tasks', tasks(100));
    await producer.close();

    const consumer = await q.open();
    expect((await consumer.depth('tasks')).waiting).toBe(100);
    const seen = new Set<number>();
    consumer.work('tasks', async (p) => void seen.add(p.taskId), {
      concurrency: 10,
      retry: { attempts: 1, baseDelayMs: 1 },
      onExhausted: ignoreExhausted,
    });
    await waitUntil(() => seen.size === 100, 'the second engine ran all 100 jobs');
    expect([...seen].sort((a, b) => a - b)).toEqual(tasks(100).map((t) => t.taskId));
  });

  it("serves BullMQ's own exposition: every queue's jobs by state and its completed and failed counters, each family once", async () => {
    const q = await freshQueue();
    const engine = await q.open();
    await engine.enqueueMany('tasks', tasks(30));
    await engine.enqueueMany('scraping', [
      { websiteId: 1, uploadId: 1, url: 'https://a.example/', company: null, name: null, notes: null },
    ]);
    let ran = 0;
    engine.work(
      'tasks',
      async (p) => {
        ran++;
        if (p.taskId % 10 === 0) throw new Error('refused');
      },
      { concurrency: 5, retry: { attempts: 1, baseDelayMs: 1 }, onExhausted: ignoreExhausted },
    );
    await waitUntil(async () => {
      const depth = await engine.depth('tasks');
      return depth.completed + depth.failed === 30;
    }, 'all 30 jobs ended');
    expect(ran).toBe(30);
    const text = await engine.exposition();
    // One HELP and one TYPE per family, however many queues: a strict parser refuses a repeat.
    for (const family of ['bullmq_job_count', 'bullmq_job_completed_total', 'bullmq_job_failed_total']) {
      expect(text.match(new RegExp(`^# HELP ${family} `, 'gm'))).toHaveLength(1);
      expect(text.match(new RegExp(`^# TYPE ${family} `, 'gm'))).toHaveLength(1);
    }
    expect(text).toMatch(/^bullmq_job_completed_total\{queue="tasks"\} 27$/m);
    expect(text).toMatch(/^bullmq_job_failed_total\{queue="tasks"\} 3$/m);
    expect(text).toMatch(/^bullmq_job_count\{queue="scraping", state="waiting"\} 1$/m);
    // A family's samples follow its TYPE line, from every queue.
    const lines = text.trim().split('\n');
    const type = lines.indexOf('# TYPE bullmq_job_completed_total counter');
    expect(
      lines.slice(type + 1, type + 1 + 4).every((l) => l.startsWith('bullmq_job_completed_total{')),
    ).toBe(true);
  });

  it('applies the retry policy of the worker, not of the engine that enqueued', async () => {
    const q = await freshQueue();
    const producer = await q.open();
    await producer.enqueue('tasks', task(1));
    await producer.close();

    const worker = await q.open();
    const attempts: number[] = [];
    worker.work(
      'tasks',
      async (_p, ctx) => {
        attempts.push(ctx.attempt);
        if (ctx.attempt < 4) throw new Error('flaky');
      },
      { concurrency: 1, retry: { attempts: 4, baseDelayMs: 5 }, onExhausted: ignoreExhausted },
    );
    await waitUntil(async () => (await worker.depth('tasks')).completed === 1, 'the job completed');
    expect(attempts).toEqual([1, 2, 3, 4]);
    expect(worker.stats().tasks).toEqual({ stalled: 0, retried: 3 });
  });

  it('runs every job of a worker process killed with SIGKILL, losing none', async ({ annotate }) => {
    const q = await freshQueue(FAST_STALL);
    const redis = rawRedis();
    const doneKey = `${q.prefix}:test-done`;
    const jobs = 60;
    const concurrency = 10;
    const producer = await q.open();
    await producer.enqueueMany('tasks', tasks(jobs));

    const child = forkModule(new URL('./bullmq-test-worker.js', import.meta.url), [
      q.url,
      doneKey,
      String(concurrency),
      '300',
    ]);
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    await waitUntil(async () => (await redis.hlen(doneKey)) >= 10, 'the child finished its first jobs');
    await waitUntil(async () => (await producer.depth('tasks')).active > 0, 'the child has jobs in flight');
    child.kill('SIGKILL');
    await once(child, 'exit');
    const doneByChild = await redis.hlen(doneKey);
    expect(doneByChild).toBeLessThan(jobs);

    const survivor = await q.open();
    survivor.work(
      'tasks',
      async (p) => {
        await redis.hincrby(doneKey, String(p.taskId), 1);
      },
      { concurrency, retry: { attempts: 3, baseDelayMs: 10 }, onExhausted: ignoreExhausted },
    );
    await waitUntil(async () => (await redis.hlen(doneKey)) === jobs, 'every job ran');
    await waitUntil(async () => {
      const depth = await survivor.depth('tasks');
      return depth.waiting + depth.active + depth.delayed === 0;
    }, 'the queue is empty');

    const runs = Object.values(await redis.hgetall(doneKey)).map(Number);
    const reruns = runs.filter((n) => n > 1).length;
    await annotate(`${doneByChild} jobs done before the kill; ${reruns} ran twice`);
    expect(runs).toHaveLength(jobs);
    expect(runs.every((n) => n >= 1)).toBe(true);
    // Only a job that was running at the kill can run again: one per slot at most.
    expect(reruns).toBeLessThanOrEqual(concurrency);
    expect(survivor.stats().tasks.stalled).toBeGreaterThan(0);
    expect(await survivor.depth('tasks')).toMatchObject({ failed: 0 });
  });

  it('puts a job cut short by close back in the queue and runs it after a restart, at the same attempt', async () => {
    const q = await freshQueue();
    const first = await q.open();
    let started = false;
    const exhausted: unknown[] = [];
    first.work(
      'tasks',
      async (_p, ctx) => {
        started = true;
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
        ctx.signal.throwIfAborted();
      },
      {
        concurrency: 1,
        retry: { attempts: 1, baseDelayMs: 1 },
        onExhausted: async (_p, err) => void exhausted.push(err),
      },
    );
    await first.enqueue('tasks', task(7));
    await waitUntil(() => started, 'the long job started');
    await first.close();
    expect(exhausted).toEqual([]);

    const second = await q.open();
    expect(await second.depth('tasks')).toEqual({
      waiting: 1,
      active: 0,
      delayed: 0,
      failed: 0,
      completed: 0,
    });
    const runs: Array<{ taskId: number; attempt: number }> = [];
    second.work('tasks', async (p, ctx) => void runs.push({ taskId: p.taskId, attempt: ctx.attempt }), {
      concurrency: 1,
      retry: { attempts: 1, baseDelayMs: 1 },
      onExhausted: ignoreExhausted,
    });
    await waitUntil(
      async () => (await second.depth('tasks')).completed === 1,
      'the job completed after the restart',
    );
    expect(runs).toEqual([{ taskId: 7, attempt: 1 }]);
  });

  it('lets a job finishing during close hand its work to the next queue', async () => {
    const q = await freshQueue();
    const first = await q.open();
    let started = false;
    const row = {
      websiteId: 1,
      uploadId: 1,
      url: 'https://a.example',
      company: null,
      name: null,
      notes: null,
    };
    first.work(
      'scraping',
      async (job) => {
        started = true;
        await sleep(200);
        await first.enqueue('ai_processing', { ...job, page: page() });
      },
      { concurrency: 1, retry: { attempts: 1, baseDelayMs: 1 }, onExhausted: ignoreExhausted },
    );
    await first.enqueue('scraping', row);
    await waitUntil(() => started, 'the scrape started');
    await first.close();

    const second = await q.open();
    expect(await second.depth('scraping')).toMatchObject({ waiting: 0, active: 0, completed: 1 });
    expect(await second.depth('ai_processing')).toMatchObject({ waiting: 1 });
  });

  it('records a failure that could not be recorded on a later try, without running the job again', async () => {
    const q = await freshQueue();
    const engine = await q.open();
    let handlerRuns = 0;
    let recordTries = 0;
    const recorded: string[] = [];
    engine.work(
      'tasks',
      async () => {
        handlerRuns++;
        throw new Error('site down');
      },
      {
        concurrency: 1,
        retry: { attempts: 2, baseDelayMs: 5 },
        onExhausted: async (_p, err) => {
          if (++recordTries === 1) throw new Error('store down');
          recorded.push((err as Error).message);
        },
      },
    );
    await engine.enqueue('tasks', task(1));
    await waitUntil(async () => (await engine.depth('tasks')).failed === 1, 'the job failed for good');
    expect({ handlerRuns, recordTries, recorded }).toEqual({
      handlerRuns: 2,
      recordTries: 2,
      recorded: ['site down'],
    });
  });

  it('closes instead of waiting for ever when Redis went away with jobs in flight', async () => {
    const server = await privateRedisServer();
    // Refused reconnections are the point here, not news.
    const engine = await BullMqQueueEngine.connect(server.url, { onError: () => {} });
    onTestFinished(() => engine.close());
    let ran = 0;
    engine.work(
      'tasks',
      async () => {
        ran++;
        await sleep(100);
      },
      { concurrency: 5, retry: { attempts: 1, baseDelayMs: 1 }, onExhausted: ignoreExhausted },
    );
    await engine.enqueueMany('tasks', tasks(50));
    await waitUntil(() => ran >= 5, 'jobs started');
    await server.kill();
    const enqueued = engine.enqueue('tasks', task(99)).then(
      () => 'enqueued',
      (err: Error) => `refused: ${err.message}`,
    );
    let closed = false;
    void engine.close().then(() => {
      closed = true;
    });
    await waitUntil(() => closed, 'close() resolved', 30_000);
    expect(await enqueued).toMatch(/^refused: /);
  });

  it('reads the key prefix from the URL', async () => {
    const q = await freshQueue(FAST_STALL);
    const engine = await q.open();
    await engine.enqueue('tasks', task(1));
    const keys = await rawRedis().keys(`${q.prefix}:tasks:*`);
    expect(keys.length).toBeGreaterThan(0);
  });

  it('refuses a URL whose engine options are not valid, before connecting', async () => {
    const attempt = BullMqQueueEngine.connect(`${TEST_REDIS_URL}?lockDurationMs=soon&prefix=`);
    await expect(attempt).rejects.toBeInstanceOf(ConfigInvalidError);
    await expect(attempt).rejects.toThrow(
      'lockDurationMs: must be a positive whole number of milliseconds (got "soon")',
    );
    await expect(attempt).rejects.toThrow('prefix: must not be empty');
  });

  it('fails fast with StoreUnavailableError naming the command that starts Redis when nothing listens', async () => {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    const attempt = BullMqQueueEngine.connect('redis://127.0.0.1:1', { connectTimeoutMs: 2_000 });
    await expect(attempt).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(attempt).rejects.toMatchObject({ code: ErrorCode.StoreUnavailable });
    await expect(attempt).rejects.toThrow(START_REDIS_COMMAND);
  });

  it('is what openQueueEngine returns for a redis:// URL', async () => {
    const q = await freshQueue();
    const engine = await openQueueEngine(q.url);
    onTestFinished(() => engine.close());
    expect(engine).toBeInstanceOf(BullMqQueueEngine);
    expect(engine.kind).toBe('bullmq');
  });
});
