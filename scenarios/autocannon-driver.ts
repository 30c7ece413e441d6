import autocannon from 'autocannon';
import { build } from 'hdr-histogram-js';
import { type RunResult, resultHeader } from '../results/run-result.js';
import { classifyError, classifyStatus } from './error-class.js';
import { type RunProgress, RunRecorder } from './run-recorder.js';

/** Options of a closed-model stress run with autocannon. */
export interface AutocannonOptions {
  /** Base URL; `path` is appended to its path. */
  target: string;
  path?: string;
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  headers?: Record<string, string>;
  body?: string;
  /** Concurrent connections (autocannon `-c`); default 50. */
  connections?: number;
  /** Run length (autocannon `-d`, rounded to whole seconds as autocannon does not take less); default 10 s. */
  durationMs?: number;
  /** Stop after this many requests instead of after a duration (autocannon `-a`). */
  amount?: number;
  /** Cap the total rate (autocannon `-R`); the run stays closed-loop within each connection. */
  overallRateRps?: number;
  /** Turn off autocannon's own coordinated-omission correction in rate mode (autocannon `-C`). */
  ignoreCoordinatedOmission?: boolean;
  /** Per-request timeout; default 10 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
  scenario?: { name: string; profile?: 'quick' | 'full' };
  /** Once a second: rate, p95 so far, requests and errors. */
  onProgress?: (progress: RunProgress) => void;
}

/** Percentiles as autocannon itself computes them (whole milliseconds, its own correction in rate mode). */
export interface AutocannonReport {
  /** Responses autocannon counted. */
  requests: number;
  /** Requests autocannon sent. */
  sent: number;
  durationSec: number;
  /** Responses per second over the whole run. */
  rps: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
}

/** A converted autocannon run: the RunResult, and autocannon's own view of it. */
export interface AutocannonRun {
  result: RunResult;
  reported: AutocannonReport;
  raw: autocannon.Result;
}

/**
 * Runs autocannon (library API) and converts its result into a RunResult.
 *
 * The RunResult's histogram is built from autocannon's per-response `response` event, whose
 * response time is a float from `process.hrtime` (microsecond precision); autocannon's own
 * histogram keeps whole milliseconds, which would turn a 0.3 ms endpoint into 0 or 1 ms. In a
 * closed loop there is no intended send time, so latency and service time are the same values.
 *
 * autocannon reports no p95, so its own histogram is handed to it (its `histograms` option,
 * which its worker mode uses) and read afterwards: `reported` is what autocannon itself would
 * say, including the rate-mode correction whose expected interval rounds to 1 ms.
 */
export async function runAutocannon(options: AutocannonOptions): Promise<AutocannonRun> {
  // Relative to the target's path: a leading / would replace it.
  const url = new URL((options.path ?? '/').replace(/^\/+/, ''), ensureSlash(options.target)).href;
  const connections = options.connections ?? 50;
  const own = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
  });
  const stepName = `${options.method ?? 'GET'} ${options.path ?? '/'}`;
  const recorder = new RunRecorder(
    [stepName],
    performance.now(),
    () => connections,
    options.onProgress,
    true,
  );

  let instance!: autocannon.Instance;
  const finished = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(
      {
        url,
        method: options.method ?? 'GET',
        headers: options.headers,
        body: options.body,
        connections,
        duration: Math.max(1, Math.round((options.durationMs ?? 10_000) / 1_000)),
        ...(options.amount ? { amount: options.amount } : {}),
        ...(options.overallRateRps ? { overallRate: options.overallRateRps } : {}),
        ...(options.ignoreCoordinatedOmission ? { ignoreCoordinatedOmission: true } : {}),
        timeout: Math.max(1, Math.round((options.timeoutMs ?? 10_000) / 1_000)),
        // Not in autocannon's typings; see the function's comment.
        ...({ histograms: { latencies: own } } as object),
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
  // Each answer or failure is one request: in a closed loop it went out when its connection was free.
  instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
    recorder.recordSent(0, 0);
    recorder.recordResponse(0, performance.now(), responseTimeMs, responseTimeMs, classifyStatus(statusCode));
  });
  instance.on('reqError', (err: unknown) => {
    recorder.recordSent(0, 0);
    recorder.recordFailure(0, performance.now(), classifyError(err));
  });
  const onAbort = () => instance.stop();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let raw: autocannon.Result;
  try {
    raw = await finished;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  recorder.finish(performance.now());
  const step = recorder.stepResults()[0]!;
  // Requests still unanswered when autocannon stopped were sent too.
  step.requests = raw.requests.sent;
  const errors = step.errors;
  // autocannon's timeout error carries no code; its own timeout count is exact, so the
  // timeouts classified as "other" above are moved to their class.
  if (raw.timeouts > 0) {
    errors.timeout = (errors.timeout ?? 0) + raw.timeouts;
    errors.other = (errors.other ?? 0) - raw.timeouts;
    if (errors.other <= 0) delete errors.other;
  }
  const result: RunResult = {
    ...resultHeader(
      { name: options.scenario?.name ?? 'ad-hoc', profile: options.scenario?.profile ?? 'quick' },
      {
        engine: 'autocannon',
        url,
        method: options.method ?? 'GET',
        headers: options.headers,
        body: options.body,
        connections,
        durationMs: options.durationMs,
        amount: options.amount,
        overallRateRps: options.overallRateRps,
        ignoreCoordinatedOmission: options.ignoreCoordinatedOmission,
      },
    ),
    target: options.target,
    engine: 'autocannon',
    durationMs: raw.duration * 1_000,
    steps: [step],
    timeSeries: recorder.timeSeries,
    serverSamples: [],
  };
  const reported: AutocannonReport = {
    requests: raw.requests.total,
    sent: raw.requests.sent,
    durationSec: raw.duration,
    rps: raw.duration > 0 ? raw.requests.total / raw.duration : 0,
    p50Ms: own.totalCount > 0 ? own.getValueAtPercentile(50) : raw.latency.p50,
    p95Ms: own.totalCount > 0 ? own.getValueAtPercentile(95) : Number.NaN,
    p99Ms: own.totalCount > 0 ? own.getValueAtPercentile(99) : raw.latency.p99,
  };
  return { result, reported, raw };
}

function ensureSlash(target: string): string {
  return target.endsWith('/') ? target : `${target}/`;
}
