import { PrometheusUnreachableError, TelemetryQueryFailedError } from '../errors.js';

/** One series of an instant query: its labels and its value at the query's time. */
export interface InstantSample {
  metric: Record<string, string>;
  value: number;
}

/** One series of a range query: its labels and its [unix seconds, value] points. */
export interface RangeSeries {
  metric: Record<string, string>;
  values: Array<[number, number]>;
}

/** What a query was asked and what Prometheus answered, kept so a test can replay it. */
export interface RecordedQuery {
  path: string;
  params: Record<string, string>;
  body: unknown;
}

/** The part of Prometheus's HTTP API capacity reads: instant and range queries, and metric names. */
export interface PrometheusReader {
  readonly url: string;
  query(expr: string, timeS?: number): Promise<InstantSample[]>;
  queryRange(expr: string, startS: number, endS: number, stepS: number): Promise<RangeSeries[]>;
  metricNames(): Promise<Set<string>>;
}

/** How a request reaches Prometheus: over HTTP, or from recorded answers. */
export type PrometheusTransport = (
  path: string,
  params: Record<string, string>,
) => Promise<{ status: number; body: unknown; text: string }>;

/**
 * Prometheus's HTTP API (`/api/v1/query`, `/api/v1/query_range`, `/api/v1/label/__name__/values`).
 * Values come as strings in its JSON ("NaN", "+Inf" too) and are parsed here; a scalar result is
 * one sample without labels. `onAnswer` sees every answer, which is how fixtures are recorded;
 * `recordedTransport` replays them, through the same parsing.
 */
export class PrometheusApi implements PrometheusReader {
  readonly url: string;
  private readonly transport: PrometheusTransport;
  constructor(
    url: string,
    private readonly opts: {
      timeoutMs?: number;
      onAnswer?: (q: RecordedQuery) => void;
      transport?: PrometheusTransport;
    } = {},
  ) {
    this.url = url.replace(/\/+$/, '');
    this.transport = opts.transport ?? ((path, params) => this.fetch(path, params));
  }

  async query(expr: string, timeS?: number): Promise<InstantSample[]> {
    const params: Record<string, string> = { query: expr };
    if (timeS !== undefined) params.time = String(timeS);
    const data = (await this.get('/api/v1/query', params, expr)) as {
      resultType: string;
      result: unknown;
    };
    if (data.resultType === 'scalar') {
      const [, v] = data.result as [number, string];
      return [{ metric: {}, value: Number(v) }];
    }
    if (data.resultType !== 'vector')
      throw new TelemetryQueryFailedError(
        expr,
        `it gave a ${data.resultType}; an instant vector was expected`,
      );
    return (data.result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((s) => ({
      metric: s.metric,
      value: Number(s.value[1]),
    }));
  }

  async queryRange(expr: string, startS: number, endS: number, stepS: number): Promise<RangeSeries[]> {
    const data = (await this.get(
      '/api/v1/query_range',
      { query: expr, start: String(startS), end: String(endS), step: String(stepS) },
      expr,
    )) as { result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> };
    return data.result.map((s) => ({
      metric: s.metric,
      values: s.values.map(([t, v]) => [t, Number(v)] as [number, number]),
    }));
  }

  async metricNames(): Promise<Set<string>> {
    return new Set((await this.get('/api/v1/label/__name__/values', {}, '(metric names)')) as string[]);
  }

  private async fetch(path: string, params: Record<string, string>) {
    const target = `${this.url}${path}?${new URLSearchParams(params)}`;
    let response: Response;
    try {
      response = await fetch(target, { signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new PrometheusUnreachableError(this.url, String(cause), { cause: err });
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new PrometheusUnreachableError(
        this.url,
        `${path} answered ${response.status} with something that is not Prometheus's JSON (${text.slice(0, 80)})`,
      );
    }
    return { status: response.status, body, text };
  }

  private async get(path: string, params: Record<string, string>, expr: string): Promise<unknown> {
    const { status, body: raw, text } = await this.transport(path, params);
    const body = raw as { status?: string; data?: unknown; error?: string; errorType?: string };
    this.opts.onAnswer?.({ path, params, body });
    if (body.status !== 'success') {
      if (status === 400 || status === 422)
        throw new TelemetryQueryFailedError(expr, `${body.errorType ?? 'error'}: ${body.error ?? text}`);
      throw new PrometheusUnreachableError(this.url, `${path} answered ${status} (${body.error ?? text})`);
    }
    return body.data;
  }
}

/**
 * Answers from recorded answers (fixtures made by a real Prometheus), matched by path and
 * parameters: the model step tested on real responses without a server.
 */
export function recordedTransport(recorded: readonly RecordedQuery[]): PrometheusTransport {
  const key = (path: string, params: Record<string, string>) =>
    `${path}?${new URLSearchParams(Object.entries(params).sort(([a], [b]) => a.localeCompare(b)))}`;
  const answers = new Map(recorded.map((q) => [key(q.path, q.params), q.body]));
  return async (path, params) => {
    const body = answers.get(key(path, params));
    if (body === undefined) throw new Error(`no recorded answer for ${path} ${JSON.stringify(params)}`);
    const ok = (body as { status?: string }).status === 'success';
    return { status: ok ? 200 : 400, body, text: JSON.stringify(body) };
  };
}
