import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { InProcessQueueEngine } from './in-process-queue-engine.js';
import { queueEngineContract } from './queue-engine-contract.js';

describe('InProcessQueueEngine', () => {
  queueEngineContract(async () => new InProcessQueueEngine());

  it('drains a backlog of 200,000 jobs at concurrency 500', async () => {
    const engine = new InProcessQueueEngine();
    let sum = 0;
    engine.work(
      'tasks',
      async (p) => {
        sum += p.taskId;
      },
      {
        concurrency: 500,
        retry: { attempts: 1, baseDelayMs: 1 },
        onExhausted: async () => {},
      },
    );
    const n = 200_000;
    await engine.enqueueMany(
      'tasks',
      Array.from({ length: n }, (_, i) => ({ taskId: i, type: 'sleep', workMs: 0 })),
    );
    while ((await engine.depth('tasks')).completed < n) await sleep(10);
    expect(sum).toBe((n * (n - 1)) / 2);
    await engine.close();
  });
});
