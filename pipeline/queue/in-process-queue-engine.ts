import { QueueClosedError } from '../../errors.js';
import type {
  EnqueueOptions,
  JobContext,
  JobHandler,
  JobId,
  JobPayload,
  QueueDepth,
  QueueEngine,
  QueueName,
  WorkOptions,
} from './queue-engine.js';

interface Job<Q extends QueueName> {
  id: JobId;
  payload: JobPayload[Q];
  attempt: number;
  enqueuedAtMs: number;
  /** Named by the caller (EnqueueOptions.jobIdOf): at most one live job per name. */
  named: boolean;
}

/**
 * A FIFO of jobs with a fixed number of concurrent runners. The waiting list is an array read from
 * a moving head, compacted now and then: a 500,000-row upload must not cost O(n) per dequeue.
 */
class LocalQueue<Q extends QueueName> {
  private waiting: Job<Q>[] = [];
  private head = 0;
  private active = 0;
  private delayed = new Set<NodeJS.Timeout>();
  private failed = 0;
  private completed = 0;
  private handler?: JobHandler<Q>;
  private opts?: WorkOptions<Q>;
  /** Names of named jobs that are waiting, delayed or running. */
  private readonly live = new Set<JobId>();
  private closing = false;
  private readonly closed = new AbortController();
  private idle?: () => void;

  /** Adds a new job; a named job whose name is live is not added again. */
  add(job: Job<Q>): boolean {
    if (job.named) {
      if (this.live.has(job.id)) return false;
      this.live.add(job.id);
    }
    this.push(job);
    return true;
  }

  private push(job: Job<Q>): void {
    this.waiting.push(job);
    this.pump();
  }

  work(handler: JobHandler<Q>, opts: WorkOptions<Q>): void {
    this.handler = handler;
    this.opts = opts;
    this.pump();
  }

  depth(): QueueDepth {
    return {
      waiting: this.waiting.length - this.head,
      active: this.active,
      delayed: this.delayed.size,
      failed: this.failed,
      completed: this.completed,
    };
  }

  /** Stops starting jobs and resolves once the running ones have ended. */
  close(): Promise<void> {
    this.closing = true;
    this.closed.abort();
    for (const timer of this.delayed) clearTimeout(timer);
    this.delayed.clear();
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.idle = resolve;
    });
  }

  private pump(): void {
    const opts = this.opts;
    if (!opts || this.closing) return;
    while (this.active < opts.concurrency && this.head < this.waiting.length) {
      const job = this.waiting[this.head]!;
      this.waiting[this.head] = undefined as unknown as Job<Q>;
      this.head++;
      void this.run(job);
    }
    // Compact once the consumed prefix dominates, so memory follows the backlog, not the history.
    if (this.head > 4096 && this.head * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
  }

  private async run(job: Job<Q>): Promise<void> {
    const handler = this.handler!;
    const opts = this.opts!;
    this.active++;
    const ctx: JobContext = {
      jobId: job.id,
      attempt: job.attempt,
      enqueuedAtMs: job.enqueuedAtMs,
      signal: this.closed.signal,
    };
    let ended = true;
    try {
      await handler(job.payload, ctx);
      this.completed++;
    } catch (err) {
      if (this.closing) {
        // A job cut short by shutdown is not a failed row: the store still has it in flight and
        // the next start dispatches it again.
      } else if (job.attempt < opts.retry.attempts) {
        ended = false;
        this.retryLater(job, opts);
      } else {
        this.failed++;
        await opts.onExhausted(job.payload, err).catch(() => {
          // The failure could not be recorded; the row stays in flight and is recovered on restart.
        });
      }
    } finally {
      if (ended && job.named) this.live.delete(job.id);
      this.active--;
      if (this.closing && this.active === 0) this.idle?.();
      else this.pump();
    }
  }

  private retryLater(job: Job<Q>, opts: WorkOptions<Q>): void {
    const jitter = 0.8 + Math.random() * 0.4;
    const delayMs = opts.retry.baseDelayMs * 2 ** (job.attempt - 1) * jitter;
    const timer = setTimeout(() => {
      this.delayed.delete(timer);
      this.push({ ...job, attempt: job.attempt + 1 });
    }, delayMs);
    this.delayed.add(timer);
  }
}

/**
 * The embedded queue engine: jobs live in this process's memory. A crash loses the waiting jobs but
 * not the rows: the store still holds them as `queued`, and the pipeline re-dispatches them on start.
 */
export class InProcessQueueEngine implements QueueEngine {
  readonly kind = 'in-process';
  private readonly queues = new Map<QueueName, LocalQueue<QueueName>>();
  private nextId = 1;
  private closed = false;

  async enqueue<Q extends QueueName>(
    queue: Q,
    payload: JobPayload[Q],
    opts?: EnqueueOptions<Q>,
  ): Promise<JobId> {
    this.assertOpen(queue);
    const job = this.job(payload, Date.now(), opts);
    this.queue(queue).add(job);
    return job.id;
  }

  async enqueueMany<Q extends QueueName>(
    queue: Q,
    payloads: JobPayload[Q][],
    opts?: EnqueueOptions<Q>,
  ): Promise<void> {
    this.assertOpen(queue);
    const q = this.queue(queue);
    const enqueuedAtMs = Date.now();
    for (const payload of payloads) q.add(this.job(payload, enqueuedAtMs, opts));
  }

  private job<Q extends QueueName>(
    payload: JobPayload[Q],
    enqueuedAtMs: number,
    opts?: EnqueueOptions<Q>,
  ): Job<Q> {
    const name = opts?.jobIdOf?.(payload);
    return {
      id: name ?? String(this.nextId++),
      payload,
      attempt: 1,
      enqueuedAtMs,
      named: name !== undefined,
    };
  }

  work<Q extends QueueName>(queue: Q, handler: JobHandler<Q>, opts: WorkOptions<Q>): void {
    this.queue(queue).work(handler, opts);
  }

  async depth(queue: QueueName): Promise<QueueDepth> {
    return this.queue(queue).depth();
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }

  private queue<Q extends QueueName>(name: Q): LocalQueue<Q> {
    let q = this.queues.get(name);
    if (!q) {
      q = new LocalQueue<QueueName>();
      this.queues.set(name, q);
    }
    return q as unknown as LocalQueue<Q>;
  }

  private assertOpen(queue: QueueName): void {
    if (this.closed) throw new QueueClosedError(`cannot enqueue on ${queue}: the queue engine is closed`);
  }
}
