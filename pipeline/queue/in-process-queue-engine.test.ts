import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { QueueClosedError } from '../../errors.js';
import { InProcessQueueEngine } from './in-process-queue-engine.js';

const noRetry = { attempts: 1, baseDelayMs: 1 };
const task = (taskId: number) => ({ taskId, type: 'sleep', workMs: 0 });

describe('InProcessQueueEngine', () => {
  it('runs jobs in the order they were enqueued when concurrency is 1', async () => {
    const engine = new InProcessQueueEngine();
    const seen: number[] = [];
    engine.work('tasks', async (p) => void seen.push(p.taskId), {
      concurrency: 1,
      retry: noRetry,
      onExhausted: async () => {},
    });
    await engine.enqueueMany(
      'tasks',
      Array.from({ length: 50 }, (_, i) => task(i)),
    );
    while (seen.length < 50) await sleep(5);
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i));
    await engine.close();
  });

  it('never runs more jobs at once than the concurrency', async () => {
    const engine = new InProcessQueueEngine();
    let running = 0;
    let peak = 0;
    let done = 0;
    engine.work(
      'tasks',
      async () => {
        running++;
        peak = Math.max(peak, running);
        await sleep(2);
        running--;
        done++;
      },
      { concurrency: 7, retry: noRetry, onExhausted: async () => {} },
    );
    await engine.enqueueMany(
      'tasks',
      Array.from({ length: 100 }, (_, i) => task(i)),
    );
    while (done < 100) await sleep(5);
    expect(peak).toBe(7);
    await engine.close();
  });

  it('retries a failing job with backoff and counts the attempt', async () => {
    const engine = new InProcessQueueEngine();
    const attempts: number[] = [];
    engine.work(
      'tasks',
      async (_p, ctx) => {
        attempts.push(ctx.attempt);
        if (ctx.attempt < 3) throw new Error('flaky');
      },
      { concurrency: 1, retry: { attempts: 3, baseDelayMs: 5 }, onExhausted: async () => {} },
    );
    await engine.enqueue('tasks', task(1));
    while ((await engine.depth('tasks')).completed < 1) await sleep(5);
    expect(attempts).toEqual([1, 2, 3]);
    expect(await engine.depth('tasks')).toMatchObject({ completed: 1, failed: 0, delayed: 0 });
    await engine.close();
  });

  it('calls onExhausted once with the last error when every attempt fails', async () => {
    const engine = new InProcessQueueEngine();
    const exhausted: Array<{ id: number; message: string }> = [];
    engine.work(
      'tasks',
      async (_p, ctx) => {
        throw new Error(`attempt ${ctx.attempt}`);
      },
      {
        concurrency: 2,
        retry: { attempts: 2, baseDelayMs: 1 },
        onExhausted: async (p, err) => void exhausted.push({ id: p.taskId, message: (err as Error).message }),
      },
    );
    await engine.enqueue('tasks', task(9));
    while ((await engine.depth('tasks')).failed < 1) await sleep(5);
    expect(exhausted).toEqual([{ id: 9, message: 'attempt 2' }]);
    await engine.close();
  });

  it('waits for running jobs on close and refuses new ones after it', async () => {
    const engine = new InProcessQueueEngine();
    let finished = false;
    engine.work(
      'tasks',
      async () => {
        await sleep(50);
        finished = true;
      },
      { concurrency: 1, retry: noRetry, onExhausted: async () => {} },
    );
    await engine.enqueue('tasks', task(1));
    await sleep(5);
    await engine.close();
    expect(finished).toBe(true);
    await expect(engine.enqueue('tasks', task(2))).rejects.toBeInstanceOf(QueueClosedError);
    await engine.close();
  });

  it('reports waiting jobs before a worker is attached', async () => {
    const engine = new InProcessQueueEngine();
    await engine.enqueueMany('scraping', [
      { websiteId: 1, uploadId: 1, url: 'https://a.example', company: null, name: null, notes: null },
      { websiteId: 2, uploadId: 1, url: 'https://b.example', company: null, name: null, notes: null },
    ]);
    expect(await engine.depth('scraping')).toEqual({
      waiting: 2,
      active: 0,
      delayed: 0,
      failed: 0,
      completed: 0,
    });
    await engine.close();
  });

  it('adds a named job once while it is live, and again after it ended', async () => {
    const engine = new InProcessQueueEngine();
    const ran: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    engine.work(
      'tasks',
      async (p) => {
        ran.push(p.taskId);
        await gate;
      },
      { concurrency: 1, retry: noRetry, onExhausted: async () => {} },
    );
    const named = { jobIdOf: (p: { taskId: number }) => `task:${p.taskId}` };
    await engine.enqueueMany('tasks', [task(1), task(2)], named);
    await engine.enqueueMany('tasks', [task(1), task(2)], named); // one running, one waiting: both live
    expect((await engine.depth('tasks')).waiting).toBe(1);
    release();
    while ((await engine.depth('tasks')).completed < 2) await sleep(5);
    await engine.enqueue('tasks', task(1), named);
    while ((await engine.depth('tasks')).completed < 3) await sleep(5);
    expect(ran).toEqual([1, 2, 1]);
    await engine.close();
  });

  it('drains a large backlog completely', async () => {
    const engine = new InProcessQueueEngine();
    let sum = 0;
    engine.work(
      'tasks',
      async (p) => {
        sum += p.taskId;
      },
      {
        concurrency: 500,
        retry: noRetry,
        onExhausted: async () => {},
      },
    );
    const n = 200_000;
    await engine.enqueueMany(
      'tasks',
      Array.from({ length: n }, (_, i) => task(i)),
    );
    while ((await engine.depth('tasks')).completed < n) await sleep(10);
    expect(sum).toBe((n * (n - 1)) / 2);
    await engine.close();
  });
});
