import { setTimeout as sleep } from 'node:timers/promises';
import { LlmFailedError } from '../errors.js';
import type { ChatClient } from './ai/chat-client.js';
import { buildPrompt } from './ai/prompt.js';
import type { PipelineConfig } from './pipeline-config.js';
import type { PipelineMetrics } from './pipeline-metrics.js';
import type { JobContext, JobHandler, QueueEngine, QueueName, WorkOptions } from './queue/queue-engine.js';
import type { ScrapeCache } from './scraper/scrape-cache.js';
import type { ScrapeResult } from './scraper/scrape-result.js';
import type { Scraper } from './scraper/scraper.js';
import type { FailureStage, Store, WebsiteJob } from './store/store.js';
import type { WriteBatcher } from './write-batcher.js';

export interface WorkerDeps {
  config: PipelineConfig;
  store: Store;
  queue: QueueEngine;
  scraper: Scraper;
  scrapeCache?: ScrapeCache;
  chat: ChatClient;
  batcher: WriteBatcher;
  metrics: PipelineMetrics;
}

/**
 * How far ahead of the scrapers the dispatcher may fill the scraping queue, in multiples of its
 * concurrency: enough that a scraper never waits for work, little enough that a 500,000-row upload
 * is not copied into the queue (memory, and Redis, for a distributed queue) all at once.
 */
const DISPATCH_AHEAD = 2;
const DISPATCH_POLL_MS = 20;

/** One live job per row and stage, whatever re-dispatching happens after a crash. */
const scrapeJobId = { jobIdOf: (job: { websiteId: number }) => `scrape:${job.websiteId}` };
const aiJobId = { jobIdOf: (job: { websiteId: number }) => `ai:${job.websiteId}` };

/** Registers the handlers of every queue the pipeline uses on `queues` (default: all). */
export function startWorkers(deps: WorkerDeps, queues: readonly QueueName[] = allQueues): void {
  const { config, queue } = deps;
  const retry = config.retry;
  const on = <Q extends QueueName>(
    name: Q,
    handler: JobHandler<Q>,
    onExhausted: WorkOptions<Q>['onExhausted'],
  ): void => {
    if (!queues.includes(name)) return;
    deps.metrics.workerSlots.set({ queue: name }, config.concurrency[name]);
    queue.work(name, timed(deps.metrics, name, handler), {
      concurrency: config.concurrency[name],
      retry,
      onExhausted,
    });
  };
  on(
    'file_processing',
    (p, ctx) => dispatchUpload(deps, p.uploadId, ctx.signal),
    async () => {},
  );
  on(
    'scraping',
    (job) => scrapeRow(deps, job),
    async (job, err) => {
      await failRow(deps, job, 'scrape', describe(err));
    },
  );
  on(
    'ai_processing',
    (job) => writeMessage(deps, job),
    async (job, err) => {
      deps.metrics.aiOutcomes.inc({ outcome: 'failed' });
      await failRow(deps, job, 'ai', describe(err));
    },
  );
  on(
    'tasks',
    (t, ctx) => runTask(deps, t, ctx),
    async (t, err) => {
      await deps.store.failTask(t.taskId, describe(err));
    },
  );
}

const allQueues: readonly QueueName[] = ['file_processing', 'scraping', 'ai_processing', 'tasks'];

function timed<Q extends QueueName>(
  metrics: PipelineMetrics,
  queue: Q,
  handler: JobHandler<Q>,
): JobHandler<Q> {
  return async (payload, ctx) => {
    const startMs = Date.now();
    if (ctx.attempt === 1) metrics.queueWait.observe({ queue }, (startMs - ctx.enqueuedAtMs) / 1000);
    else metrics.jobRetries.inc({ queue });
    let outcome = 'failed';
    metrics.jobsActive.inc({ queue });
    try {
      await handler(payload, ctx);
      outcome = 'completed';
    } finally {
      metrics.jobsActive.dec({ queue });
      metrics.jobDuration.observe({ queue, outcome }, (Date.now() - startMs) / 1000);
    }
  };
}

/** Hands the upload's pending rows to the scraping queue in batches, keeping the queue bounded. */
async function dispatchUpload(deps: WorkerDeps, uploadId: number, signal: AbortSignal): Promise<void> {
  const { store, queue, config } = deps;
  const highWater = config.concurrency.scraping * DISPATCH_AHEAD;
  // Rows claimed by an earlier run of this job that stopped before enqueueing them: hand them over
  // again. Named jobs make it harmless for rows whose jobs do exist.
  for (let afterId = 0; ; ) {
    const jobs = await store.listQueued(uploadId, afterId, config.uploads.dispatchBatchSize);
    if (jobs.length === 0) break;
    await queue.enqueueMany('scraping', jobs, scrapeJobId);
    afterId = jobs[jobs.length - 1]!.websiteId;
  }
  for (;;) {
    while ((await queue.depth('scraping')).waiting > highWater) {
      // On shutdown the queue stops draining; the rest of the upload waits for the next start.
      signal.throwIfAborted();
      await sleep(DISPATCH_POLL_MS);
    }
    const jobs = await store.claimPending(uploadId, config.uploads.dispatchBatchSize);
    if (jobs.length === 0) break;
    await queue.enqueueMany('scraping', jobs, scrapeJobId);
  }
  await store.completeUploadIfDone(uploadId);
}

async function scrapeRow(deps: WorkerDeps, job: Parameters<JobHandler<'scraping'>>[0]): Promise<void> {
  const cached = await cachedPage(deps, job.url);
  let page: ScrapeResult;
  if (cached) {
    page = { ...cached, durationMs: 0 };
  } else {
    const outcome = await deps.scraper.scrape(job.url);
    if (!outcome.ok) {
      deps.metrics.scrapeOutcomes.inc({ outcome: outcome.kind });
      await failRow(deps, job, 'scrape', outcome.reason);
      return;
    }
    deps.metrics.scrapeOutcomes.inc({ outcome: 'ok' });
    page = outcome.page;
    await deps.scrapeCache?.set(job.url, page);
  }
  await deps.batcher.saveScrape({
    websiteId: job.websiteId,
    uploadId: job.uploadId,
    finalUrl: page.finalUrl,
    httpStatus: page.httpStatus,
    title: page.title,
    description: page.description,
    excerpt: page.excerpt,
    scrapeMs: Math.round(page.durationMs),
  });
  await deps.queue.enqueue('ai_processing', { ...job, page }, aiJobId);
}

async function cachedPage(deps: WorkerDeps, url: string): Promise<ScrapeResult | undefined> {
  if (!deps.scrapeCache) return undefined;
  const page = await deps.scrapeCache.get(url);
  deps.metrics.scrapeCache.inc({ result: page ? 'hit' : 'miss' });
  return page;
}

async function writeMessage(
  deps: WorkerDeps,
  job: Parameters<JobHandler<'ai_processing'>>[0],
): Promise<void> {
  let completion: Awaited<ReturnType<ChatClient['complete']>>;
  try {
    completion = await deps.chat.complete(buildPrompt(job, job.page));
  } catch (err) {
    // The client already retried what is worth retrying; a final LLM failure is the row's answer.
    if (!(err instanceof LlmFailedError)) throw err;
    deps.metrics.aiOutcomes.inc({ outcome: 'failed' });
    await failRow(deps, job, 'ai', err.message);
    return;
  }
  deps.metrics.aiOutcomes.inc({ outcome: 'ok' });
  deps.metrics.aiTokens.inc({ kind: 'prompt' }, completion.promptTokens);
  deps.metrics.aiTokens.inc({ kind: 'completion' }, completion.completionTokens);
  await deps.batcher.saveMessage({
    websiteId: job.websiteId,
    uploadId: job.uploadId,
    content: completion.content,
    model: completion.model,
    promptTokens: completion.promptTokens,
    completionTokens: completion.completionTokens,
    aiMs: Math.round(completion.durationMs),
  });
}

/**
 * A generic unit of work: `sleep` waits (I/O-bound work), `cpu` burns CPU for `workMs` (work that
 * competes for the core), so the worker scenario can model either.
 */
async function runTask(
  deps: WorkerDeps,
  t: Parameters<JobHandler<'tasks'>>[0],
  ctx: JobContext,
): Promise<void> {
  await deps.store.markTaskStarted(t.taskId, ctx.attempt);
  const startMs = Date.now();
  if (t.type === 'cpu') {
    let x = 0;
    while (Date.now() - startMs < t.workMs) x = (x * 31 + 7) % 1_000_003;
    await deps.store.completeTask(t.taskId, { workMs: Date.now() - startMs, checksum: x });
    return;
  }
  if (t.type === 'fail') throw new Error('task type "fail" always fails');
  await sleep(t.workMs);
  await deps.store.completeTask(t.taskId, { workMs: Date.now() - startMs });
}

/** Records the row's one failure: the stage and a reason a person can act on. */
function failRow(deps: WorkerDeps, job: WebsiteJob, stage: FailureStage, reason: string): Promise<void> {
  return deps.batcher.saveFailure({ websiteId: job.websiteId, uploadId: job.uploadId, stage, reason });
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
