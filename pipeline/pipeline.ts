import type { FastifyInstance } from 'fastify';
import { ChatClient } from './ai/chat-client.js';
import { buildApi } from './api/api.js';
import { type PipelineConfig, type PipelineConfigInput, parsePipelineConfig } from './pipeline-config.js';
import { PipelineMetrics } from './pipeline-metrics.js';
import { startWorkers } from './pipeline-workers.js';
import { openQueueEngine } from './queue/open-queue-engine.js';
import type { QueueEngine, QueueName } from './queue/queue-engine.js';
import { Scraper } from './scraper/scraper.js';
import { openStore } from './store/open-store.js';
import type { Store } from './store/store.js';
import { WriteBatcher } from './write-batcher.js';

/** A started reference pipeline: API listening, workers running (unless disabled). */
export interface RunningPipeline {
  /** Base URL of the API, e.g. http://127.0.0.1:3000/api/v1 */
  apiUrl: string;
  config: PipelineConfig;
  store: Store;
  queue: QueueEngine;
  metrics: PipelineMetrics;
  app: FastifyInstance;
  /** Uploads whose in-flight rows were put back on the queue at start (recovery after a stop). */
  recoveredUploads: number[];
  /**
   * Attaches workers to the given queues (when started with `workers: false`). Benchmarks use it to
   * run one stage at a time and measure its CPU cost on its own.
   */
  startWorkers(queues: readonly QueueName[]): void;
  /** Stops the API, lets running jobs finish, commits buffered writes; safe to call twice. */
  close(): Promise<void>;
}

/** Starts the reference pipeline on the given configuration (validated here, at the edge). */
export async function startPipeline(input: PipelineConfigInput = {}): Promise<RunningPipeline> {
  const config = parsePipelineConfig(input);
  const store = await openStore(config.store);
  const queue = await openQueueEngine(config.queue);
  const metrics = new PipelineMetrics(queue);
  const scraper = new Scraper(config.scraper);
  const chat = new ChatClient(config.llm);
  const batcher = new WriteBatcher(store, config.writeBatch, async (uploads) => {
    for (const id of uploads) await store.completeUploadIfDone(id);
  });
  const app = await buildApi({ config, store, queue, metrics });

  const deps = { config, store, queue, scraper, chat, batcher, metrics };
  const recoveredUploads: number[] = [];
  if (config.workers) {
    startWorkers(deps);
    // The in-process queue forgets its jobs when the process stops; the store does not. Rows that
    // were handed to a queue before the stop go back to pending and the upload is dispatched again.
    if (queue.kind === 'in-process') {
      for (const uploadId of await store.listUnfinishedUploads()) {
        await store.requeueInFlight(uploadId);
        await queue.enqueue('file_processing', { uploadId });
        recoveredUploads.push(uploadId);
      }
    }
  }

  const address = await app.listen({ host: config.http.host, port: config.http.port });
  let closing: Promise<void> | undefined;
  return {
    apiUrl: `${address}/api/v1`,
    config,
    store,
    queue,
    metrics,
    app,
    recoveredUploads,
    startWorkers: (queues) => startWorkers(deps, queues),
    close: () =>
      (closing ??= (async () => {
        await app.close();
        await queue.close();
        await batcher.flush();
        await scraper.close();
        await chat.close();
        await store.close();
      })()),
  };
}
