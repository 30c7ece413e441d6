import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { QUEUE_NAMES, type QueueEngine } from './queue/queue-engine.js';
import type { Store } from './store/store.js';

/** Seconds buckets for HTTP requests: sub-millisecond health checks up to multi-second uploads. */
const HTTP_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds buckets for jobs: a scrape is ~0.3 s, an LLM call ~1.7 s, retries push to tens of seconds. */
const JOB_BUCKETS_S = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128];

/**
 * The pipeline's Prometheus metrics, on a registry of its own so several pipelines (tests) can live
 * in one process. Names follow Prometheus conventions: base units, `_total` for counters.
 */
export class PipelineMetrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  readonly jobDuration: Histogram<'queue' | 'outcome'>;
  readonly queueWait: Histogram<'queue'>;
  readonly jobRetries: Counter<'queue'>;
  readonly scrapeOutcomes: Counter<'outcome'>;
  readonly scrapeCache: Counter<'result'>;
  readonly aiOutcomes: Counter<'outcome'>;
  readonly aiTokens: Counter<'kind'>;
  readonly rowsIngested: Counter<'result'>;
  readonly workerSlots: Gauge<'queue'>;
  readonly jobsActive: Gauge<'queue'>;
  readonly llmAttempts: Counter<'status'>;
  private eluBase = performance.eventLoopUtilization();

  /**
   * `rowsByStatus`: export the rows of every upload by status (one process of a pipeline should,
   * the API's, so that Prometheus sees each count once).
   */
  constructor(queue: QueueEngine, store?: Store, opts: { rowsByStatus?: boolean } = {}) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.httpDuration = new Histogram({
      name: 'headroom_http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status_code'],
      buckets: HTTP_BUCKETS_S,
      registers,
    });
    this.jobDuration = new Histogram({
      name: 'headroom_job_duration_seconds',
      help: 'Time a job ran (one attempt), by queue and outcome',
      labelNames: ['queue', 'outcome'],
      buckets: JOB_BUCKETS_S,
      registers,
    });
    this.queueWait = new Histogram({
      name: 'headroom_queue_wait_seconds',
      help: 'Time from enqueue to the start of the first attempt, by queue',
      labelNames: ['queue'],
      buckets: JOB_BUCKETS_S,
      registers,
    });
    this.jobRetries = new Counter({
      name: 'headroom_job_retries_total',
      help: 'Job attempts that failed and were retried',
      labelNames: ['queue'],
      registers,
    });
    this.scrapeOutcomes = new Counter({
      name: 'headroom_scrape_outcomes_total',
      help: 'Scrapes by outcome: ok, or the failure kind',
      labelNames: ['outcome'],
      registers,
    });
    this.scrapeCache = new Counter({
      name: 'headroom_scrape_cache_total',
      help: 'Scrape cache look-ups by result (hit, miss)',
      labelNames: ['result'],
      registers,
    });
    this.aiOutcomes = new Counter({
      name: 'headroom_ai_outcomes_total',
      help: 'AI message generations by outcome',
      labelNames: ['outcome'],
      registers,
    });
    this.aiTokens = new Counter({
      name: 'headroom_ai_tokens_total',
      help: 'Tokens used by the AI step',
      labelNames: ['kind'],
      registers,
    });
    this.rowsIngested = new Counter({
      name: 'headroom_upload_rows_total',
      help: 'CSV rows parsed, accepted or rejected',
      labelNames: ['result'],
      registers,
    });
    // Per process, so that a Prometheus summing over the worker processes reads the pipeline's
    // slots and rows in flight (telemetry's capacity reads them; the queue-wide figures below
    // are the same in every process and are read with max()).
    this.workerSlots = new Gauge({
      name: 'headroom_worker_slots',
      help: 'Jobs this process may run at once, per queue it serves',
      labelNames: ['queue'],
      registers,
    });
    this.jobsActive = new Gauge({
      name: 'headroom_worker_jobs_active',
      help: 'Jobs running in this process now, per queue',
      labelNames: ['queue'],
      registers,
    });
    this.llmAttempts = new Counter({
      name: 'headroom_llm_attempts_total',
      help: 'LLM requests sent, by HTTP status of the answer (429: rate limited; error: no answer)',
      labelNames: ['status'],
      registers,
    });
    new Gauge({
      name: 'headroom_queue_jobs',
      help: 'Jobs per queue and state',
      labelNames: ['queue', 'state'],
      registers,
      async collect() {
        for (const name of QUEUE_NAMES) {
          const d = await queue.depth(name);
          this.set({ queue: name, state: 'waiting' }, d.waiting);
          this.set({ queue: name, state: 'active' }, d.active);
          this.set({ queue: name, state: 'delayed' }, d.delayed);
          this.set({ queue: name, state: 'failed' }, d.failed);
          this.set({ queue: name, state: 'completed' }, d.completed);
        }
      },
    });
    if (store && opts.rowsByStatus) {
      new Gauge({
        name: 'headroom_websites',
        help: 'Rows of every upload by status (pending, queued, scraped: still to finish; done, failed)',
        labelNames: ['status'],
        registers,
        async collect() {
          const stats = await store.stats();
          for (const [status, n] of Object.entries(stats.websites)) this.set({ status }, n);
        },
      });
    }
    if (store?.poolStats) {
      const poolStats = store.poolStats.bind(store);
      new Gauge({
        name: 'headroom_db_pool_connections',
        help: 'Database pool connections by state (total, idle, waiting = callers waiting for one)',
        labelNames: ['state'],
        registers,
        collect() {
          const p = poolStats();
          this.set({ state: 'total' }, p.total);
          this.set({ state: 'idle' }, p.idle);
          this.set({ state: 'waiting' }, p.waiting);
        },
      });
      // Cumulative figures kept by the store, exposed as counters are: rate() gives the wait per second.
      new Gauge({
        name: 'headroom_db_pool_acquire_wait_seconds_total',
        help: 'Time spent waiting for a pooled database connection since start',
        registers,
        collect() {
          this.set((store.acquireWaitMs ?? 0) / 1000);
        },
      });
      new Gauge({
        name: 'headroom_db_pool_acquires_total',
        help: 'Pooled database connections handed out since start',
        registers,
        collect() {
          this.set(store.acquireCount ?? 0);
        },
      });
    }
    if (queue.stats) {
      const stats = queue.stats.bind(queue);
      new Gauge({
        name: 'headroom_queue_stalled_jobs_total',
        help: 'Jobs this process found stalled (their worker died) and put back, per queue',
        labelNames: ['queue'],
        registers,
        collect() {
          const s = stats();
          for (const name of QUEUE_NAMES) this.set({ queue: name }, s[name]?.stalled ?? 0);
        },
      });
    }
    const metrics = this;
    new Gauge({
      name: 'headroom_event_loop_utilization_ratio',
      help: 'Share of time the event loop was busy since the previous scrape (0..1)',
      registers,
      collect() {
        const now = performance.eventLoopUtilization();
        this.set(performance.eventLoopUtilization(now, metrics.eluBase).utilization);
        metrics.eluBase = now;
      },
    });
  }
}

/**
 * Serves a registry at /metrics on its own port: a worker process has no API, and Prometheus
 * must scrape every process that runs jobs (their job counters and in-flight gauges are their own).
 */
export async function serveMetrics(
  registry: Registry,
  opts: { host?: string; port: number },
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    if (req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404).end('not found\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(`${err.message}\n`),
    );
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
