import { setTimeout as sleep } from 'node:timers/promises';
import { type Job, type JobsOptions, Queue, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { ConfigInvalidError, QueueClosedError, StoreUnavailableError } from '../../errors.js';
import {
  type EnqueueOptions,
  type JobHandler,
  type JobId,
  type JobPayload,
  QUEUE_NAMES,
  type QueueDepth,
  type QueueEngine,
  type QueueName,
  type RetryPolicy,
  type WorkOptions,
} from './queue-engine.js';

/** The command that starts a Redis fit for this engine on a development machine. */
export const START_REDIS_COMMAND =
  'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no';

export interface BullMqQueueEngineOptions {
  /** Namespaces every key: engines with the same prefix share their queues. Default `headroom`. */
  prefix?: string;
  /** How often workers look for jobs whose worker died (BullMQ `stalledInterval`). Default 30 s. */
  stalledIntervalMs?: number;
  /** How long a job's lock outlives its worker's last renewal (BullMQ `lockDuration`). Default 30 s. */
  lockDurationMs?: number;
  /** Gives up connecting after this long. Default 3 s. */
  connectTimeoutMs?: number;
  /**
   * Receives Redis errors after connecting (a restart, a dropped link: commands wait for the
   * reconnect). Default: a process warning, at most one per 10 s.
   */
  onError?: (err: Error) => void;
}

/** What this process's workers saw on one queue since the engine connected. */
export interface QueueWorkStats {
  /** Jobs found abandoned by a dead worker and put back to wait. */
  stalled: number;
  /** Failed attempts that were scheduled to run again. */
  retried: number;
}

const DEFAULT_PREFIX = 'headroom';
const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;
/** BullMQ's own default: a dead worker's jobs come back within about two intervals. */
const DEFAULT_STALLED_INTERVAL_MS = 30_000;
const DEFAULT_LOCK_DURATION_MS = 30_000;
/**
 * A job put back after its worker died keeps its attempt number. BullMQ's default of 1 would fail
 * a job on the second crash it lives through; 10 still stops a job that kills every worker it
 * touches (a poison payload) from going round for ever.
 */
const MAX_STALLED_COUNT = 10;
/**
 * The worker, not the job, decides when a job has failed for good (see `runAttempt`), so BullMQ is
 * told that attempts never run out.
 */
const UNLIMITED_ATTEMPTS = 2 ** 31 - 1;
/** Name of the backoff computed by the worker's retry policy. */
const RETRY_POLICY_BACKOFF = 'headroom-retry-policy';
/** Retries of an unrecorded failure go on while the store is down; no wait grows beyond this. */
const MAX_BACKOFF_MS = 300_000;
/**
 * One addBulk (a pipeline of one script per job) per this many jobs: a huge enqueueMany never
 * holds every command and reply in memory at once.
 */
const ENQUEUE_CHUNK = 1_000;
/** Failed jobs kept for inspection; completed jobs are deleted at once, so Redis holds the backlog only. */
const KEEP_FAILED = 1_000;
/**
 * Completed jobs are deleted, so their set cannot be counted: BullMQ's metrics keep a durable
 * per-queue total instead (plus this many per-minute points).
 */
const METRICS_MINUTES = 60;
const RECONNECT_MAX_DELAY_MS = 2_000;
const QUIT_TIMEOUT_MS = 2_000;
const WARNING_INTERVAL_MS = 10_000;

interface Settings {
  prefix: string;
  stalledIntervalMs: number;
  lockDurationMs: number;
  connectTimeoutMs: number;
  onError: (err: Error) => void;
}

/** The state the connections' reconnect policy reads, and every connection made. */
interface Link {
  connected: boolean;
  closing: boolean;
  clients: Set<Redis>;
}

interface QueueWorker {
  worker: Worker;
  /** The worker's own connection, so its job moves never wait behind a large enqueue. */
  connection: Redis;
}

/**
 * The distributed queue engine: BullMQ on Redis. Jobs survive the processes that enqueued or ran
 * them; a worker killed mid-job leaves a lock that expires, and another worker runs the job again
 * (at least once, never lost).
 */
export class BullMqQueueEngine implements QueueEngine {
  readonly kind = 'bullmq';
  private readonly queues = new Map<QueueName, Queue>();
  private readonly workers = new Map<QueueName, QueueWorker>();
  private readonly counters = new Map<QueueName, QueueWorkStats>(
    QUEUE_NAMES.map((name) => [name, { stalled: 0, retried: 0 }]),
  );
  /** Aborted on close: handed to every job as `JobContext.signal`. */
  private readonly stopping = new AbortController();
  private closing?: Promise<void>;
  /**
   * Set once the workers have stopped. Enqueues go on while running jobs drain, so a job that
   * hands work to the next queue on its way out still completes instead of being done again.
   */
  private closed = false;

  private constructor(
    private readonly redis: Redis,
    private readonly link: Link,
    private readonly settings: Settings,
  ) {
    redis.on('error', settings.onError);
  }

  /**
   * Connects to Redis at `url` (`redis://` or `rediss://`). The URL may carry the engine's options
   * as query parameters (`?prefix=…&stalledIntervalMs=…&lockDurationMs=…`), so that one string
   * configures every process; `opts` wins over them. Fails within `connectTimeoutMs` with
   * StoreUnavailableError, saying how to start Redis, when nothing answers there.
   */
  static async connect(url: string, opts: BullMqQueueEngineOptions = {}): Promise<BullMqQueueEngine> {
    const { redisUrl, fromUrl } = splitUrl(url);
    opts = { ...fromUrl, ...opts };
    const timeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const link: Link = { connected: false, closing: false, clients: new Set() };
    let lastError: Error | undefined;
    // Every connection (the workers' and BullMQ's blocking ones are duplicates) shares this policy.
    const redis = tracked(
      link.clients,
      new Redis(redisUrl, {
        lazyConnect: true,
        connectTimeout: timeoutMs,
        // BullMQ requires it: a command waits for the reconnect rather than failing the job it serves.
        maxRetriesPerRequest: null,
        // No retry before the first connection, so a wrong URL fails now; none once closing, so
        // commands waiting for a Redis that went away fail and close() ends; for ever in between.
        retryStrategy: (times) =>
          link.connected && !link.closing ? Math.min(times * 200, RECONNECT_MAX_DELAY_MS) : null,
      }),
    );
    const remember = (err: Error): void => {
      lastError = err;
    };
    redis.on('error', remember);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        redis.connect(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (err) {
      redis.disconnect();
      const cause = lastError ?? err;
      throw new StoreUnavailableError(
        `cannot reach Redis at ${redactUrl(url)} (${messageOf(cause)}); start it with: ${START_REDIS_COMMAND}`,
        { cause },
      );
    } finally {
      clearTimeout(timer);
      redis.off('error', remember);
    }
    link.connected = true;
    return new BullMqQueueEngine(redis, link, {
      prefix: opts.prefix ?? DEFAULT_PREFIX,
      stalledIntervalMs: opts.stalledIntervalMs ?? DEFAULT_STALLED_INTERVAL_MS,
      lockDurationMs: opts.lockDurationMs ?? DEFAULT_LOCK_DURATION_MS,
      connectTimeoutMs: timeoutMs,
      onError: opts.onError ?? throttledWarning(),
    });
  }

  async enqueue<Q extends QueueName>(
    queue: Q,
    payload: JobPayload[Q],
    opts?: EnqueueOptions<Q>,
  ): Promise<JobId> {
    const job = await this.queue(queue).add(queue, payload, jobOptions(payload, opts));
    return job.id as JobId;
  }

  async enqueueMany<Q extends QueueName>(
    queue: Q,
    payloads: JobPayload[Q][],
    opts?: EnqueueOptions<Q>,
  ): Promise<void> {
    const q = this.queue(queue);
    for (let start = 0; start < payloads.length; start += ENQUEUE_CHUNK) {
      const chunk = payloads.slice(start, start + ENQUEUE_CHUNK);
      await q.addBulk(chunk.map((data) => ({ name: queue, data, opts: jobOptions(data, opts) })));
    }
  }

  work<Q extends QueueName>(queue: Q, handler: JobHandler<Q>, opts: WorkOptions<Q>): void {
    if (this.closing) return;
    if (this.workers.has(queue)) throw new Error(`the queue engine already has a worker on ${queue}`);
    const stats = this.counters.get(queue)!;
    const connection = this.redis.duplicate();
    // Two parameters: BullMQ then spends no AbortController per job; the engine's signal serves all.
    const processor = (job: Job<JobPayload[Q]>, token?: string): Promise<void> =>
      this.runAttempt(job, token, handler, opts, stats);
    const worker = new Worker<JobPayload[Q]>(queue, processor, {
      connection,
      prefix: this.settings.prefix,
      concurrency: opts.concurrency,
      maxStalledCount: MAX_STALLED_COUNT,
      stalledInterval: this.settings.stalledIntervalMs,
      lockDuration: this.settings.lockDurationMs,
      removeOnComplete: { count: 0 },
      removeOnFail: { count: KEEP_FAILED },
      metrics: { maxDataPoints: METRICS_MINUTES },
      // BullMQ waits this long, unabortably, before retrying a job move that failed because its
      // connection ended; its 15 s default would hold close() that long after Redis went away.
      runRetryDelay: RECONNECT_MAX_DELAY_MS,
      // The retry policy lives with the worker, so it holds whichever process enqueued the job.
      settings: { backoffStrategy: (attemptsMade: number) => backoffMs(opts.retry, attemptsMade) },
    });
    worker.on('error', this.settings.onError);
    worker.on('stalled', () => {
      stats.stalled++;
    });
    this.workers.set(queue, { worker: worker as Worker, connection });
  }

  async depth(queue: QueueName): Promise<QueueDepth> {
    const q = this.queue(queue);
    const [counts, completed, failed] = await Promise.all([
      // A paused queue keeps its jobs in the wait list in BullMQ 6: `waiting` counts them.
      q.getJobCounts('waiting', 'prioritized', 'active', 'delayed'),
      q.getMetrics('completed', 0, 0),
      q.getMetrics('failed', 0, 0),
    ]);
    return {
      waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
      active: counts.active ?? 0,
      delayed: counts.delayed ?? 0,
      failed: failed.meta.count,
      completed: completed.meta.count,
    };
  }

  /** BullMQ's exposition of every queue, one family per metric name (each queue's text repeats them). */
  async exposition(): Promise<string> {
    const texts = await Promise.all(QUEUE_NAMES.map((name) => this.queue(name).exportPrometheusMetrics()));
    return mergeExpositions(texts);
  }

  /** Per queue, what this process's workers saw: jobs recovered from dead workers, retries. */
  stats(): Record<QueueName, QueueWorkStats> {
    const out = {} as Record<QueueName, QueueWorkStats>;
    for (const [name, s] of this.counters) out[name] = { ...s };
    return out;
  }

  /**
   * Stops taking jobs, aborts `signal`, waits for running jobs (which may still enqueue), then
   * refuses enqueues and disconnects; safe to call twice.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const workers = [...this.workers.values()];
    this.link.closing = true;
    await this.untilNoneReconnecting();
    // Closing first stops the fetching; a job fetched after the abort would only be put back.
    const stopped = workers.map(({ worker }) => worker.close());
    this.stopping.abort();
    await Promise.allSettled(stopped);
    this.closed = true;
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
    await Promise.allSettled([...workers.map(({ connection }) => quit(connection)), quit(this.redis)]);
  }

  /**
   * A connection caught waiting to reconnect never ends when told to disconnect (ioredis drops the
   * retry timer and no 'end' follows), and BullMQ's close waits for that 'end' for ever. Now that
   * `closing` is set, the retry policy lets each such connection end, or reconnect, at its next try.
   */
  private async untilNoneReconnecting(): Promise<void> {
    const deadlineMs = Date.now() + RECONNECT_MAX_DELAY_MS + this.settings.connectTimeoutMs + 500;
    const unsettled = (c: Redis): boolean =>
      c.status !== 'ready' && c.status !== 'wait' && c.status !== 'end';
    while ([...this.link.clients].some(unsettled) && Date.now() < deadlineMs) await sleep(50);
  }

  /**
   * Runs one attempt. Retries are decided here, by the worker's policy: the attempt number is
   * BullMQ's count of failed attempts plus one, and a failure that leaves attempts is rethrown for
   * BullMQ to schedule with the policy's backoff. The last failure is recorded (`onExhausted`)
   * before the job leaves the queue, so a crash cannot lose it: if recording fails, the job is
   * retried later and records again without running the handler.
   */
  private async runAttempt<Q extends QueueName>(
    job: Job<JobPayload[Q]>,
    token: string | undefined,
    handler: JobHandler<Q>,
    opts: WorkOptions<Q>,
    stats: QueueWorkStats,
  ): Promise<void> {
    const attempt = job.attemptsMade + 1;
    const signal = this.stopping.signal;
    let error: unknown;
    if (attempt <= opts.retry.attempts) {
      try {
        await handler(job.data, { jobId: job.id as JobId, attempt, enqueuedAtMs: job.timestamp, signal });
        return;
      } catch (err) {
        error = err;
      }
      if (signal.aborted) return putBack(job, token);
      if (attempt < opts.retry.attempts) {
        stats.retried++;
        throw asError(error);
      }
    } else {
      error = new Error(job.failedReason);
    }
    try {
      await opts.onExhausted(job.data, error);
    } catch (recordErr) {
      if (signal.aborted) return putBack(job, token);
      stats.retried++;
      throw new Error(messageOf(error), { cause: recordErr });
    }
    throw new UnrecoverableError(messageOf(error));
  }

  private queue(name: QueueName): Queue {
    if (this.closed) throw new QueueClosedError(`cannot use ${name}: the queue engine is closed`);
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, {
        connection: this.redis,
        prefix: this.settings.prefix,
        defaultJobOptions: { attempts: UNLIMITED_ATTEMPTS, backoff: { type: RETRY_POLICY_BACKOFF } },
      });
      q.on('error', this.settings.onError);
      this.queues.set(name, q);
    }
    return q;
  }
}

/**
 * Prometheus text from several sources as one: a family's `# HELP` and `# TYPE` once, then its
 * samples from every source (a repeated HELP line is an error to strict parsers).
 */
export function mergeExpositions(texts: string[]): string {
  const families = new Map<string, string[]>();
  const family = (name: string) => {
    const lines = families.get(name) ?? [];
    families.set(name, lines);
    return lines;
  };
  for (const text of texts)
    for (const line of text.split('\n')) {
      const comment = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (comment) {
        const lines = family(comment[2]!);
        if (!lines.some((l) => l.startsWith(`# ${comment[1]} `))) lines.push(line);
      } else if (line.trim()) family(/^[^{\s]+/.exec(line)![0]).push(line);
    }
  return `${[...families.values()].flat().join('\n')}\n`;
}

/** A named job is deduplicated while live: unlike a custom job id, the name frees up when it fails. */
function jobOptions<Q extends QueueName>(
  payload: JobPayload[Q],
  opts?: EnqueueOptions<Q>,
): JobsOptions | undefined {
  const name = opts?.jobIdOf?.(payload);
  return name === undefined ? undefined : { deduplication: { id: name } };
}

/** The n-th retry waits baseDelayMs × 2^(n−1), ±20% so that jobs failed together spread out. */
function backoffMs(policy: RetryPolicy, failedAttempt: number): number {
  const delayMs = Math.min(policy.baseDelayMs * 2 ** (failedAttempt - 1), MAX_BACKOFF_MS);
  return Math.round(delayMs * (0.8 + Math.random() * 0.4));
}

/**
 * A job cut short by shutdown goes back to the head of the queue with its attempt unchanged:
 * `WaitingError` tells BullMQ the job was moved, not failed.
 */
async function putBack(job: Job, token: string | undefined): Promise<never> {
  await job.moveToWait(token);
  throw new WaitingError();
}

/** Adds `client`, and every client later duplicated from it, to `clients`. */
function tracked(clients: Set<Redis>, client: Redis): Redis {
  clients.add(client);
  const duplicate = client.duplicate.bind(client);
  client.duplicate = (override) => tracked(clients, duplicate(override));
  return client;
}

async function quit(redis: Redis): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.quit(),
      new Promise((resolve) => {
        timer = setTimeout(resolve, QUIT_TIMEOUT_MS);
      }),
    ]);
  } catch {
    // Already closed, or Redis went away: nothing left to say goodbye to.
  } finally {
    clearTimeout(timer);
    redis.disconnect();
  }
}

function throttledWarning(): (err: Error) => void {
  let lastMs = 0;
  return (err) => {
    const nowMs = Date.now();
    if (nowMs - lastMs < WARNING_INTERVAL_MS) return;
    lastMs = nowMs;
    process.emitWarning(`Redis queue: ${err.message}`, { code: 'HRM_QUEUE_REDIS' });
  };
}

/** The engine's options among the URL's query parameters; ioredis gets the URL without them. */
function splitUrl(url: string): { redisUrl: string; fromUrl: BullMqQueueEngineOptions } {
  let u: URL;
  try {
    u = new URL(url);
  } catch (err) {
    throw new ConfigInvalidError('queue', [`${redactUrl(url)}: not a URL (${messageOf(err)})`]);
  }
  const fromUrl: BullMqQueueEngineOptions = {};
  const problems: string[] = [];
  const prefix = u.searchParams.get('prefix');
  if (prefix !== null) {
    if (prefix === '') problems.push('prefix: must not be empty');
    fromUrl.prefix = prefix;
  }
  for (const key of ['stalledIntervalMs', 'lockDurationMs', 'connectTimeoutMs'] as const) {
    const text = u.searchParams.get(key);
    if (text === null) continue;
    const value = Number(text);
    if (!Number.isInteger(value) || value <= 0)
      problems.push(`${key}: must be a positive whole number of milliseconds (got "${text}")`);
    fromUrl[key] = value;
  }
  if (problems.length > 0) throw new ConfigInvalidError(`queue URL ${redactUrl(url)}`, problems);
  for (const key of ['prefix', 'stalledIntervalMs', 'lockDurationMs', 'connectTimeoutMs'])
    u.searchParams.delete(key);
  return { redisUrl: u.href, fromUrl };
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.href;
  } catch {
    return 'the configured URL';
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
