import { setTimeout as sleep } from 'node:timers/promises';
import { ApiClient, ApiResponseError } from '../pipeline/api/api-client.js';
import type { Task } from '../pipeline/store/store.js';
import { LatencyHistogram } from '../results/latency-histogram.js';
import { type RunResult, resultHeader } from '../results/run-result.js';
import { classifyError } from './error-class.js';
import type { Scenario } from './load-scenario.js';
import { type RunProgress, RunRecorder } from './run-recorder.js';
import type { SetupUser } from './scenario-setup.js';

/** How long finished submissions may take to be processed before unfinished tasks count as failed. */
const DRAIN_TIMEOUT_MS = 120_000;
const POLL_CONCURRENCY = 16;
/** A submitter gives up waiting for its task after this long (it then counts as not completed). */
const TASK_TIMEOUT_MS = 60_000;
/** Outcome polling interval; the measured times come from the pipeline's timestamps, not from this. */
const POLL_INTERVAL_MS = 50;

/**
 * The worker scenario: `vus` submitters each POST a task, wait until it is completed or failed,
 * and submit the next (the guide's concurrent task submissions: `vus` tasks in the system). Afterwards every task is read back and
 * its queue wait (enqueued → started) and completion time (enqueued → completed) come from the
 * pipeline's own timestamps, not from this client's clock.
 */
export async function runWorkerScenario(
  scenario: Scenario,
  ctx: { apiUrl: string; users: SetupUser[]; signal?: AbortSignal; onProgress?: (p: RunProgress) => void },
): Promise<RunResult> {
  if (scenario.load.model !== 'closed')
    throw new Error('the worker scenario takes a closed load (vus, durationS)');
  const { vus, durationMs } = scenario.load;
  const clients = ctx.users.map((u) => {
    const c = new ApiClient(ctx.apiUrl);
    c.useToken(u.token);
    return c;
  });
  const startMs = performance.now();
  let inFlight = 0;
  const recorder = new RunRecorder(['submit'], startMs, () => inFlight, ctx.onProgress);
  const submitted: Array<{ id: number; client: ApiClient }> = [];
  const endAtMs = startMs + durationMs;
  let sent = 0;
  const ticker = setInterval(() => recorder.rollSeconds(performance.now()), 1_000);
  try {
    await Promise.all(
      Array.from({ length: vus }, async (_, vu) => {
        const client = clients[vu % clients.length]!;
        while (
          performance.now() < endAtMs &&
          !ctx.signal?.aborted &&
          sent < (scenario.maxRequests ?? Infinity)
        ) {
          const sentAtMs = performance.now();
          sent++;
          inFlight++;
          recorder.recordSent(0, 0);
          try {
            const task = await client.createTask(scenario.task.type, scenario.task.workMs);
            const now = performance.now();
            recorder.recordResponse(0, now, now - sentAtMs, now - sentAtMs, undefined);
            submitted.push({ id: task.id, client });
            // A submitter has one task in the system at a time: it waits for the outcome before
            // the next submission, so `vus` is the number of concurrent tasks, as in the guide.
            await waitForOutcome(client, task.id, ctx.signal);
          } catch (err) {
            const errorClass =
              err instanceof ApiResponseError
                ? err.status >= 500
                  ? 'http_5xx'
                  : 'http_4xx'
                : classifyError(err);
            recorder.recordFailure(0, performance.now(), errorClass);
          } finally {
            inFlight--;
          }
        }
      }),
    );
  } finally {
    clearInterval(ticker);
  }
  const loadEndMs = performance.now();
  recorder.finish(loadEndMs);

  const tasks = await drain(submitted, ctx.signal);
  const queueWait = LatencyHistogram.create();
  const completion = LatencyHistogram.create();
  let failed = 0;
  for (const t of tasks) {
    if (t.startedAtMs !== null) queueWait.recordUs((t.startedAtMs - t.enqueuedAtMs) * 1_000);
    if (t.status === 'completed' && t.completedAtMs !== null)
      completion.recordUs((t.completedAtMs - t.enqueuedAtMs) * 1_000);
    else failed++;
  }
  for (const c of clients) await c.close();
  return {
    ...resultHeader(scenario, { load: scenario.load, task: scenario.task }),
    target: ctx.apiUrl,
    engine: 'closed-model',
    durationMs: loadEndMs - startMs,
    steps: recorder.stepResults(),
    timeSeries: recorder.timeSeries,
    serverSamples: [],
    metrics: {
      queue_wait: { histogram: queueWait.encode() },
      task_completion: { histogram: completion.encode() },
      task_failures: { count: failed, rate: tasks.length ? failed / tasks.length : 0 },
      tasks: { count: tasks.length },
    },
  };
}

/** Polls one task until it is completed or failed, at most TASK_TIMEOUT_MS. */
async function waitForOutcome(client: ApiClient, id: number, signal?: AbortSignal): Promise<void> {
  const deadline = performance.now() + TASK_TIMEOUT_MS;
  while (performance.now() < deadline && !signal?.aborted) {
    const task = await client.getTask(id);
    if (task.status === 'completed' || task.status === 'failed') return;
    await sleep(POLL_INTERVAL_MS);
  }
}

/**
 * Reads every submitted task back until it is completed or failed, or until the drain timeout;
 * a task still queued or running then counts as not completed.
 */
async function drain(
  submitted: Array<{ id: number; client: ApiClient }>,
  signal?: AbortSignal,
): Promise<Task[]> {
  const done: Task[] = [];
  let pending = submitted;
  const deadline = performance.now() + DRAIN_TIMEOUT_MS;
  // A task is visible to the user who submitted it only: each is read with its submitter's client.
  const readAll = async (list: typeof submitted, keep: (task: Task) => boolean) => {
    const still: typeof submitted = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(POLL_CONCURRENCY, list.length) }, async () => {
        while (next < list.length) {
          const entry = list[next++]!;
          const task = await entry.client.getTask(entry.id);
          if (keep(task)) done.push(task);
          else still.push(entry);
        }
      }),
    );
    return still;
  };
  while (pending.length && performance.now() < deadline && !signal?.aborted) {
    pending = await readAll(pending, (t) => t.status === 'completed' || t.status === 'failed');
    if (pending.length) await sleep(250);
  }
  await readAll(pending, () => true);
  return done;
}
