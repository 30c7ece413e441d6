import { randomUUID } from 'node:crypto';
import { openStore } from '../pipeline/store/open-store.js';
import type { NewWebsite, Store } from '../pipeline/store/store.js';
import { LatencyHistogram } from '../results/latency-histogram.js';
import { type RunResult, resultHeader } from '../results/run-result.js';
import { ArrivalSchedule } from './arrival-schedule.js';
import { classifyError } from './error-class.js';
import type { Scenario } from './load-scenario.js';
import { type RunProgress, RunRecorder } from './run-recorder.js';

const READS = ['get_upload', 'list_messages', 'get_task', 'find_user'] as const;
const WRITES = ['create_task', 'complete_task'] as const;
const STEPS = [...READS, ...WRITES];
/** Operations in flight at most; arrivals beyond it are dropped and counted, as in the HTTP engine. */
const MAX_IN_FLIGHT = 1_000;
/** Seeded tasks, so reads and completions have rows to hit from the first second. */
const SEED_TASKS = 1_000;

/**
 * The database scenario: operations of the pipeline's own store arrive on an open-model schedule,
 * 70 % reads and 30 % writes by default, through the store's pool. Latency counts from each
 * operation's intended start; pool efficiency is the share of time operations held a connection
 * rather than waited for one (1.0 for SQLite, which has one connection and no pool wait).
 */
export async function runDatabaseScenario(
  scenario: Scenario,
  ctx: { store: string; signal?: AbortSignal; onProgress?: (p: RunProgress) => void },
): Promise<RunResult> {
  if (scenario.load.model !== 'open') throw new Error('the database scenario takes an open load (phases)');
  const store = await openStore(ctx.store);
  try {
    const seed = await seedStore(store, scenario.database.rows);
    const schedule = new ArrivalSchedule(scenario.load.phases);
    const startMs = performance.now();
    let inFlight = 0;
    let dropped = 0;
    let k = 0;
    const recorder = new RunRecorder(STEPS, startMs, () => inFlight, ctx.onProgress);
    const waitBefore = store.acquireWaitMs ?? 0;
    let serviceTotalMs = 0;
    let random = 0x9e3779b9;
    const next = () => {
      // xorshift32: a cheap seeded choice of operation, the same sequence every run.
      random ^= random << 13;
      random ^= random >>> 17;
      random ^= random << 5;
      return (random >>> 0) / 2 ** 32;
    };
    const run = async (intendedAtMs: number) => {
      const isRead = next() < scenario.database.readRatio;
      const op = isRead
        ? READS[Math.floor(next() * READS.length)]!
        : WRITES[Math.floor(next() * WRITES.length)]!;
      const stepIndex = STEPS.indexOf(op);
      const sentAtMs = performance.now();
      recorder.recordSent(stepIndex, sentAtMs - intendedAtMs);
      inFlight++;
      try {
        await operation(store, seed, op, next);
        const now = performance.now();
        serviceTotalMs += now - sentAtMs;
        recorder.recordResponse(stepIndex, now, now - intendedAtMs, now - sentAtMs, undefined);
      } catch (err) {
        recorder.recordFailure(stepIndex, performance.now(), classifyError(err));
      } finally {
        inFlight--;
      }
    };
    const running = new Set<Promise<void>>();
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const now = performance.now() - startMs;
        recorder.rollSeconds(performance.now());
        while (schedule.atMs(k) <= now) {
          const intended = startMs + schedule.atMs(k++);
          if (inFlight >= MAX_IN_FLIGHT) {
            dropped++;
            continue;
          }
          const p = run(intended);
          running.add(p);
          void p.finally(() => running.delete(p));
        }
        if (k >= schedule.totalArrivals || ctx.signal?.aborted) {
          clearInterval(timer);
          resolve();
        }
      }, 1);
    });
    await Promise.all(running);
    const endMs = performance.now();
    recorder.finish(endMs);
    const waitMs = (store.acquireWaitMs ?? 0) - waitBefore;
    const steps = recorder.stepResults();
    const requests = steps.reduce((n, s) => n + s.requests, 0);
    const errors = steps.reduce((n, s) => n + Object.values(s.errors).reduce((a, b) => a + b, 0), 0);
    const durationMs = endMs - startMs;
    return {
      ...resultHeader(scenario, { load: scenario.load, db: scenario.database }),
      target: `${store.kind} store`,
      engine: 'open-model',
      durationMs,
      steps,
      timeSeries: recorder.timeSeries,
      schedule: {
        intended: k,
        sent: k - dropped,
        dropped,
        meanLagMs: recorder.meanLagMs,
        maxLagMs: recorder.maxLagMs,
        requestedRps: schedule.meanRateRps,
        achievedRps: (k - dropped) / (durationMs / 1000),
        scheduleError:
          Math.abs((k - dropped) / (durationMs / 1000) - schedule.meanRateRps) / schedule.meanRateRps,
      },
      serverSamples: [],
      metrics: {
        query: { histogram: mergedLatency(recorder) },
        query_errors: { count: errors, rate: requests ? errors / requests : 0 },
        pool_efficiency: { value: serviceTotalMs > 0 ? Math.max(0, 1 - waitMs / serviceTotalMs) : 1 },
        pool_wait_ms: { value: waitMs },
      },
    };
  } finally {
    await store.close();
  }
}

function mergedLatency(recorder: RunRecorder): string {
  const all = LatencyHistogram.create();
  for (let i = 0; i < STEPS.length; i++) all.merge(recorder.latencyOf(i));
  return all.encode();
}

interface Seed {
  userId: number;
  email: string;
  uploadId: number;
  taskIds: number[];
}

async function seedStore(store: Store, rows: number): Promise<Seed> {
  const email = `db-${randomUUID()}@headroom.test`;
  const user = await store.createUser(email, 'not-a-real-hash');
  const uploadId = await store.createUpload(user.id, 'database-scenario.csv');
  for (let start = 0; start < rows; start += 1_000) {
    const batch: NewWebsite[] = [];
    for (let i = start; i < Math.min(rows, start + 1_000); i++) {
      batch.push({
        lineNumber: i + 2,
        url: `https://site-${i}.example/`,
        company: `Company ${i}`,
        name: null,
        email: null,
        notes: null,
      });
    }
    await store.insertWebsites(uploadId, batch);
  }
  await store.finishIngest(uploadId, { rows, accepted: rows, rejected: 0, rejections: [] });
  const taskIds: number[] = [];
  for (let i = 0; i < SEED_TASKS; i++)
    taskIds.push((await store.createTask(user.id, 'sleep', { workMs: 0 })).id);
  return { userId: user.id, email, uploadId, taskIds };
}

async function operation(
  store: Store,
  seed: Seed,
  op: (typeof STEPS)[number],
  random: () => number,
): Promise<void> {
  const someTask = () => seed.taskIds[Math.floor(random() * seed.taskIds.length)]!;
  switch (op) {
    case 'get_upload':
      await store.getUpload(seed.uploadId);
      return;
    case 'list_messages':
      await store.listMessages(seed.uploadId, { limit: 50 });
      return;
    case 'get_task':
      await store.getTask(someTask());
      return;
    case 'find_user':
      await store.findUserByEmail(seed.email);
      return;
    case 'create_task':
      seed.taskIds.push((await store.createTask(seed.userId, 'sleep', { workMs: 0 })).id);
      return;
    case 'complete_task': {
      const id = someTask();
      await store.markTaskStarted(id, 1);
      await store.completeTask(id, { ok: true });
      return;
    }
  }
}
