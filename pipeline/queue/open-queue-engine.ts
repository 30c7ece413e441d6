import { ConfigInvalidError } from '../../errors.js';
import { InProcessQueueEngine } from './in-process-queue-engine.js';
import type { QueueEngine } from './queue-engine.js';

/** The one place that picks a queue driver: none → in-process; `redis://` → BullMQ. */
export async function openQueueEngine(url?: string): Promise<QueueEngine> {
  if (!url || url === 'in-process') return new InProcessQueueEngine();
  if (/^rediss?:\/\//.test(url)) {
    throw new ConfigInvalidError('queue', [
      `${url}: the BullMQ engine is not available in this build; omit --queue to use the in-process queue`,
    ]);
  }
  throw new ConfigInvalidError('queue', [`${url}: must be "in-process" or a redis:// URL`]);
}
