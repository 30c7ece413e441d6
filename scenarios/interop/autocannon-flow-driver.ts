import autocannon from 'autocannon';
import { type RunResult, resultHeader } from '../../results/run-result.js';
import { classifyError, classifyStatus } from '../error-class.js';
import { type RunProgress, RunRecorder } from '../run-recorder.js';
import type { SetupUser } from '../scenario-setup.js';
import type { ExportPlan } from './export-plan.js';

export interface AutocannonFlowOptions {
  users: SetupUser[];
  /** Connections, each running the flow back to back; default the scenario's VUs, else 50. */
  connections?: number;
  signal?: AbortSignal;
  /** Once a second: rate, p95 so far, requests and errors. */
  onProgress?: (progress: RunProgress) => void;
}

/** A finished autocannon run: the RunResult and autocannon's own result object. */
export interface AutocannonFlowRun {
  result: RunResult;
  raw: autocannon.Result;
}

function fill(text: string, vars: Record<string, string>, encode: (v: string) => string = (v) => v): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => encode(vars[name] ?? ''));
}

function readPath(value: unknown, keys: readonly (string | number)[]): unknown {
  let current = value;
  for (const key of keys) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

/**
 * The closed-model maximum-throughput stress: autocannon's connections each run the scenario's
 * flow in order, as fast as answers come back, for the profile's duration (autocannon rounds it
 * to whole seconds). Each connection acts as setup user k mod n when it starts iteration k;
 * captures are taken from response bodies into the connection's context for later steps.
 *
 * Latency is recorded from autocannon's per-response `response` event (hrtime, µs precision) into
 * one HDR histogram per step; the step is the request whose `onResponse` autocannon called just
 * before that event. A closed loop has no intended send time, so latency and service time are the
 * same. Unlike headroom's engines, autocannon goes on to the next step after a failed one.
 */
export async function runAutocannonFlow(
  plan: ExportPlan,
  opts: AutocannonFlowOptions,
): Promise<AutocannonFlowRun> {
  const { scenario } = plan;
  const load = scenario.load;
  const connections = opts.connections ?? (load.model === 'closed' ? load.vus : 50);
  const recorder = new RunRecorder(
    plan.flow.map((s) => s.name),
    performance.now(),
    () => connections,
    opts.onProgress,
    true,
  );
  let iterations = 0;
  let answeredStep = 0;

  const requests = plan.flow.map((step, index) => {
    const headers: Record<string, string> = { ...step.headers };
    if (step.json !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
      headers['content-type'] = 'application/json';
    const body = step.json === undefined ? undefined : JSON.stringify(step.json);
    return {
      method: step.method,
      path: `${new URL(plan.target).pathname.replace(/\/+$/, '')}${step.path}`,
      setupRequest: (req: Record<string, unknown>, context: Record<string, unknown>) => {
        if (index === 0) {
          const user = opts.users[iterations++ % opts.users.length]!;
          context.vars = { email: user.email, password: user.password, token: user.token };
        }
        const vars = (context.vars ?? {}) as Record<string, string>;
        recorder.recordSent(index, 0);
        return {
          ...req,
          path: fill(req.path as string, vars, encodeURIComponent),
          headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, fill(v, vars)])),
          ...(body === undefined ? {} : { body: fill(body, vars, (v) => JSON.stringify(v).slice(1, -1)) }),
        };
      },
      onResponse: (status: number, responseBody: string, context: Record<string, unknown>) => {
        answeredStep = index;
        if (classifyStatus(status)) return;
        const captures = Object.entries(step.captureKeys);
        if (!captures.length) return;
        let data: unknown;
        try {
          data = JSON.parse(responseBody);
        } catch {
          data = undefined;
        }
        const vars = (context.vars ?? {}) as Record<string, string>;
        for (const [name, keys] of captures) {
          const value = readPath(data, keys);
          if (value !== undefined && value !== null)
            vars[name] = typeof value === 'string' ? value : JSON.stringify(value);
        }
        context.vars = vars;
      },
    };
  });

  let instance!: autocannon.Instance;
  const finished = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(
      {
        url: new URL(plan.target).origin,
        connections,
        duration: Math.max(1, Math.round(scenario.durationMs / 1_000)),
        ...(scenario.maxRequests ? { amount: scenario.maxRequests } : {}),
        timeout: 10,
        requests: requests as unknown as autocannon.Request[],
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
  instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
    recorder.recordResponse(
      answeredStep,
      performance.now(),
      responseTimeMs,
      responseTimeMs,
      classifyStatus(statusCode),
    );
  });
  instance.on('reqError', (err: unknown) => {
    // A failed request has no onResponse; it is the step after the last answered one.
    recorder.recordFailure((answeredStep + 1) % plan.flow.length, performance.now(), classifyError(err));
  });
  const onAbort = () => instance.stop();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let raw: autocannon.Result;
  try {
    raw = await finished;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  recorder.finish(performance.now());
  const result: RunResult = {
    ...resultHeader(scenario, {
      driver: 'autocannon',
      connections,
      flow: plan.flow,
      durationMs: scenario.durationMs,
    }),
    target: plan.target,
    engine: 'autocannon',
    durationMs: raw.duration * 1_000,
    steps: recorder.stepResults(),
    timeSeries: recorder.timeSeries,
    serverSamples: [],
  };
  return { result, raw };
}
