import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, onTestFinished } from 'vitest';
import { QueueClosedError } from '../../errors.js';
import type { JobPayload, QueueEngine, RetryPolicy } from './queue-engine.js';

const noRetry: RetryPolicy = { attempts: 1, baseDelayMs: 1 };
const ignoreExhausted = async (): Promise<void> => {};
const task = (taskId: number): JobPayload['tasks'] => ({ taskId, type: 'sleep', workMs: 0 });
const tasks = (count: number): JobPayload['tasks'][] => Array.from({ length: count }, (_, i) => task(i));

/** Polls `check` until it holds; fails with `what` rather than waiting for the test timeout. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`still waiting after ${timeoutMs} ms: ${what}`);
    await sleep(5);
  }
}

/**
 * The behaviour every QueueEngine driver must show, as a vitest suite. `open` returns a fresh
 * engine with empty queues; each test closes its own (the opener may also clean up after it).
 */
export function queueEngineContract(open: () => Promise<QueueEngine>): void {
  describe('QueueEngine contract', () => {
    async function fresh(): Promise<QueueEngine> {
      const engine = await open();
      onTestFinished(() => engine.close());
      return engine;
    }

    it('runs jobs in the order they were enqueued when concurrency is 1', async () => {
      const engine = await fresh();
      const seen: number[] = [];
      engine.work('tasks', async (p) => void seen.push(p.taskId), {
        concurrency: 1,
        retry: noRetry,
        onExhausted: ignoreExhausted,
      });
      await engine.enqueueMany('tasks', tasks(50));
      await waitUntil(() => seen.length >= 50, 'all 50 jobs ran');
      expect(seen).toEqual(tasks(50).map((t) => t.taskId));
      await engine.close();
    });

    it('never runs more jobs at once than the concurrency', async () => {
      const engine = await fresh();
      let running = 0;
      let peak = 0;
      let done = 0;
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      engine.work(
        'tasks',
        async () => {
          running++;
          peak = Math.max(peak, running);
          await gate;
          running--;
          done++;
        },
        { concurrency: 7, retry: noRetry, onExhausted: ignoreExhausted },
      );
      await engine.enqueueMany('tasks', tasks(30));
      await waitUntil(() => running === 7, '7 jobs running');
      // Room for an eighth job to start, were the bound not kept.
      await sleep(300);
      expect(running).toBe(7);
      release();
      await waitUntil(() => done === 30, 'all 30 jobs done');
      expect(peak).toBe(7);
      await engine.close();
    });

    it('retries a failing job with backoff and numbers its attempts 1, 2, 3', async () => {
      const engine = await fresh();
      const attempts: Array<{ attempt: number; atMs: number }> = [];
      const baseDelayMs = 50;
      engine.work(
        'tasks',
        async (_p, ctx) => {
          attempts.push({ attempt: ctx.attempt, atMs: Date.now() });
          if (ctx.attempt < 3) throw new Error('flaky');
        },
        { concurrency: 1, retry: { attempts: 3, baseDelayMs }, onExhausted: ignoreExhausted },
      );
      await engine.enqueue('tasks', task(1));
      await waitUntil(async () => (await engine.depth('tasks')).completed >= 1, 'the job completed');
      expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
      // The n-th retry waits at least 80% of baseDelayMs × 2^(n−1) (the jitter's low end).
      const [first, second, third] = attempts.map((a) => a.atMs) as [number, number, number];
      expect(second - first).toBeGreaterThanOrEqual(0.8 * baseDelayMs - 2);
      expect(third - second).toBeGreaterThanOrEqual(0.8 * baseDelayMs * 2 - 2);
      expect(await engine.depth('tasks')).toMatchObject({ completed: 1, failed: 0, delayed: 0 });
      await engine.close();
    });

    it('calls onExhausted once, with the last error, when every attempt fails', async () => {
      const engine = await fresh();
      const exhausted: Array<{ id: number; message: string }> = [];
      engine.work(
        'tasks',
        async (_p, ctx) => {
          throw new Error(`attempt ${ctx.attempt}`);
        },
        {
          concurrency: 2,
          retry: { attempts: 2, baseDelayMs: 1 },
          onExhausted: async (p, err) =>
            void exhausted.push({ id: p.taskId, message: (err as Error).message }),
        },
      );
      await engine.enqueue('tasks', task(9));
      await waitUntil(async () => (await engine.depth('tasks')).failed >= 1, 'the job failed');
      expect(exhausted).toEqual([{ id: 9, message: 'attempt 2' }]);
      expect(await engine.depth('tasks')).toMatchObject({ waiting: 0, active: 0, delayed: 0, failed: 1 });
      await engine.close();
    });

    it('waits for running jobs on close and refuses new ones after it', async () => {
      const engine = await fresh();
      let started = false;
      let finished = false;
      engine.work(
        'tasks',
        async () => {
          started = true;
          await sleep(200);
          finished = true;
        },
        { concurrency: 1, retry: noRetry, onExhausted: ignoreExhausted },
      );
      await engine.enqueue('tasks', task(1));
      await waitUntil(() => started, 'the job started');
      await engine.close();
      expect(finished).toBe(true);
      await expect(engine.enqueue('tasks', task(2))).rejects.toBeInstanceOf(QueueClosedError);
      await expect(engine.enqueueMany('tasks', [task(3)])).rejects.toBeInstanceOf(QueueClosedError);
      await engine.close();
    });

    it('aborts the signal of running jobs on close without counting them as failed', async () => {
      const engine = await fresh();
      let signal: AbortSignal | undefined;
      const exhausted: unknown[] = [];
      engine.work(
        'tasks',
        async (_p, ctx) => {
          signal = ctx.signal;
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
          ctx.signal.throwIfAborted();
        },
        { concurrency: 1, retry: noRetry, onExhausted: async (_p, err) => void exhausted.push(err) },
      );
      await engine.enqueue('tasks', task(1));
      await waitUntil(() => signal !== undefined, 'the job started');
      expect(signal?.aborted).toBe(false);
      await engine.close();
      expect(signal?.aborted).toBe(true);
      expect(exhausted).toEqual([]);
    });

    it('reports waiting jobs before a worker is attached', async () => {
      const engine = await fresh();
      await engine.enqueueMany('scraping', [
        { websiteId: 1, uploadId: 1, url: 'https://a.example', company: null, name: null, notes: null },
        { websiteId: 2, uploadId: 1, url: 'https://b.example', company: null, name: null, notes: null },
      ]);
      await engine.enqueue('tasks', task(1));
      expect(await engine.depth('scraping')).toEqual({
        waiting: 2,
        active: 0,
        delayed: 0,
        failed: 0,
        completed: 0,
      });
      expect(await engine.depth('tasks')).toEqual({
        waiting: 1,
        active: 0,
        delayed: 0,
        failed: 0,
        completed: 0,
      });
      expect(await engine.depth('ai_processing')).toEqual({
        waiting: 0,
        active: 0,
        delayed: 0,
        failed: 0,
        completed: 0,
      });
      await engine.close();
    });

    it('adds a named job once while it is live, and again after it ended', async () => {
      const engine = await fresh();
      const ran: number[] = [];
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      engine.work(
        'tasks',
        async (p) => {
          ran.push(p.taskId);
          await gate;
        },
        { concurrency: 1, retry: noRetry, onExhausted: ignoreExhausted },
      );
      const named = { jobIdOf: (p: { taskId: number }) => `task:${p.taskId}` };
      await engine.enqueueMany('tasks', [task(1), task(2)], named);
      await waitUntil(() => ran.length === 1, 'the first job started');
      await engine.enqueueMany('tasks', [task(1), task(2)], named); // one running, one waiting: both live
      await engine.enqueue('tasks', task(2), named);
      expect(await engine.depth('tasks')).toMatchObject({ waiting: 1, active: 1 });
      release();
      await waitUntil(async () => (await engine.depth('tasks')).completed >= 2, 'both jobs completed');
      await engine.enqueue('tasks', task(1), named);
      await waitUntil(async () => (await engine.depth('tasks')).completed >= 3, 'the third job completed');
      expect(ran).toEqual([1, 2, 1]);
      await engine.close();
    });

    it('frees the name of a named job that failed for good', async () => {
      const engine = await fresh();
      let runs = 0;
      engine.work(
        'tasks',
        async () => {
          runs++;
          throw new Error('always');
        },
        { concurrency: 1, retry: noRetry, onExhausted: ignoreExhausted },
      );
      const named = { jobIdOf: (p: { taskId: number }) => `task:${p.taskId}` };
      await engine.enqueue('tasks', task(1), named);
      await waitUntil(async () => (await engine.depth('tasks')).failed >= 1, 'the first job failed');
      await engine.enqueue('tasks', task(1), named);
      await waitUntil(async () => (await engine.depth('tasks')).failed >= 2, 'the second job failed');
      expect(runs).toBe(2);
      await engine.close();
    });

    it('drains a backlog of 20,000 jobs, running each once', async () => {
      const engine = await fresh();
      const n = 20_000;
      await engine.enqueueMany('tasks', tasks(n));
      expect((await engine.depth('tasks')).waiting).toBe(n);
      const runs = new Uint8Array(n);
      let done = 0;
      engine.work(
        'tasks',
        async (p) => {
          runs[p.taskId]!++;
          done++;
        },
        { concurrency: 100, retry: noRetry, onExhausted: ignoreExhausted },
      );
      await waitUntil(() => done >= n, `${n} jobs ran`, 100_000);
      expect(runs.every((r) => r === 1)).toBe(true);
      await waitUntil(async () => (await engine.depth('tasks')).completed >= n, 'all counted as completed');
      expect(await engine.depth('tasks')).toEqual({
        waiting: 0,
        active: 0,
        delayed: 0,
        failed: 0,
        completed: n,
      });
      await engine.close();
    });
  });
}
