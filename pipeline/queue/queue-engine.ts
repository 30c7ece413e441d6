import type { ScrapeResult } from '../scraper/scrape-result.js';
import type { TaskId, UploadId, WebsiteJob } from '../store/store.js';

/** The queues of the pipeline, named as in the system it mirrors (Celery queues). */
export const QUEUE_NAMES = ['file_processing', 'scraping', 'ai_processing', 'tasks'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

export interface JobPayload {
  /** Dispatch the rows of one upload to the scraping queue. */
  file_processing: { uploadId: UploadId };
  scraping: WebsiteJob;
  ai_processing: WebsiteJob & { page: ScrapeResult };
  /** A generic unit of work submitted through POST /tasks. */
  tasks: { taskId: TaskId; type: string; workMs: number };
}

export type JobId = string;

export interface JobContext {
  jobId: JobId;
  /** 1 on the first try. */
  attempt: number;
  /** Epoch milliseconds when the job was enqueued. */
  enqueuedAtMs: number;
  /** Aborted when the engine closes: long-running jobs stop and are picked up again later. */
  signal: AbortSignal;
}

export type JobHandler<Q extends QueueName> = (payload: JobPayload[Q], ctx: JobContext) => Promise<void>;

export interface RetryPolicy {
  /** Total tries, including the first. */
  attempts: number;
  /** Exponential backoff: the n-th retry waits baseDelayMs × 2^(n−1), with ±20% jitter. */
  baseDelayMs: number;
}

export interface WorkOptions<Q extends QueueName> {
  concurrency: number;
  retry: RetryPolicy;
  /** Called once when a job has failed all its attempts, so its row can be marked failed. */
  onExhausted: (payload: JobPayload[Q], error: unknown) => Promise<void>;
}

export interface QueueDepth {
  waiting: number;
  active: number;
  /** Jobs waiting for a retry after a failed attempt. */
  delayed: number;
  failed: number;
  completed: number;
}

export interface EnqueueOptions<Q extends QueueName> {
  /**
   * Names each job. While a job of that name is waiting, delayed or running, enqueueing the name
   * again adds nothing: re-dispatching after a crash cannot create a second job for one row.
   */
  jobIdOf?: (payload: JobPayload[Q]) => string;
}

export interface QueueEngine {
  readonly kind: string;
  enqueue<Q extends QueueName>(queue: Q, payload: JobPayload[Q], opts?: EnqueueOptions<Q>): Promise<JobId>;
  enqueueMany<Q extends QueueName>(
    queue: Q,
    payloads: JobPayload[Q][],
    opts?: EnqueueOptions<Q>,
  ): Promise<void>;
  work<Q extends QueueName>(queue: Q, handler: JobHandler<Q>, opts: WorkOptions<Q>): void;
  depth(queue: QueueName): Promise<QueueDepth>;
  /** Stops taking jobs and waits for in-flight ones; safe to call twice. */
  close(): Promise<void>;
  /** Jobs this process's workers found stalled (their worker died) or retried, per queue. */
  stats?(): Record<QueueName, { stalled: number; retried: number }>;
  /**
   * The queue system's own Prometheus exposition, when it has one (BullMQ's
   * `Queue.exportPrometheusMetrics()`). The API serves it with its /metrics, so that what reads
   * that system's metric names (the `bullmq` telemetry preset) reads the reference pipeline too.
   */
  exposition?(): Promise<string>;
}
