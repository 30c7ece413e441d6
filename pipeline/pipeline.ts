import type { FastifyInstance } from 'fastify';
import { ChatClient } from './ai/chat-client.js';
import { buildApi } from './api/api.js';
import { type PipelineConfig, type PipelineConfigInput, parsePipelineConfig } from './pipeline-config.js';
import { PipelineMetrics } from './pipeline-metrics.js';
import { startWorkers, type WorkerDeps } from './pipeline-workers.js';
import { openQueueEngine } from './queue/open-queue-engine.js';
import { QUEUE_NAMES, type QueueEngine, type QueueName } from './queue/queue-engine.js';
import { MemoryScrapeCache, RedisScrapeCache, type ScrapeCache } from './scraper/scrape-cache.js';
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

/** The parts every pipeline process opens: store, queue, scraper, LLM client, write batcher, metrics. */
interface PipelineParts {
  deps: WorkerDeps;
  /** Stops the queue (running jobs finish), commits buffered writes, closes clients and the store. */
  close(): Promise<void>;
}

async function openParts(config: PipelineConfig, role: 'api' | 'worker'): Promise<PipelineParts> {
  const store = await openStore(config.store);
  const queue = await openQueueEngine(config.queue).catch(async (err: unknown) => {
    await store.close();
    throw err;
  });
  const metrics = new PipelineMetrics(queue, store, { rowsByStatus: role === 'api' });
  const scraper = new Scraper(config.scraper);
  const chat = new ChatClient({
    ...config.llm,
    onAttempt: (status) => metrics.llmAttempts.inc({ status: String(status) }),
  });
  const scrapeCache = await openScrapeCache(config.scrapeCache);
  const batcher = new WriteBatcher(store, config.writeBatch, async (uploads) => {
    for (const id of uploads) await store.completeUploadIfDone(id);
  });
  return {
    deps: { config, store, queue, scraper, scrapeCache, chat, batcher, metrics },
    async close() {
      await queue.close();
      await batcher.flush();
      await scraper.close();
      await scrapeCache?.close();
      await chat.close();
      await store.close();
    },
  };
}

async function openScrapeCache(opts: PipelineConfig['scrapeCache']): Promise<ScrapeCache | undefined> {
  if (opts.url === 'none') return undefined;
  if (opts.url === 'memory') return new MemoryScrapeCache(opts.ttlSeconds * 1000, opts.maxEntries);
  return RedisScrapeCache.connect(opts.url, opts.ttlSeconds);
}

/** Starts the reference pipeline on the given configuration (validated here, at the edge). */
export async function startPipeline(input: PipelineConfigInput = {}): Promise<RunningPipeline> {
  const config = parsePipelineConfig(input);
  const parts = await openParts(config, 'api');
  const { deps } = parts;
  const { store, queue, metrics } = deps;
  const app = await buildApi({ config, store, queue, metrics });

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
        await parts.close();
      })()),
  };
}

/** A process that runs queue workers only (no API), e.g. `headroom pipeline worker`. */
export interface RunningWorker {
  config: PipelineConfig;
  queues: readonly QueueName[];
  metrics: PipelineMetrics;
  /** Stops taking jobs, lets running ones finish, commits buffered writes; safe to call twice. */
  close(): Promise<void>;
}

/**
 * Starts workers for `queues` against a shared store and queue (PostgreSQL and Redis, so that
 * several such processes, on this machine or others, share the work).
 */
export async function startPipelineWorker(
  input: PipelineConfigInput,
  queues: readonly QueueName[] = QUEUE_NAMES,
): Promise<RunningWorker> {
  const config = parsePipelineConfig(input);
  const parts = await openParts(config, 'worker');
  startWorkers(parts.deps, queues);
  let closing: Promise<void> | undefined;
  return {
    config,
    queues,
    metrics: parts.deps.metrics,
    close: () => (closing ??= parts.close()),
  };
}
