import { randomUUID } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { PipelineSample } from '../analyzer/pipeline-sample.js';
import { RemoteTargetRefusedError } from '../errors.js';
import type { SimulatorsOptions } from '../pipeline/sim/simulator-process.js';
import type { RunResult } from '../results/run-result.js';
import type { ServerSample } from '../results/server-sample.js';
import type { ThresholdOutcome } from '../results/threshold-outcome.js';
import { runClosedModel } from './closed-model-engine.js';
import { runDatabaseScenario } from './database-runner.js';
import { type EmbeddedTarget, startEmbeddedTarget } from './embedded-target.js';
import { heapTrend, startHeapSampler } from './heap-sampler.js';
import type { Scenario } from './load-scenario.js';
import { runOpenModel } from './open-model-engine.js';
import type { SamplerProgress } from './pipeline-sampler.js';
import { runPipelineScenario } from './pipeline-scenario.js';
import { startProcessTreeSampler } from './process-tree-sampler.js';
import { runMetrics } from './run-metrics.js';
import type { RunProgress } from './run-recorder.js';
import { type SetupUser, setupUsers } from './scenario-setup.js';
import { startServerSampler } from './server-sampler.js';
import { evaluateThresholds } from './threshold.js';
import { runWorkerScenario } from './worker-runner.js';

export interface RunScenarioOptions {
  /** Base URL of the API under test (…/api/v1); default: the reference pipeline, started for the run. */
  target?: string;
  /** Load may go to a non-loopback target only with this set. */
  allowRemote?: boolean;
  /** Store URL for the database scenario; default a temporary SQLite file of the embedded target's kind. */
  store?: string;
  /** Extra `headroom pipeline start` flags for the embedded target, e.g. ['--inject-leak', '65536']. */
  targetArgs?: string[];
  signal?: AbortSignal;
  onProgress?: (progress: RunProgress & { phase: string }) => void;
  /** Each reading of the target's /metrics as it is taken (a live view's server charts). */
  onServerSample?: (sample: ServerSample) => void;
  /** The simulated world of the pipeline scenario (site latency, LLM speed and rate limits…). */
  simulators?: SimulatorsOptions;
  /** Progress of the pipeline scenario's sampler, window by window. */
  onSample?: (progress: SamplerProgress) => void;
  /** Register setup users through the reference pipeline's auth API first (default true; false for a team's own service). */
  setupUsers?: boolean;
  /** Root pid of the target's process tree: its CPU and RSS are sampled from /proc (any language). */
  processRoot?: number;
  /** The target's Prometheus endpoint; default `${target}/metrics`, null for none. */
  metricsUrl?: string | null;
}

/** A finished run: its result file, the thresholds' outcomes, and the verdict. */
export interface ScenarioRun {
  result: RunResult;
  thresholds: ThresholdOutcome[];
  passed: boolean;
  /** The pipeline scenario's sample (what the capacity model reads). */
  sample?: PipelineSample;
}

const LOOPBACK_NAMES = new Set(['localhost', 'localhost.']);

/** Refuses a non-loopback target unless allowed: load must never reach a host by accident. */
export async function assertTargetAllowed(target: string, allowRemote = false): Promise<void> {
  if (allowRemote) return;
  const host = new URL(target).hostname.replace(/^\[|\]$/g, '');
  if (LOOPBACK_NAMES.has(host)) return;
  const addresses = isIP(host)
    ? [host]
    : (await lookup(host, { all: true }).catch(() => [])).map((a) => a.address);
  const loopback = (a: string) => a === '::1' || a.startsWith('127.') || a.startsWith('::ffff:127.');
  if (addresses.length === 0 || !addresses.every(loopback)) throw new RemoteTargetRefusedError(target);
}

/**
 * Runs one scenario: starts the reference pipeline unless a target is given, registers the setup
 * users, drives the load, samples the target's /metrics every second, and checks the thresholds.
 * Every run is bounded by its profile's duration (and `maxRequests`, when set).
 */
export async function runScenario(scenario: Scenario, opts: RunScenarioOptions = {}): Promise<ScenarioRun> {
  const progress = (phase: string) => (p: RunProgress) => opts.onProgress?.({ ...p, phase });
  if (scenario.type === 'pipeline') return runPipelineScenario(scenario, opts);
  if (scenario.type === 'database') {
    const result = await runDatabaseScenario(scenario, {
      store: opts.store ?? 'sqlite::memory:',
      signal: opts.signal,
      onProgress: progress('load'),
    });
    return verdict(scenario, result);
  }

  let embedded: EmbeddedTarget | undefined;
  let apiUrl = opts.target?.replace(/\/$/, '');
  if (apiUrl) await assertTargetAllowed(apiUrl, opts.allowRemote);
  else {
    const args = [...(scenario.type === 'memory-leak' ? ['--admin'] : []), ...(opts.targetArgs ?? [])];
    embedded = await startEmbeddedTarget({ args });
    apiUrl = embedded.apiUrl;
  }
  try {
    opts.onProgress?.({
      phase: 'setup',
      elapsedMs: 0,
      rateRps: 0,
      p95Ms: 0,
      requests: 0,
      errors: 0,
      inFlight: 0,
    });
    const users =
      opts.setupUsers === false
        ? []
        : await setupUsers(apiUrl, Math.max(1, scenario.setup.users), randomUUID().slice(0, 8));
    const metricsUrl = opts.metricsUrl === undefined ? `${apiUrl}/metrics` : opts.metricsUrl;
    const sampler = metricsUrl
      ? startServerSampler(metricsUrl, { signal: opts.signal, onSample: opts.onServerSample })
      : undefined;
    const treeSampler =
      opts.processRoot !== undefined ? startProcessTreeSampler(opts.processRoot) : undefined;
    let result: RunResult;
    try {
      if (scenario.type === 'worker') {
        result = await runWorkerScenario(scenario, {
          apiUrl,
          users,
          signal: opts.signal,
          onProgress: progress('load'),
        });
      } else if (scenario.type === 'memory-leak') {
        const heap = startHeapSampler(apiUrl, scenario.leak.sampleEveryS * 1000);
        try {
          result = await runHttp(scenario, apiUrl, users, opts, progress('load'));
        } finally {
          const trend = heapTrend(await heap.stop(), scenario.leak.warmupS, scenario.leak.maxSlopeMbPerHour);
          result!.heapTrend = trend;
          result!.metrics = {
            ...result!.metrics,
            heap_slope_mb_per_hour: {
              value: trend.slopeMbPerHour,
              min: trend.slopeLowMbPerHour,
              max: trend.slopeHighMbPerHour,
            },
          };
        }
      } else {
        result = await runHttp(scenario, apiUrl, users, opts, progress('load'));
      }
    } finally {
      const samples = (await sampler?.stop()) ?? [];
      const tree = await treeSampler?.stop();
      if (result!) {
        result.serverSamples = samples as unknown as RunResult['serverSamples'];
        if (tree) result.processSamples = tree;
      }
    }
    return verdict(scenario, result);
  } finally {
    await embedded?.close();
  }
}

function runHttp(
  scenario: Scenario,
  apiUrl: string,
  users: SetupUser[],
  opts: RunScenarioOptions,
  onProgress: (p: RunProgress) => void,
): Promise<RunResult> {
  const common = {
    target: apiUrl,
    flow: scenario.flow,
    signal: opts.signal,
    onProgress,
    maxRequests: scenario.maxRequests,
    scenario: { name: scenario.name, profile: scenario.profile },
    // Iteration k acts as setup user k mod n: ${email}, ${password}, ${token}.
    varNames: ['email', 'password', 'token'],
    varsFor: (k: number): Record<string, string> => {
      const u = users[k % users.length];
      return u ? { email: u.email, password: u.password, token: u.token } : {};
    },
  };
  const load = scenario.load;
  if (load.model === 'open')
    return runOpenModel({ ...common, phases: load.phases, maxInFlight: load.maxInFlight });
  return runClosedModel({ ...common, vus: load.vus, durationMs: load.durationMs });
}

function verdict(scenario: Scenario, result: RunResult): ScenarioRun {
  const thresholds = evaluateThresholds(scenario.thresholds, runMetrics(result));
  return { result, thresholds, passed: thresholds.every((t) => t.passed) };
}
