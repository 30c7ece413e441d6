import { ConfigInvalidError } from '../../errors.js';
import { InProcessQueueEngine } from './in-process-queue-engine.js';
import type { QueueEngine } from './queue-engine.js';

/** The one place that picks a queue driver: none → in-process; `redis://` → BullMQ. */
export async function openQueueEngine(url?: string): Promise<QueueEngine> {
  if (!url || url === 'in-process') return new InProcessQueueEngine();
  if (/^rediss?:\/\//.test(url)) {
    // Lazy: an offline run never loads a Redis client.
    const { BullMqQueueEngine } = await import('./bullmq-queue-engine.js');
    return BullMqQueueEngine.connect(url);
  }
  throw new ConfigInvalidError('queue', [`${url}: must be "in-process" or a redis:// URL`]);
}
