/**
 * A worker process for the BullMQ engine's tests, forked with `forkModule`:
 *   bullmq-test-worker.ts <queue URL> <done hash key> <concurrency> <workMs>
 * Each `tasks` job sleeps `workMs` plus up to 90% more (by task id, so that jobs started together
 * end apart), then counts itself in the Redis hash (field = task id): a test that SIGKILLs this
 * process can tell which jobs ran and which ran twice. Sends `ready` once its worker is registered.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { BullMqQueueEngine } from './bullmq-queue-engine.js';

const [url, doneKey, concurrency, workMs] = process.argv.slice(2);
if (!url || !doneKey || !concurrency || !workMs) {
  throw new Error('usage: bullmq-test-worker.ts <queue URL> <done hash key> <concurrency> <workMs>');
}
const engine = await BullMqQueueEngine.connect(url);
const redis = new Redis(url.replace(/\?.*$/, ''), { maxRetriesPerRequest: null });
engine.work(
  'tasks',
  async (p) => {
    await sleep(Number(workMs) * (1 + (p.taskId % 10) / 10));
    await redis.hincrby(doneKey, String(p.taskId), 1);
  },
  { concurrency: Number(concurrency), retry: { attempts: 3, baseDelayMs: 10 }, onExhausted: async () => {} },
);
process.send?.('ready');
process.on('SIGTERM', () => {
  void engine.close().then(() => {
    redis.disconnect();
    process.exit(0);
  });
});
